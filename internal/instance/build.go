package instance

import (
	"sort"
	"strings"
)

// buildTree returns the instance's tree at NewestVersion: every field present, overrides
// not applied. Older versions are pruned from it.
func (in *Instance) buildTree(t *interner) *Node {
	return t.object(Fields{
		"compute": in.buildCompute(t),
		"network": buildNetwork(t, &in.Network),
	})
}

func (in *Instance) buildCompute(t *interner) *Node {
	c := &in.Compute
	return t.object(Fields{
		"additionalCapabilities": t.object(Fields{
			"hibernationEnabled": t.leaf(c.AdditionalCapabilities.HibernationEnabled),
		}),
		"azEnvironment":  t.leaf(c.AzEnvironment),
		"customData":     t.leaf(""),
		"evictionPolicy": t.leaf(c.EvictionPolicy),
		"extendedLocation": t.object(Fields{
			"name": t.leaf(c.ExtendedLocation.Name),
			"type": t.leaf(c.ExtendedLocation.Type),
		}),
		"host":                       refNode(t, c.Host),
		"hostGroup":                  refNode(t, c.HostGroup),
		"interconnectGroupId":        t.optional(c.InterconnectGroupID),
		"interconnectSubgroupId":     t.optional(c.InterconnectSubgroupID),
		"isHostCompatibilityLayerVm": t.leaf(c.IsHostCompatibilityLayerVM),
		"isVmInStandbyPool":          t.optional(c.IsVMInStandbyPool),
		"licenseType":                t.leaf(c.LicenseType),
		"location":                   t.leaf(c.Location),
		"name":                       t.leaf(in.Name),
		"offer":                      t.leaf(c.Offer),
		"osProfile": t.object(Fields{
			"adminUsername":                 t.leaf(c.OSProfile.AdminUsername),
			"computerName":                  t.leaf(c.OSProfile.ComputerName),
			"disablePasswordAuthentication": t.leaf(c.OSProfile.DisablePasswordAuthentication),
		}),
		"osType":           t.leaf(c.OSType),
		"physicalZone":     t.leaf(c.PhysicalZone),
		"placementGroupId": t.leaf(c.PlacementGroupID),
		"plan": t.object(Fields{
			"name":      t.leaf(c.Plan.Name),
			"product":   t.leaf(c.Plan.Product),
			"publisher": t.leaf(c.Plan.Publisher),
		}),
		"platformFaultDomain":    t.leaf(c.PlatformFaultDomain),
		"platformSubFaultDomain": t.leaf(c.PlatformSubFaultDomain),
		"platformUpdateDomain":   t.leaf(c.PlatformUpdateDomain),
		"priority":               t.leaf(c.Priority),
		"provider":               t.leaf(c.Provider),
		"publicKeys":             publicKeysNode(t, c.PublicKeys),
		"publisher":              t.leaf(c.Publisher),
		"resourceGroupName":      t.leaf(c.ResourceGroupName),
		"resourceId":             t.leaf(c.ResourceID),
		"securityProfile": t.object(Fields{
			"encryptionAtHost":  t.leaf(c.SecurityProfile.EncryptionAtHost),
			"secureBootEnabled": t.leaf(c.SecurityProfile.SecureBootEnabled),
			"securityType":      t.leaf(c.SecurityProfile.SecurityType),
			"virtualTpmEnabled": t.leaf(c.SecurityProfile.VirtualTPMEnabled),
		}),
		"sku":                    t.leaf(c.SKU),
		"storageProfile":         storageNode(t, &c.StorageProfile),
		"subscriptionId":         t.leaf(c.SubscriptionID),
		"systemFaultDomain":      t.optional(c.SystemFaultDomain),
		"tags":                   t.leaf(tagsString(c.Tags)),
		"tagsList":               tagsListNode(t, c.Tags),
		"userData":               t.leaf(c.UserData),
		"version":                t.leaf(c.Version),
		"virtualMachineScaleSet": refNode(t, c.VirtualMachineScaleSet),
		"vmId":                   t.leaf(c.VMID),
		"vmScaleSetName":         t.leaf(c.VMScaleSetName),
		"vmSize":                 t.leaf(c.VMSize),
		"zone":                   t.leaf(c.Zone),
	})
}

func refNode(t *interner, r ResourceRef) *Node { return t.object(Fields{"id": t.leaf(r.ID)}) }

func uriNode(t *interner, v VirtualHardDisk) *Node { return t.object(Fields{"uri": t.leaf(v.URI)}) }

func managedDiskNode(t *interner, m ManagedDisk) *Node {
	return t.object(Fields{"id": t.leaf(m.ID), "storageAccountType": t.leaf(m.StorageAccountType)})
}

func publicKeysNode(t *interner, keys []PublicKey) *Node {
	elems := make([]*Node, len(keys))
	for i, k := range keys {
		elems[i] = t.object(Fields{"keyData": t.leaf(k.KeyData), "path": t.leaf(k.Path)})
	}
	return t.array(elems)
}

// sortedTagNames returns the tag names in byte order, the order of every documentation
// sample (reference §4.2.6).
func sortedTagNames(tags map[string]string) []string {
	names := make([]string, 0, len(tags))
	for k := range tags {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// tagsString renders tags as Azure's "name:value;name:value" string.
func tagsString(tags map[string]string) string {
	var b strings.Builder
	for i, k := range sortedTagNames(tags) {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(k)
		b.WriteByte(':')
		b.WriteString(tags[k])
	}
	return b.String()
}

func tagsListNode(t *interner, tags map[string]string) *Node {
	names := sortedTagNames(tags)
	elems := make([]*Node, len(names))
	for i, k := range names {
		elems[i] = t.object(Fields{"name": t.leaf(k), "value": t.leaf(tags[k])})
	}
	return t.array(elems)
}

func storageNode(t *interner, s *StorageProfile) *Node {
	disks := make([]*Node, len(s.DataDisks))
	for i := range s.DataDisks {
		d := &s.DataDisks[i]
		disks[i] = t.object(Fields{
			"bytesPerSecondThrottle":  t.leaf(d.BytesPerSecondThrottle),
			"caching":                 t.leaf(d.Caching),
			"createOption":            t.leaf(d.CreateOption),
			"diskCapacityBytes":       t.leaf(d.DiskCapacityBytes),
			"diskSizeGB":              t.leaf(d.DiskSizeGB),
			"image":                   uriNode(t, d.Image),
			"isSharedDisk":            t.leaf(d.IsSharedDisk),
			"isUltraDisk":             t.leaf(d.IsUltraDisk),
			"lun":                     t.leaf(d.LUN),
			"managedDisk":             managedDiskNode(t, d.ManagedDisk),
			"name":                    t.leaf(d.Name),
			"opsPerSecondThrottle":    t.leaf(d.OpsPerSecondThrottle),
			"vhd":                     uriNode(t, d.Vhd),
			"writeAcceleratorEnabled": t.leaf(d.WriteAcceleratorEnabled),
		})
	}
	img := &s.ImageReference
	osd := &s.OSDisk
	return t.object(Fields{
		"dataDisks": t.array(disks),
		"imageReference": t.object(Fields{
			"communityGalleryImageId": t.leaf(img.CommunityGalleryImageID),
			"exactVersion":            t.leaf(img.ExactVersion),
			"id":                      t.leaf(img.ID),
			"offer":                   t.leaf(img.Offer),
			"publisher":               t.leaf(img.Publisher),
			"sharedGalleryImageId":    t.leaf(img.SharedGalleryImageID),
			"sku":                     t.leaf(img.SKU),
			"version":                 t.leaf(img.Version),
		}),
		"osDisk": t.object(Fields{
			"caching":      t.leaf(osd.Caching),
			"createOption": t.leaf(osd.CreateOption),
			"diffDiskSettings": t.object(Fields{
				"enableFullCaching": t.optional(osd.DiffDiskSettings.EnableFullCaching),
				"option":            t.leaf(osd.DiffDiskSettings.Option),
				"placement":         t.optional(osd.DiffDiskSettings.Placement),
			}),
			"diskSizeGB":              t.leaf(osd.DiskSizeGB),
			"encryptionSettings":      encryptionNode(t, &osd.EncryptionSettings),
			"image":                   uriNode(t, osd.Image),
			"managedDisk":             managedDiskNode(t, osd.ManagedDisk),
			"name":                    t.leaf(osd.Name),
			"osType":                  t.leaf(osd.OSType),
			"vhd":                     uriNode(t, osd.Vhd),
			"writeAcceleratorEnabled": t.leaf(osd.WriteAcceleratorEnabled),
		}),
		"resourceDisk": t.object(Fields{"size": t.leaf(s.ResourceDisk.Size)}),
	})
}

// encryptionNode serves the Azure Disk Encryption key references only when one is set:
// the documentation's full sample, of a VM without disk encryption, has neither.
func encryptionNode(t *interner, e *EncryptionSettings) *Node {
	f := Fields{"enabled": t.leaf(e.Enabled)}
	if k := e.DiskEncryptionKey; k != (DiskEncryptionKey{}) {
		f["diskEncryptionKey"] = t.object(Fields{"secretUrl": t.leaf(k.SecretURL), "sourceVault": refNode(t, k.SourceVault)})
	}
	if k := e.KeyEncryptionKey; k != (KeyEncryptionKey{}) {
		f["keyEncryptionKey"] = t.object(Fields{"keyUrl": t.leaf(k.KeyURL), "sourceVault": refNode(t, k.SourceVault)})
	}
	return t.object(f)
}

func buildNetwork(t *interner, n *Network) *Node {
	nics := make([]*Node, len(n.Interface))
	for i := range n.Interface {
		nic := &n.Interface[i]
		v4 := make([]*Node, len(nic.IPv4.IPAddress))
		for j, a := range nic.IPv4.IPAddress {
			v4[j] = t.object(Fields{"privateIpAddress": t.leaf(a.PrivateIPAddress), "publicIpAddress": t.leaf(a.PublicIPAddress)})
		}
		v6 := make([]*Node, len(nic.IPv6.IPAddress))
		for j, a := range nic.IPv6.IPAddress {
			v6[j] = t.object(Fields{"privateIpAddress": t.leaf(a.PrivateIPAddress)})
		}
		nics[i] = t.object(Fields{
			"interfaceCompartmentId":      t.optional(nic.InterfaceCompartmentID),
			"interfaceCompartmentVersion": t.optional(nic.InterfaceCompartmentVersion),
			"ipv4": t.object(Fields{
				"ipAddress":      t.array(v4),
				"ipAddressBlock": optionalSubnets(t, nic.IPv4.IPAddressBlock),
				"subnet":         subnetsNode(t, nic.IPv4.Subnet),
			}),
			"ipv6": t.object(Fields{
				"ipAddress":      t.array(v6),
				"ipAddressBlock": optionalSubnets(t, nic.IPv6.IPAddressBlock),
				"subnet":         optionalSubnets(t, nic.IPv6.Subnet),
			}),
			"macAddress": t.leaf(nic.MacAddress),
		})
	}
	return t.object(Fields{"interface": t.array(nics)})
}

func subnetsNode(t *interner, subnets []Subnet) *Node {
	elems := make([]*Node, len(subnets))
	for i, s := range subnets {
		elems[i] = t.object(Fields{"address": t.leaf(s.Address), "prefix": t.leaf(s.Prefix)})
	}
	return t.array(elems)
}

// optionalSubnets is subnetsNode for the undocumented lists, served only when configured.
func optionalSubnets(t *interner, subnets []Subnet) *Node {
	if len(subnets) == 0 {
		return nil
	}
	return subnetsNode(t, subnets)
}

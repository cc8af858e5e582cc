package instance

import (
	"sort"
	"strings"
)

// optional returns a leaf for a field served only when configured, or nil (which Object
// drops) when s is empty.
func optional(s string) *Node {
	if s == "" {
		return nil
	}
	return leaf(s)
}

// buildTree returns the instance's tree at NewestVersion: every field present, overrides
// not applied. Older versions are pruned from it.
func (in *Instance) buildTree() *Node {
	return object(Fields{
		"compute": in.buildCompute(),
		"network": buildNetwork(&in.Network),
	})
}

func (in *Instance) buildCompute() *Node {
	c := &in.Compute
	return object(Fields{
		"additionalCapabilities": object(Fields{
			"hibernationEnabled": leaf(c.AdditionalCapabilities.HibernationEnabled),
		}),
		"azEnvironment":  leaf(c.AzEnvironment),
		"customData":     leaf(""),
		"evictionPolicy": leaf(c.EvictionPolicy),
		"extendedLocation": object(Fields{
			"name": leaf(c.ExtendedLocation.Name),
			"type": leaf(c.ExtendedLocation.Type),
		}),
		"host":                       refNode(c.Host),
		"hostGroup":                  refNode(c.HostGroup),
		"interconnectGroupId":        optional(c.InterconnectGroupID),
		"interconnectSubgroupId":     optional(c.InterconnectSubgroupID),
		"isHostCompatibilityLayerVm": leaf(c.IsHostCompatibilityLayerVM),
		"isVmInStandbyPool":          optional(c.IsVMInStandbyPool),
		"licenseType":                leaf(c.LicenseType),
		"location":                   leaf(c.Location),
		"name":                       leaf(in.Name),
		"offer":                      leaf(c.Offer),
		"osProfile": object(Fields{
			"adminUsername":                 leaf(c.OSProfile.AdminUsername),
			"computerName":                  leaf(c.OSProfile.ComputerName),
			"disablePasswordAuthentication": leaf(c.OSProfile.DisablePasswordAuthentication),
		}),
		"osType":           leaf(c.OSType),
		"physicalZone":     leaf(c.PhysicalZone),
		"placementGroupId": leaf(c.PlacementGroupID),
		"plan": object(Fields{
			"name":      leaf(c.Plan.Name),
			"product":   leaf(c.Plan.Product),
			"publisher": leaf(c.Plan.Publisher),
		}),
		"platformFaultDomain":    leaf(c.PlatformFaultDomain),
		"platformSubFaultDomain": leaf(c.PlatformSubFaultDomain),
		"platformUpdateDomain":   leaf(c.PlatformUpdateDomain),
		"priority":               leaf(c.Priority),
		"provider":               leaf(c.Provider),
		"publicKeys":             publicKeysNode(c.PublicKeys),
		"publisher":              leaf(c.Publisher),
		"resourceGroupName":      leaf(c.ResourceGroupName),
		"resourceId":             leaf(c.ResourceID),
		"securityProfile": object(Fields{
			"encryptionAtHost":  leaf(c.SecurityProfile.EncryptionAtHost),
			"secureBootEnabled": leaf(c.SecurityProfile.SecureBootEnabled),
			"securityType":      leaf(c.SecurityProfile.SecurityType),
			"virtualTpmEnabled": leaf(c.SecurityProfile.VirtualTPMEnabled),
		}),
		"sku":                    leaf(c.SKU),
		"storageProfile":         storageNode(&c.StorageProfile),
		"subscriptionId":         leaf(c.SubscriptionID),
		"systemFaultDomain":      optional(c.SystemFaultDomain),
		"tags":                   leaf(tagsString(c.Tags)),
		"tagsList":               tagsListNode(c.Tags),
		"userData":               leaf(c.UserData),
		"version":                leaf(c.Version),
		"virtualMachineScaleSet": refNode(c.VirtualMachineScaleSet),
		"vmId":                   leaf(c.VMID),
		"vmScaleSetName":         leaf(c.VMScaleSetName),
		"vmSize":                 leaf(c.VMSize),
		"zone":                   leaf(c.Zone),
	})
}

func refNode(r ResourceRef) *Node { return object(Fields{"id": leaf(r.ID)}) }

func uriNode(v VirtualHardDisk) *Node { return object(Fields{"uri": leaf(v.URI)}) }

func managedDiskNode(m ManagedDisk) *Node {
	return object(Fields{"id": leaf(m.ID), "storageAccountType": leaf(m.StorageAccountType)})
}

func publicKeysNode(keys []PublicKey) *Node {
	elems := make([]*Node, len(keys))
	for i, k := range keys {
		elems[i] = object(Fields{"keyData": leaf(k.KeyData), "path": leaf(k.Path)})
	}
	return array(elems)
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

func tagsListNode(tags map[string]string) *Node {
	names := sortedTagNames(tags)
	elems := make([]*Node, len(names))
	for i, k := range names {
		elems[i] = object(Fields{"name": leaf(k), "value": leaf(tags[k])})
	}
	return array(elems)
}

func storageNode(s *StorageProfile) *Node {
	disks := make([]*Node, len(s.DataDisks))
	for i := range s.DataDisks {
		d := &s.DataDisks[i]
		disks[i] = object(Fields{
			"bytesPerSecondThrottle":  leaf(d.BytesPerSecondThrottle),
			"caching":                 leaf(d.Caching),
			"createOption":            leaf(d.CreateOption),
			"diskCapacityBytes":       leaf(d.DiskCapacityBytes),
			"diskSizeGB":              leaf(d.DiskSizeGB),
			"image":                   uriNode(d.Image),
			"isSharedDisk":            leaf(d.IsSharedDisk),
			"isUltraDisk":             leaf(d.IsUltraDisk),
			"lun":                     leaf(d.LUN),
			"managedDisk":             managedDiskNode(d.ManagedDisk),
			"name":                    leaf(d.Name),
			"opsPerSecondThrottle":    leaf(d.OpsPerSecondThrottle),
			"vhd":                     uriNode(d.Vhd),
			"writeAcceleratorEnabled": leaf(d.WriteAcceleratorEnabled),
		})
	}
	img := &s.ImageReference
	osd := &s.OSDisk
	return object(Fields{
		"dataDisks": array(disks),
		"imageReference": object(Fields{
			"communityGalleryImageId": leaf(img.CommunityGalleryImageID),
			"exactVersion":            leaf(img.ExactVersion),
			"id":                      leaf(img.ID),
			"offer":                   leaf(img.Offer),
			"publisher":               leaf(img.Publisher),
			"sharedGalleryImageId":    leaf(img.SharedGalleryImageID),
			"sku":                     leaf(img.SKU),
			"version":                 leaf(img.Version),
		}),
		"osDisk": object(Fields{
			"caching":      leaf(osd.Caching),
			"createOption": leaf(osd.CreateOption),
			"diffDiskSettings": object(Fields{
				"enableFullCaching": optional(osd.DiffDiskSettings.EnableFullCaching),
				"option":            leaf(osd.DiffDiskSettings.Option),
				"placement":         optional(osd.DiffDiskSettings.Placement),
			}),
			"diskSizeGB":              leaf(osd.DiskSizeGB),
			"encryptionSettings":      encryptionNode(&osd.EncryptionSettings),
			"image":                   uriNode(osd.Image),
			"managedDisk":             managedDiskNode(osd.ManagedDisk),
			"name":                    leaf(osd.Name),
			"osType":                  leaf(osd.OSType),
			"vhd":                     uriNode(osd.Vhd),
			"writeAcceleratorEnabled": leaf(osd.WriteAcceleratorEnabled),
		}),
		"resourceDisk": object(Fields{"size": leaf(s.ResourceDisk.Size)}),
	})
}

// encryptionNode serves the Azure Disk Encryption key references only when one is set:
// the documentation's full sample, of a VM without disk encryption, has neither.
func encryptionNode(e *EncryptionSettings) *Node {
	f := Fields{"enabled": leaf(e.Enabled)}
	if k := e.DiskEncryptionKey; k != (DiskEncryptionKey{}) {
		f["diskEncryptionKey"] = object(Fields{"secretUrl": leaf(k.SecretURL), "sourceVault": refNode(k.SourceVault)})
	}
	if k := e.KeyEncryptionKey; k != (KeyEncryptionKey{}) {
		f["keyEncryptionKey"] = object(Fields{"keyUrl": leaf(k.KeyURL), "sourceVault": refNode(k.SourceVault)})
	}
	return object(f)
}

func buildNetwork(n *Network) *Node {
	nics := make([]*Node, len(n.Interface))
	for i := range n.Interface {
		nic := &n.Interface[i]
		v4 := make([]*Node, len(nic.IPv4.IPAddress))
		for j, a := range nic.IPv4.IPAddress {
			v4[j] = object(Fields{"privateIpAddress": leaf(a.PrivateIPAddress), "publicIpAddress": leaf(a.PublicIPAddress)})
		}
		v6 := make([]*Node, len(nic.IPv6.IPAddress))
		for j, a := range nic.IPv6.IPAddress {
			v6[j] = object(Fields{"privateIpAddress": leaf(a.PrivateIPAddress)})
		}
		nics[i] = object(Fields{
			"interfaceCompartmentId":      optional(nic.InterfaceCompartmentID),
			"interfaceCompartmentVersion": optional(nic.InterfaceCompartmentVersion),
			"ipv4": object(Fields{
				"ipAddress":      array(v4),
				"ipAddressBlock": optionalSubnets(nic.IPv4.IPAddressBlock),
				"subnet":         subnetsNode(nic.IPv4.Subnet),
			}),
			"ipv6": object(Fields{
				"ipAddress":      array(v6),
				"ipAddressBlock": optionalSubnets(nic.IPv6.IPAddressBlock),
				"subnet":         optionalSubnets(nic.IPv6.Subnet),
			}),
			"macAddress": leaf(nic.MacAddress),
		})
	}
	return object(Fields{"interface": array(nics)})
}

func subnetsNode(subnets []Subnet) *Node {
	elems := make([]*Node, len(subnets))
	for i, s := range subnets {
		elems[i] = object(Fields{"address": leaf(s.Address), "prefix": leaf(s.Prefix)})
	}
	return array(elems)
}

// optionalSubnets is subnetsNode for the undocumented lists, served only when configured.
func optionalSubnets(subnets []Subnet) *Node {
	if len(subnets) == 0 {
		return nil
	}
	return subnetsNode(subnets)
}

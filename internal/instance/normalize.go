package instance

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// DefaultTenantID is the tenant of a system-assigned identity whose inventory entry sets
// none. It is the tenant of the identity/info example in Azure's OpenAPI definition.
const DefaultTenantID = "abd8daee-d393-4239-9377-883adda3d40f"

// Normalize checks the values of in, rewrites them in canonical form (lower-case UUIDs,
// bare upper-case MAC addresses, canonical IP addresses, lower-case booleans) and fills in
// what an inventory may leave out:
//
//   - compute.vmId: a UUID fixed by the VM name;
//   - compute.resourceId: the ARM ID from subscriptionId, resourceGroupName and name;
//   - osProfile.computerName: the VM name;
//   - osDisk.osType: compute.osType;
//   - managedDisk.id of each managed disk: the ARM ID of a disk of that name;
//   - extended.compute: hasCustomData "false", ppsType "None";
//   - identity IDs, as described on SystemAssignedIdentity and UserAssignedIdentity.
//
// LoadFile, Generated and Generate call it. Call it once on an Instance built in Go,
// before its first Tree. The error names the field, as in "compute.vmId: must be a UUID".
func (in *Instance) Normalize() error {
	var c checker
	in.check(&c)
	if c.err != nil {
		return c.err
	}
	in.derive()
	return in.checkOverrides()
}

// checker records the first problem found; later checks do nothing, so a check sequence
// reads straight through.
type checker struct{ err *fieldError }

func (c *checker) fail(p fieldPath, onKey bool, err error) {
	if c.err == nil {
		c.err = &fieldError{path: p, onKey: onKey, err: err}
	}
}

// value replaces a non-empty *s by parse's canonical form, or records parse's error
// against member key of p (p itself when key is ""). The path is built only on error.
func (c *checker) value(p fieldPath, key string, s *string, parse func(string) (string, error)) {
	if c.err != nil || *s == "" {
		return
	}
	v, err := parse(*s)
	if err != nil {
		if key != "" {
			p = p.key(key)
		}
		c.fail(p, false, err)
		return
	}
	if v != *s {
		// Keep the decoder's copy when nothing changed: it is shared with other VMs.
		*s = v
	}
}

// named is a member of a struct being checked.
type named struct {
	key string
	s   *string
}

// values applies value to each member in order.
func (c *checker) values(p fieldPath, parse func(string) (string, error), members ...named) {
	for _, m := range members {
		c.value(p, m.key, m.s, parse)
	}
}

func (c *checker) required(p fieldPath, key, s, what string) {
	if s == "" {
		c.fail(p.key(key), false, errors.New("is required; set "+what))
	}
}

func (in *Instance) check(c *checker) {
	c.required(nil, "name", in.Name, `a unique VM name such as "vm-web-01"`)
	c.value(nil, "name", &in.Name, parseVMName)
	in.checkCompute(c, fieldPath{}.key("compute"))
	in.checkNetwork(c, fieldPath{}.key("network"))
	e := fieldPath{}.key("extended").key("compute")
	c.value(e, "hasCustomData", &in.Extended.Compute.HasCustomData, parseBool)
	for i := range in.Addresses {
		c.value(fieldPath{}.key("addresses").index(i), "", &in.Addresses[i], parseIP)
	}
	if in.LoadBalancer != nil {
		in.LoadBalancer.check(c, fieldPath{}.key("loadBalancer"))
	}
	in.Identity.check(c, fieldPath{}.key("identity"))
	for _, r := range sortedKeys(in.Overrides) {
		if _, err := splitRoute(r); err != nil {
			c.fail(fieldPath{}.key("overrides").mapKey(r), true, err)
		}
	}
}

func (in *Instance) checkCompute(c *checker, p fieldPath) {
	cp := &in.Compute
	c.value(p, "vmId", &cp.VMID, parseUUID)
	c.value(p, "subscriptionId", &cp.SubscriptionID, parseUUID)
	c.value(p, "resourceGroupName", &cp.ResourceGroupName, parseSegment)
	c.values(p, parseUint,
		named{"platformFaultDomain", &cp.PlatformFaultDomain}, named{"platformUpdateDomain", &cp.PlatformUpdateDomain},
		named{"platformSubFaultDomain", &cp.PlatformSubFaultDomain}, named{"zone", &cp.Zone},
		named{"systemFaultDomain", &cp.SystemFaultDomain})
	c.values(p, parseBool,
		named{"isHostCompatibilityLayerVm", &cp.IsHostCompatibilityLayerVM}, named{"isVmInStandbyPool", &cp.IsVMInStandbyPool})
	c.value(p.key("additionalCapabilities"), "hibernationEnabled", &cp.AdditionalCapabilities.HibernationEnabled, parseBool)
	c.value(p.key("osProfile"), "disablePasswordAuthentication", &cp.OSProfile.DisablePasswordAuthentication, parseBool)
	c.values(p.key("securityProfile"), parseBool,
		named{"encryptionAtHost", &cp.SecurityProfile.EncryptionAtHost},
		named{"secureBootEnabled", &cp.SecurityProfile.SecureBootEnabled},
		named{"virtualTpmEnabled", &cp.SecurityProfile.VirtualTPMEnabled})
	c.value(p, "userData", &cp.UserData, parseBase64)
	checkTags(c, p.key("tags"), cp.Tags)

	st := p.key("storageProfile")
	od := &cp.StorageProfile.OSDisk
	op := st.key("osDisk")
	c.value(op, "name", &od.Name, parseSegment)
	c.value(op, "diskSizeGB", &od.DiskSizeGB, parseUint)
	c.value(op, "writeAcceleratorEnabled", &od.WriteAcceleratorEnabled, parseBool)
	c.value(op.key("encryptionSettings"), "enabled", &od.EncryptionSettings.Enabled, parseBool)
	c.value(op.key("diffDiskSettings"), "enableFullCaching", &od.DiffDiskSettings.EnableFullCaching, parseBool)
	for i := range cp.StorageProfile.DataDisks {
		d := &cp.StorageProfile.DataDisks[i]
		dp := st.key("dataDisks").index(i)
		c.value(dp, "name", &d.Name, parseSegment)
		c.values(dp, parseUint,
			named{"bytesPerSecondThrottle", &d.BytesPerSecondThrottle}, named{"diskCapacityBytes", &d.DiskCapacityBytes},
			named{"diskSizeGB", &d.DiskSizeGB}, named{"lun", &d.LUN}, named{"opsPerSecondThrottle", &d.OpsPerSecondThrottle})
		c.values(dp, parseBool,
			named{"isSharedDisk", &d.IsSharedDisk}, named{"isUltraDisk", &d.IsUltraDisk},
			named{"writeAcceleratorEnabled", &d.WriteAcceleratorEnabled})
	}
	c.value(st.key("resourceDisk"), "size", &cp.StorageProfile.ResourceDisk.Size, parseUint)
}

func checkTags(c *checker, p fieldPath, tags map[string]string) {
	if len(tags) > maxTags {
		c.fail(p, false, fmt.Errorf("has %d tags; Azure allows at most %d per resource", len(tags), maxTags))
	}
	for _, k := range sortedKeys(tags) {
		if _, err := parseTagName(k); err != nil {
			c.fail(p.mapKey(k), true, err)
		}
		if _, err := parseTagValue(tags[k]); err != nil {
			c.fail(p.mapKey(k), false, err)
		}
	}
}

func (in *Instance) checkNetwork(c *checker, p fieldPath) {
	for i := range in.Network.Interface {
		nic := &in.Network.Interface[i]
		np := p.key("interface").index(i)
		c.value(np, "macAddress", &nic.MacAddress, parseMAC)
		v4 := np.key("ipv4")
		for j := range nic.IPv4.IPAddress {
			a := &nic.IPv4.IPAddress[j]
			c.value(v4.key("ipAddress").index(j), "privateIpAddress", &a.PrivateIPAddress, parseIPv4)
			c.value(v4.key("ipAddress").index(j), "publicIpAddress", &a.PublicIPAddress, parseIPv4)
		}
		checkSubnets(c, v4.key("subnet"), nic.IPv4.Subnet, parseIPv4, parsePrefix4)
		checkSubnets(c, v4.key("ipAddressBlock"), nic.IPv4.IPAddressBlock, parseIPv4, parsePrefix4)
		v6 := np.key("ipv6")
		for j := range nic.IPv6.IPAddress {
			c.value(v6.key("ipAddress").index(j), "privateIpAddress", &nic.IPv6.IPAddress[j].PrivateIPAddress, parseIPv6)
		}
		checkSubnets(c, v6.key("subnet"), nic.IPv6.Subnet, parseIPv6, parsePrefix6)
		checkSubnets(c, v6.key("ipAddressBlock"), nic.IPv6.IPAddressBlock, parseIPv6, parsePrefix6)
	}
}

func checkSubnets(c *checker, p fieldPath, subnets []Subnet, addr, prefix func(string) (string, error)) {
	for i := range subnets {
		c.value(p.index(i), "address", &subnets[i].Address, addr)
		c.value(p.index(i), "prefix", &subnets[i].Prefix, prefix)
	}
}

func (lb *LoadBalancer) check(c *checker, p fieldPath) {
	for i := range lb.PublicIPAddresses {
		a := &lb.PublicIPAddresses[i]
		c.value(p.key("publicIpAddresses").index(i), "frontendIpAddress", &a.FrontendIPAddress, parseIP)
		c.value(p.key("publicIpAddresses").index(i), "privateIpAddress", &a.PrivateIPAddress, parseIP)
	}
	for i := range lb.InboundRules {
		r := &lb.InboundRules[i]
		rp := p.key("inboundRules").index(i)
		c.value(rp, "frontendIpAddress", &r.FrontendIPAddress, parseIP)
		c.value(rp, "privateIpAddress", &r.PrivateIPAddress, parseIP)
		c.required(rp, "protocol", r.Protocol, `"tcp" or "udp"`)
		c.value(rp, "protocol", &r.Protocol, parseProtocol)
		checkPort(c, rp, "frontendPort", r.FrontendPort)
		checkPort(c, rp, "backendPort", r.BackendPort)
	}
	for i := range lb.OutboundRules {
		r := &lb.OutboundRules[i]
		c.value(p.key("outboundRules").index(i), "frontendIpAddress", &r.FrontendIPAddress, parseIP)
		c.value(p.key("outboundRules").index(i), "privateIpAddress", &r.PrivateIPAddress, parseIP)
	}
}

func checkPort(c *checker, p fieldPath, key string, port int) {
	if port < 1 || port > 65535 {
		c.fail(p.key(key), false, errors.New("must be a port number from 1 to 65535 (for example 443)"))
	}
}

func (id *Identity) check(c *checker, p fieldPath) {
	sp := p.key("systemAssigned")
	c.value(sp, "tenantId", &id.SystemAssigned.TenantID, parseUUID)
	c.value(sp, "clientId", &id.SystemAssigned.ClientID, parseUUID)
	c.value(sp, "objectId", &id.SystemAssigned.ObjectID, parseUUID)
	var seen map[string]int // "member\x00lower-case value" -> position
	for i := range id.UserAssigned {
		u := &id.UserAssigned[i]
		up := p.key("userAssigned").index(i)
		c.required(up, "resourceId", u.ResourceID, "the identity's ARM ID")
		c.value(up, "resourceId", &u.ResourceID, parseIdentityID)
		c.value(up, "clientId", &u.ClientID, parseUUID)
		c.value(up, "objectId", &u.ObjectID, parseUUID)
		for _, m := range []named{{"resourceId", &u.ResourceID}, {"clientId", &u.ClientID}, {"objectId", &u.ObjectID}} {
			v := strings.ToLower(*m.s)
			if v == "" {
				continue
			}
			if j, dup := seen[m.key+"\x00"+v]; dup {
				c.fail(up.key(m.key), false, fmt.Errorf("is also userAssigned[%d]'s; list each identity once, so that a token request selects one", j))
			}
			if seen == nil {
				seen = map[string]int{}
			}
			seen[m.key+"\x00"+v] = i
		}
	}
}

// derive fills the values an inventory may leave out; see Normalize.
func (in *Instance) derive() {
	cp := &in.Compute
	if cp.VMID == "" {
		cp.VMID = derivedUUID("vmId", in.Name)
	}
	if cp.ResourceID == "" {
		cp.ResourceID = armID(cp.SubscriptionID, cp.ResourceGroupName, "virtualMachines", in.Name)
	}
	if cp.OSProfile.ComputerName == "" {
		cp.OSProfile.ComputerName = in.Name
	}
	od := &cp.StorageProfile.OSDisk
	if od.OSType == "" {
		od.OSType = cp.OSType
	}
	deriveDiskID(cp, &od.ManagedDisk, od.Name, od.Vhd)
	for i := range cp.StorageProfile.DataDisks {
		d := &cp.StorageProfile.DataDisks[i]
		deriveDiskID(cp, &d.ManagedDisk, d.Name, d.Vhd)
	}
	e := &in.Extended.Compute
	e.HasCustomData = orDefault(e.HasCustomData, "false")
	e.PPSType = orDefault(e.PPSType, "None")

	sa := &in.Identity.SystemAssigned
	if sa.Enabled {
		sa.TenantID = orDefault(sa.TenantID, DefaultTenantID)
		sa.ClientID = orDefault(sa.ClientID, derivedUUID("systemAssigned/clientId", cp.VMID))
		sa.ObjectID = orDefault(sa.ObjectID, derivedUUID("systemAssigned/objectId", cp.VMID))
	}
	for i := range in.Identity.UserAssigned {
		u := &in.Identity.UserAssigned[i]
		// ARM IDs are case-insensitive, so one identity gets one pair of IDs however
		// its ID is spelled.
		u.ClientID = orDefault(u.ClientID, derivedUUID("userAssigned/clientId", strings.ToLower(u.ResourceID)))
		u.ObjectID = orDefault(u.ObjectID, derivedUUID("userAssigned/objectId", strings.ToLower(u.ResourceID)))
	}
}

// deriveDiskID gives a managed disk without an ID the ARM ID of a disk called name.
// A disk with a VHD URI is unmanaged and keeps an empty ID.
func deriveDiskID(cp *Compute, m *ManagedDisk, name string, vhd VirtualHardDisk) {
	if m.ID == "" && vhd.URI == "" {
		m.ID = armID(cp.SubscriptionID, cp.ResourceGroupName, "disks", name)
	}
}

// checkOverrides reports the first override, in route order, that names no value of the
// newest tree.
func (in *Instance) checkOverrides() error {
	if len(in.Overrides) == 0 {
		return nil
	}
	t := in.buildTree(newInterner())
	for _, r := range sortedKeys(in.Overrides) {
		if _, err := replaceLeaf(t, r, ""); err != nil {
			return &fieldError{path: fieldPath{}.key("overrides").mapKey(r), onKey: true, err: err}
		}
	}
	return nil
}

// callerAddrs calls fn with each address that identifies the instance as a caller: the
// private addresses of its interfaces, then Addresses. where reports the address's field
// and is only worth calling on a conflict. fn returns false to stop.
func (in *Instance) callerAddrs(fn func(a netip.Addr, where func() fieldPath) bool) {
	for i := range in.Network.Interface {
		nic := &in.Network.Interface[i]
		for j, a := range nic.IPv4.IPAddress {
			if ip, err := netip.ParseAddr(a.PrivateIPAddress); err == nil && !fn(ip, func() fieldPath {
				return fieldPath{}.key("network").key("interface").index(i).key("ipv4").key("ipAddress").index(j).key("privateIpAddress")
			}) {
				return
			}
		}
		for j, a := range nic.IPv6.IPAddress {
			if ip, err := netip.ParseAddr(a.PrivateIPAddress); err == nil && !fn(ip, func() fieldPath {
				return fieldPath{}.key("network").key("interface").index(i).key("ipv6").key("ipAddress").index(j).key("privateIpAddress")
			}) {
				return
			}
		}
	}
	for i, s := range in.Addresses {
		if ip, err := netip.ParseAddr(s); err == nil && !fn(ip.Unmap(), func() fieldPath {
			return fieldPath{}.key("addresses").index(i)
		}) {
			return
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

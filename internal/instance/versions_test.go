package instance

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

// computeAdded lists, independently of fieldSince, the compute members each api-version
// added (reference §4.2.3). The gating tests compare trees against it.
var computeAdded = []struct {
	version string
	keys    []string
}{
	{"2017-04-02", []string{"location", "name", "offer", "osType", "platformFaultDomain", "platformUpdateDomain",
		"publisher", "sku", "version", "vmId", "vmSize"}},
	{"2017-08-01", []string{"placementGroupId", "resourceGroupName", "subscriptionId", "tags"}},
	{"2017-12-01", []string{"vmScaleSetName", "zone"}},
	{"2018-04-02", []string{"plan", "publicKeys"}},
	{"2018-10-01", []string{"azEnvironment", "provider"}},
	{"2019-02-01", []string{"customData"}},
	{"2019-03-11", []string{"resourceId"}},
	{"2019-06-01", []string{"storageProfile"}},
	{"2019-06-04", []string{"tagsList"}},
	{"2020-06-01", []string{"isHostCompatibilityLayerVm", "securityProfile"}},
	{"2020-07-15", []string{"osProfile"}},
	{"2020-09-01", []string{"licenseType"}},
	{"2020-12-01", []string{"evictionPolicy", "priority"}},
	{"2021-01-01", []string{"userData"}},
	{"2021-03-01", []string{"extendedLocation", "virtualMachineScaleSet"}},
	{"2021-10-01", []string{"platformSubFaultDomain"}},
	{"2021-11-01", []string{"additionalCapabilities"}},
	{"2021-11-15", []string{"host", "hostGroup"}},
	{"2023-11-15", []string{"physicalZone"}},
}

// computeKeysAt returns the compute members expected at version, sorted.
func computeKeysAt(version string) []string {
	var keys []string
	for _, a := range computeAdded {
		if a.version <= version {
			keys = append(keys, a.keys...)
		}
	}
	sort.Strings(keys)
	return keys
}

func member(t *testing.T, n *Node, route string) *Node {
	t.Helper()
	for _, seg := range strings.Split(strings.Trim(route, "/"), "/") {
		next, ok := n.Child(seg)
		if !ok {
			t.Fatalf("%s: no member %q", route, seg)
		}
		n = next
	}
	return n
}

func hasRoute(n *Node, route string) bool {
	for _, seg := range strings.Split(strings.Trim(route, "/"), "/") {
		next, ok := n.Child(seg)
		if !ok {
			return false
		}
		n = next
	}
	return true
}

func TestComputeMembersByVersion(t *testing.T) {
	in := Generated(testVMID)
	versions := []string{"2017-03-01", "2017-04-02", "2017-08-01", "2017-10-01", "2017-12-01", "2018-02-01",
		"2018-04-02", "2018-10-01", "2019-02-01", "2019-03-11", "2019-04-30", "2019-06-01", "2019-06-04",
		"2019-08-15", "2020-06-01", "2020-07-15", "2020-09-01", "2020-10-01", "2020-12-01", "2021-01-01",
		"2021-02-01", "2021-03-01", "2021-05-01", "2021-08-01", "2021-10-01", "2021-11-01", "2021-11-15",
		"2021-12-13", "2023-07-01", "2023-11-15", "2024-07-17", "2025-04-07", "2025-11-15"}
	for _, v := range versions {
		compute := member(t, in.Tree(v, false), "compute")
		want := computeKeysAt(max(v, "2017-04-02"))
		if got := compute.Keys(); !slices.Equal(got, want) {
			t.Errorf("api-version %s: compute keys\n got %v\nwant %v", v, got, want)
		}
	}
	if n := len(member(t, in.Tree("2017-04-02", false), "compute").Keys()); n != 11 {
		t.Errorf("2017-04-02 has %d compute keys, want the 11 original ones", n)
	}
}

// TestNestedMembersByVersion checks members of objects that gained fields after they
// appeared.
func TestNestedMembersByVersion(t *testing.T) {
	in := Generated(testVMID)
	tests := []struct {
		route   string
		version string
		want    []string
	}{
		{"compute/storageProfile", "2019-06-01", []string{"dataDisks", "imageReference", "osDisk"}},
		{"compute/storageProfile", "2021-01-01", []string{"dataDisks", "imageReference", "osDisk"}},
		{"compute/storageProfile", "2021-02-01", []string{"dataDisks", "imageReference", "osDisk", "resourceDisk"}},
		{"compute/storageProfile/dataDisks/0", "2021-03-01", []string{"caching", "createOption", "diskSizeGB",
			"image", "lun", "managedDisk", "name", "vhd", "writeAcceleratorEnabled"}},
		{"compute/storageProfile/dataDisks/0", "2021-05-01", []string{"bytesPerSecondThrottle", "caching",
			"createOption", "diskCapacityBytes", "diskSizeGB", "image", "isSharedDisk", "isUltraDisk", "lun",
			"managedDisk", "name", "opsPerSecondThrottle", "vhd", "writeAcceleratorEnabled"}},
		{"compute/storageProfile/imageReference", "2021-12-13", []string{"id", "offer", "publisher", "sku", "version"}},
		{"compute/storageProfile/imageReference", "2023-07-01", []string{"communityGalleryImageId", "exactVersion",
			"id", "offer", "publisher", "sharedGalleryImageId", "sku", "version"}},
		{"compute/storageProfile/osDisk", "2019-06-01", []string{"caching", "createOption", "diffDiskSettings",
			"diskSizeGB", "encryptionSettings", "image", "managedDisk", "name", "osType", "vhd", "writeAcceleratorEnabled"}},
		{"compute/securityProfile", "2020-06-01", []string{"secureBootEnabled", "virtualTpmEnabled"}},
		{"compute/securityProfile", "2021-11-01", []string{"encryptionAtHost", "secureBootEnabled", "virtualTpmEnabled"}},
		{"compute/securityProfile", "2021-12-13", []string{"encryptionAtHost", "secureBootEnabled", "securityType", "virtualTpmEnabled"}},
		{"compute/osProfile", "2020-07-15", []string{"adminUsername", "computerName"}},
		{"compute/osProfile", "2020-10-01", []string{"adminUsername", "computerName", "disablePasswordAuthentication"}},
		{"compute/tagsList/0", "2019-06-04", []string{"name", "value"}},
		{"network/interface/0", "2017-04-02", []string{"ipv4", "ipv6", "macAddress"}},
		{"", "2017-04-02", []string{"compute", "network"}},
	}
	for _, tt := range tests {
		n := in.Tree(tt.version, false)
		if tt.route != "" {
			n = member(t, n, tt.route)
		}
		if got := n.Keys(); !slices.Equal(got, tt.want) {
			t.Errorf("%s at %s: keys\n got %v\nwant %v", tt.route, tt.version, got, tt.want)
		}
	}
}

func TestUndocumentedFieldsOnlyWhenConfigured(t *testing.T) {
	plain := Generated(testVMID)
	if hasRoute(plain.Tree(NewestVersion, false), "compute/isVmInStandbyPool") {
		t.Error("isVmInStandbyPool served although not configured")
	}
	in := Generated(testVMID)
	in.Compute.IsVMInStandbyPool = "true"
	in.Network.Interface[0].IPv6.Subnet = []Subnet{{Address: "fd00::", Prefix: "64"}}
	if err := in.Normalize(); err != nil {
		t.Fatal(err)
	}
	if got := member(t, in.Tree(NewestVersion, false), "compute/isVmInStandbyPool").Value(); got != "true" {
		t.Errorf("isVmInStandbyPool at %s = %q, want \"true\"", NewestVersion, got)
	}
	if hasRoute(in.Tree("2024-07-17", false), "compute/isVmInStandbyPool") {
		t.Error("isVmInStandbyPool served before the newest version")
	}
	// cloud-init reads ipv6.subnet with api-version 2021-08-01.
	if got := string(member(t, in.Tree("2021-08-01", false), "network/interface/0/ipv6/subnet").JSON()); got != `[{"address":"fd00::","prefix":"64"}]` {
		t.Errorf("ipv6.subnet at 2021-08-01 = %s", got)
	}
}

func TestBucketIndex(t *testing.T) {
	tests := []struct{ version, bucket string }{
		{"2017-03-01", "2017-04-02"},
		{"2017-04-02", "2017-04-02"},
		{"2017-10-01", "2017-08-01"},
		{"2021-08-01", "2021-05-01"},
		{"2023-11-15", "2023-11-15"},
		{"2024-07-17", "2023-11-15"},
		{"2025-04-07", "2025-04-07"},
		{"2099-01-01", "2025-04-07"},
	}
	for _, tt := range tests {
		if got := buckets[bucketIndex(tt.version)]; got != tt.bucket {
			t.Errorf("bucket of %s = %s, want %s", tt.version, got, tt.bucket)
		}
	}
}

// TestSchemaCoversTree checks that every member the builder writes has a version (and so
// is gated), and that every version table entry names something the builder writes.
func TestSchemaCoversTree(t *testing.T) {
	in := Generated(testVMID)
	// Set every optional field, so that the tree holds every member there is.
	in.Compute.IsVMInStandbyPool, in.Compute.SystemFaultDomain = "false", "0"
	in.Compute.InterconnectGroupID, in.Compute.InterconnectSubgroupID = "g", "s"
	od := &in.Compute.StorageProfile.OSDisk
	od.DiffDiskSettings.Placement, od.DiffDiskSettings.EnableFullCaching = "ResourceDisk", "false"
	od.EncryptionSettings.DiskEncryptionKey = DiskEncryptionKey{SecretURL: "https://kv/secrets/s", SourceVault: ResourceRef{ID: "/v"}}
	od.EncryptionSettings.KeyEncryptionKey = KeyEncryptionKey{KeyURL: "https://kv/keys/k", SourceVault: ResourceRef{ID: "/v"}}
	nic := &in.Network.Interface[0]
	nic.InterfaceCompartmentID, nic.InterfaceCompartmentVersion = "1", "1"
	nic.IPv4.IPAddressBlock = []Subnet{{Address: "10.0.1.0", Prefix: "28"}}
	nic.IPv6 = IPv6{IPAddress: []IPv6Address{{PrivateIPAddress: "fd00::4"}},
		Subnet: []Subnet{{Address: "fd00::", Prefix: "64"}}, IPAddressBlock: []Subnet{{Address: "fd00:1::", Prefix: "80"}}}
	if err := in.Normalize(); err != nil {
		t.Fatal(err)
	}

	built := map[string]bool{}
	var walk func(n *Node, s *schema, path string)
	walk = func(n *Node, s *schema, path string) {
		switch n.Kind() {
		case KindObject:
			for i, k := range n.Keys() {
				p := strings.TrimPrefix(path+"."+k, ".")
				built[p] = true
				ks := s.kids[k]
				if ks == nil {
					t.Errorf("%s is built but has no version in fieldSince", p)
					continue
				}
				walk(n.c.kids[i], ks, p)
			}
		case KindArray:
			for _, e := range n.c.kids {
				walk(e, s.elem, path+"[]")
			}
		}
	}
	walk(in.Tree(NewestVersion, false), rootSchema, "")
	for _, f := range fieldSince {
		if !built[f.path] {
			t.Errorf("fieldSince lists %s, which the builder never writes", f.path)
		}
	}
}

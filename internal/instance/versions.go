package instance

import (
	"fmt"
	"sort"
	"strings"
)

// NewestVersion is the newest api-version whose /metadata/instance schema this package
// knows. Fields whose first version Azure never documented are gated at it.
const NewestVersion = "2025-04-07"

// fieldSince lists every member of the /metadata/instance tree with the api-version that
// introduced it (reference §4.2.3-§4.2.5). A path names object members with dots and array
// elements with "[]". An object or array is listed with the version of its first member.
// Undocumented fields, emitted only when configured, are at the end.
var fieldSince = []struct{ path, since string }{
	{"compute", "2017-04-02"},
	{"compute.location", "2017-04-02"},
	{"compute.name", "2017-04-02"},
	{"compute.offer", "2017-04-02"},
	{"compute.osType", "2017-04-02"},
	{"compute.platformFaultDomain", "2017-04-02"},
	{"compute.platformUpdateDomain", "2017-04-02"},
	{"compute.publisher", "2017-04-02"},
	{"compute.sku", "2017-04-02"},
	{"compute.version", "2017-04-02"},
	{"compute.vmId", "2017-04-02"},
	{"compute.vmSize", "2017-04-02"},
	{"compute.placementGroupId", "2017-08-01"},
	{"compute.resourceGroupName", "2017-08-01"},
	{"compute.subscriptionId", "2017-08-01"},
	{"compute.tags", "2017-08-01"},
	{"compute.vmScaleSetName", "2017-12-01"},
	{"compute.zone", "2017-12-01"},
	{"compute.plan", "2018-04-02"},
	{"compute.plan.name", "2018-04-02"},
	{"compute.plan.product", "2018-04-02"},
	{"compute.plan.publisher", "2018-04-02"},
	{"compute.publicKeys", "2018-04-02"},
	{"compute.publicKeys[].keyData", "2018-04-02"},
	{"compute.publicKeys[].path", "2018-04-02"},
	{"compute.azEnvironment", "2018-10-01"},
	{"compute.provider", "2018-10-01"},
	{"compute.customData", "2019-02-01"},
	{"compute.resourceId", "2019-03-11"},
	{"compute.storageProfile", "2019-06-01"},
	{"compute.tagsList", "2019-06-04"},
	{"compute.tagsList[].name", "2019-06-04"},
	{"compute.tagsList[].value", "2019-06-04"},
	{"compute.isHostCompatibilityLayerVm", "2020-06-01"},
	{"compute.securityProfile", "2020-06-01"},
	{"compute.securityProfile.secureBootEnabled", "2020-06-01"},
	{"compute.securityProfile.virtualTpmEnabled", "2020-06-01"},
	{"compute.osProfile", "2020-07-15"},
	{"compute.osProfile.adminUsername", "2020-07-15"},
	{"compute.osProfile.computerName", "2020-07-15"},
	{"compute.licenseType", "2020-09-01"},
	{"compute.osProfile.disablePasswordAuthentication", "2020-10-01"},
	{"compute.evictionPolicy", "2020-12-01"},
	{"compute.priority", "2020-12-01"},
	{"compute.userData", "2021-01-01"},
	{"compute.extendedLocation", "2021-03-01"},
	{"compute.extendedLocation.name", "2021-03-01"},
	{"compute.extendedLocation.type", "2021-03-01"},
	{"compute.virtualMachineScaleSet", "2021-03-01"},
	{"compute.virtualMachineScaleSet.id", "2021-03-01"},
	{"compute.platformSubFaultDomain", "2021-10-01"},
	{"compute.additionalCapabilities", "2021-11-01"},
	{"compute.additionalCapabilities.hibernationEnabled", "2021-11-01"},
	{"compute.securityProfile.encryptionAtHost", "2021-11-01"},
	{"compute.host", "2021-11-15"},
	{"compute.host.id", "2021-11-15"},
	{"compute.hostGroup", "2021-11-15"},
	{"compute.hostGroup.id", "2021-11-15"},
	{"compute.securityProfile.securityType", "2021-12-13"},
	{"compute.physicalZone", "2023-11-15"},

	// §4.2.4 storageProfile.
	{"compute.storageProfile.imageReference", "2019-06-01"},
	{"compute.storageProfile.imageReference.id", "2019-06-01"},
	{"compute.storageProfile.imageReference.offer", "2019-06-01"},
	{"compute.storageProfile.imageReference.publisher", "2019-06-01"},
	{"compute.storageProfile.imageReference.sku", "2019-06-01"},
	{"compute.storageProfile.imageReference.version", "2019-06-01"},
	{"compute.storageProfile.imageReference.communityGalleryImageId", "2023-07-01"},
	{"compute.storageProfile.imageReference.sharedGalleryImageId", "2023-07-01"},
	{"compute.storageProfile.imageReference.exactVersion", "2023-07-01"},
	{"compute.storageProfile.osDisk", "2019-06-01"},
	{"compute.storageProfile.osDisk.caching", "2019-06-01"},
	{"compute.storageProfile.osDisk.createOption", "2019-06-01"},
	{"compute.storageProfile.osDisk.diffDiskSettings", "2019-06-01"},
	{"compute.storageProfile.osDisk.diffDiskSettings.option", "2019-06-01"},
	{"compute.storageProfile.osDisk.diskSizeGB", "2019-06-01"},
	{"compute.storageProfile.osDisk.encryptionSettings", "2019-06-01"},
	{"compute.storageProfile.osDisk.encryptionSettings.enabled", "2019-06-01"},
	{"compute.storageProfile.osDisk.encryptionSettings.diskEncryptionKey", "2021-11-01"},
	{"compute.storageProfile.osDisk.encryptionSettings.diskEncryptionKey.secretUrl", "2021-11-01"},
	{"compute.storageProfile.osDisk.encryptionSettings.diskEncryptionKey.sourceVault", "2021-11-01"},
	{"compute.storageProfile.osDisk.encryptionSettings.diskEncryptionKey.sourceVault.id", "2021-11-01"},
	{"compute.storageProfile.osDisk.encryptionSettings.keyEncryptionKey", "2021-11-01"},
	{"compute.storageProfile.osDisk.encryptionSettings.keyEncryptionKey.keyUrl", "2021-11-01"},
	{"compute.storageProfile.osDisk.encryptionSettings.keyEncryptionKey.sourceVault", "2021-11-01"},
	{"compute.storageProfile.osDisk.encryptionSettings.keyEncryptionKey.sourceVault.id", "2021-11-01"},
	{"compute.storageProfile.osDisk.image", "2019-06-01"},
	{"compute.storageProfile.osDisk.image.uri", "2019-06-01"},
	{"compute.storageProfile.osDisk.managedDisk", "2019-06-01"},
	{"compute.storageProfile.osDisk.managedDisk.id", "2019-06-01"},
	{"compute.storageProfile.osDisk.managedDisk.storageAccountType", "2019-06-01"},
	{"compute.storageProfile.osDisk.name", "2019-06-01"},
	{"compute.storageProfile.osDisk.osType", "2019-06-01"},
	{"compute.storageProfile.osDisk.vhd", "2019-06-01"},
	{"compute.storageProfile.osDisk.vhd.uri", "2019-06-01"},
	{"compute.storageProfile.osDisk.writeAcceleratorEnabled", "2019-06-01"},
	{"compute.storageProfile.dataDisks", "2019-06-01"},
	{"compute.storageProfile.dataDisks[].caching", "2019-06-01"},
	{"compute.storageProfile.dataDisks[].createOption", "2019-06-01"},
	{"compute.storageProfile.dataDisks[].diskSizeGB", "2019-06-01"},
	{"compute.storageProfile.dataDisks[].image", "2019-06-01"},
	{"compute.storageProfile.dataDisks[].image.uri", "2019-06-01"},
	{"compute.storageProfile.dataDisks[].lun", "2019-06-01"},
	{"compute.storageProfile.dataDisks[].managedDisk", "2019-06-01"},
	{"compute.storageProfile.dataDisks[].managedDisk.id", "2019-06-01"},
	{"compute.storageProfile.dataDisks[].managedDisk.storageAccountType", "2019-06-01"},
	{"compute.storageProfile.dataDisks[].name", "2019-06-01"},
	{"compute.storageProfile.dataDisks[].vhd", "2019-06-01"},
	{"compute.storageProfile.dataDisks[].vhd.uri", "2019-06-01"},
	{"compute.storageProfile.dataDisks[].writeAcceleratorEnabled", "2019-06-01"},
	{"compute.storageProfile.dataDisks[].bytesPerSecondThrottle", "2021-05-01"},
	{"compute.storageProfile.dataDisks[].diskCapacityBytes", "2021-05-01"},
	{"compute.storageProfile.dataDisks[].isSharedDisk", "2021-05-01"},
	{"compute.storageProfile.dataDisks[].isUltraDisk", "2021-05-01"},
	{"compute.storageProfile.dataDisks[].opsPerSecondThrottle", "2021-05-01"},
	{"compute.storageProfile.resourceDisk", "2021-02-01"},
	{"compute.storageProfile.resourceDisk.size", "2021-02-01"},

	// §4.2.5 network.
	{"network", "2017-04-02"},
	{"network.interface", "2017-04-02"},
	{"network.interface[].ipv4", "2017-04-02"},
	{"network.interface[].ipv4.ipAddress", "2017-04-02"},
	{"network.interface[].ipv4.ipAddress[].privateIpAddress", "2017-04-02"},
	{"network.interface[].ipv4.ipAddress[].publicIpAddress", "2017-04-02"},
	{"network.interface[].ipv4.subnet", "2017-04-02"},
	{"network.interface[].ipv4.subnet[].address", "2017-04-02"},
	{"network.interface[].ipv4.subnet[].prefix", "2017-04-02"},
	{"network.interface[].ipv6", "2017-04-02"},
	{"network.interface[].ipv6.ipAddress", "2017-04-02"},
	{"network.interface[].ipv6.ipAddress[].privateIpAddress", "2017-04-02"},
	{"network.interface[].macAddress", "2017-04-02"},

	// Undocumented (reference §4.2.3 note 3, §8 #16-17). isVmInStandbyPool and the other
	// compute fields are gated at the newest version, as §8 #16 recommends. The network
	// ones keep the version of their siblings, because the clients that read them
	// (cloud-init, AKS) ask for old api-versions.
	{"compute.isVmInStandbyPool", NewestVersion},
	{"compute.systemFaultDomain", NewestVersion},
	{"compute.interconnectGroupId", NewestVersion},
	{"compute.interconnectSubgroupId", NewestVersion},
	{"compute.storageProfile.osDisk.diffDiskSettings.placement", NewestVersion},
	{"compute.storageProfile.osDisk.diffDiskSettings.enableFullCaching", NewestVersion},
	{"network.interface[].interfaceCompartmentId", "2017-04-02"},
	{"network.interface[].interfaceCompartmentVersion", "2017-04-02"},
	{"network.interface[].ipv4.ipAddressBlock", "2017-04-02"},
	{"network.interface[].ipv4.ipAddressBlock[].address", "2017-04-02"},
	{"network.interface[].ipv4.ipAddressBlock[].prefix", "2017-04-02"},
	{"network.interface[].ipv6.ipAddressBlock", "2017-04-02"},
	{"network.interface[].ipv6.ipAddressBlock[].address", "2017-04-02"},
	{"network.interface[].ipv6.ipAddressBlock[].prefix", "2017-04-02"},
	{"network.interface[].ipv6.subnet", "2017-04-02"},
	{"network.interface[].ipv6.subnet[].address", "2017-04-02"},
	{"network.interface[].ipv6.subnet[].prefix", "2017-04-02"},
}

// schema is the version table as a tree that walks alongside a metadata tree.
type schema struct {
	since  string             // first api-version with this member
	newest string             // newest since of this member and everything below it
	kids   map[string]*schema // object members
	elem   *schema            // array elements
}

var (
	// buckets holds the distinct since versions in order. Every api-version serves
	// the field set of the largest bucket not after it, so one tree per bucket is
	// all an instance ever needs.
	buckets []string
	// rootSchema describes the /metadata/instance object.
	rootSchema *schema
)

func init() {
	rootSchema, buckets = compileSchema()
	if buckets[len(buckets)-1] != NewestVersion {
		panic("instance: NewestVersion is not the newest version of the field table")
	}
}

// compileSchema builds the schema tree and the bucket list from fieldSince. It panics on
// an inconsistent table, which a test run catches at once.
func compileSchema() (*schema, []string) {
	root := &schema{kids: map[string]*schema{}}
	seen := map[string]bool{}
	for _, f := range fieldSince {
		s := root
		segs := strings.Split(f.path, ".")
		for i, seg := range segs {
			name, isArray := strings.CutSuffix(seg, "[]")
			child := s.kids[name]
			if child == nil {
				if i < len(segs)-1 {
					panic(fmt.Sprintf("instance: field table lists %s before its parent", f.path))
				}
				if f.since < s.since {
					panic(fmt.Sprintf("instance: field table has %s older than its parent", f.path))
				}
				child = &schema{since: f.since}
				s.kids[name] = child
			} else if i == len(segs)-1 {
				panic(fmt.Sprintf("instance: field table lists %s twice", f.path))
			}
			s = child
			if isArray {
				if s.elem == nil {
					s.elem = &schema{since: s.since, kids: map[string]*schema{}}
				}
				s = s.elem
			} else if i < len(segs)-1 && s.kids == nil {
				s.kids = map[string]*schema{}
			}
		}
		seen[f.since] = true
	}
	var out []string
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	root.computeNewest()
	return root, out
}

func (s *schema) computeNewest() string {
	s.newest = s.since
	for _, k := range s.kids {
		s.newest = max(s.newest, k.computeNewest())
	}
	if s.elem != nil {
		s.newest = max(s.newest, s.elem.computeNewest())
	}
	return s.newest
}

// bucketIndex returns the position in buckets of the field set that apiVersion serves:
// the largest since version not after it. Versions before the first bucket (such as the
// 2017-03-01 preview) get the first.
func bucketIndex(apiVersion string) int {
	i := sort.SearchStrings(buckets, apiVersion)
	if i < len(buckets) && buckets[i] == apiVersion {
		return i
	}
	return max(i-1, 0)
}

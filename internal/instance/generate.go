package instance

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"

	"go.yaml.in/yaml/v3"
)

// image is a Marketplace image the generator picks from.
type image struct {
	publisher, offer, sku, version, osType string
}

var (
	genImages = []image{
		{"canonical", "0001-com-ubuntu-server-jammy", "22_04-lts-gen2", "22.04.202501010", "Linux"},
		{"canonical", "ubuntu-24_04-lts", "server", "24.04.202502210", "Linux"},
		{"RedHat", "RHEL", "9-lvm-gen2", "9.5.2024112612", "Linux"},
		{"MicrosoftWindowsServer", "WindowsServer", "2022-datacenter-azure-edition", "20348.3091.250105", "Windows"},
	}
	genRegions = []string{"westeurope", "northeurope", "uksouth", "eastus", "eastus2", "westus2", "japaneast", "southeastasia"}
	// genSizes pairs a size with its temporary disk in kB ("0" when it has none).
	genSizes = [][2]string{
		{"Standard_D2s_v5", "0"}, {"Standard_D4s_v5", "0"}, {"Standard_B2s", "8192"},
		{"Standard_D4ds_v5", "153600"}, {"Standard_E8ds_v5", "307200"}, {"Standard_F4s_v2", "32768"},
	}
	genEnvs   = []string{"dev", "test", "staging", "prod"}
	genOwners = []string{"platform", "payments", "search", "data", "identity"}
)

// Generate returns an inventory of n distinct, varied VMs for load tests: names vm-000001
// and up, random vmIds, private addresses 10.a.b.c (one /24 per 250 VMs) and MAC
// addresses 000D3A followed by the VM's number. The same seed gives the same inventory.
// Generate panics unless 1 <= n <= MaxInstances.
func Generate(n int, seed int64) *Inventory {
	if n < 1 || n > MaxInstances {
		panic(fmt.Sprintf("instance: Generate: n is %d, not between 1 and %d", n, MaxInstances))
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0x74656761746121))
	subscriptions := []string{randomUUID(r), randomUUID(r), randomUUID(r)}
	inv := newInventory(n)
	trees := newInterner()
	for i := range n {
		in := generateOne(r, i, subscriptions[r.IntN(len(subscriptions))])
		if err := in.Normalize(); err != nil {
			panic("instance: Generate: " + err.Error())
		}
		if err := inv.add(in); err != nil {
			panic("instance: Generate: " + err.Error())
		}
		in.prepare(trees)
	}
	return inv
}

func randomUUID(r *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return formatUUID(b)
}

// randomSSHKey returns an ssh-ed25519 public key in authorized_keys form, with random
// key bytes, so that clients that parse keys accept it.
func randomSSHKey(r *rand.Rand) string {
	blob := append([]byte("\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20"), make([]byte, 32)...)
	for i := len(blob) - 32; i < len(blob); i++ {
		blob[i] = byte(r.Uint32())
	}
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(blob)
}

func pick[T any](r *rand.Rand, from []T) T { return from[r.IntN(len(from))] }

// generateOne builds VM number i (from 0). Addresses and MAC come from i, so they are
// distinct; the rest is drawn from r.
func generateOne(r *rand.Rand, i int, subscription string) *Instance {
	name := fmt.Sprintf("vm-%06d", i+1)
	group := fmt.Sprintf("rg-fleet-%02d", i%20)
	img := pick(r, genImages)
	size := pick(r, genSizes)
	region := pick(r, genRegions)
	a, b, c := i/(250*256), (i/250)%256, 4+i%250
	in := &Instance{
		Name: name,
		Compute: Compute{
			AdditionalCapabilities:     AdditionalCapabilities{HibernationEnabled: "false"},
			AzEnvironment:              "AzurePublicCloud",
			IsHostCompatibilityLayerVM: "false",
			Location:                   region,
			Offer:                      img.offer,
			OSType:                     img.osType,
			PlatformFaultDomain:        fmt.Sprint(r.IntN(3)),
			PlatformUpdateDomain:       fmt.Sprint(r.IntN(5)),
			Priority:                   "Regular",
			Provider:                   "Microsoft.Compute",
			Publisher:                  img.publisher,
			ResourceGroupName:          group,
			SecurityProfile: SecurityProfile{
				EncryptionAtHost: "false", SecureBootEnabled: "true", SecurityType: "TrustedLaunch", VirtualTPMEnabled: "true",
			},
			SKU: img.sku,
			StorageProfile: StorageProfile{
				ImageReference: ImageReference{
					ExactVersion: img.version, Offer: img.offer, Publisher: img.publisher, SKU: img.sku, Version: "latest",
				},
				OSDisk: OSDisk{
					Caching: "ReadWrite", CreateOption: "FromImage", DiskSizeGB: pick(r, []string{"30", "64", "128"}),
					EncryptionSettings: EncryptionSettings{Enabled: "false"},
					ManagedDisk:        ManagedDisk{StorageAccountType: pick(r, []string{"Premium_LRS", "StandardSSD_LRS"})},
					Name:               name + "-os", WriteAcceleratorEnabled: "false",
				},
				ResourceDisk: ResourceDisk{Size: size[1]},
			},
			SubscriptionID: subscription,
			Tags:           map[string]string{"env": pick(r, genEnvs), "owner": pick(r, genOwners)},
			Version:        img.version,
			VMID:           randomUUID(r),
			VMSize:         size[0],
		},
		Network: Network{Interface: []Interface{{
			IPv4: IPv4{
				IPAddress: []IPv4Address{{PrivateIPAddress: fmt.Sprintf("10.%d.%d.%d", a, b, c)}},
				Subnet:    []Subnet{{Address: fmt.Sprintf("10.%d.%d.0", a, b), Prefix: "24"}},
			},
			MacAddress: fmt.Sprintf("000D3A%06X", i),
		}}},
	}
	cp := &in.Compute
	if img.osType == "Linux" {
		cp.OSProfile = OSProfile{AdminUsername: "azureuser", DisablePasswordAuthentication: "true"}
		cp.PublicKeys = []PublicKey{{
			KeyData: randomSSHKey(r) + " azureuser",
			Path:    "/home/azureuser/.ssh/authorized_keys",
		}}
	} else {
		cp.OSProfile = OSProfile{AdminUsername: "azureadmin"}
		cp.LicenseType = pick(r, []string{"", "Windows_Server"})
	}
	if r.IntN(10) > 0 {
		cp.Zone = fmt.Sprint(1 + r.IntN(3))
		cp.PhysicalZone = fmt.Sprintf("%s-AZ0%d", region, 1+r.IntN(3))
	}
	if r.IntN(10) == 0 {
		cp.Priority, cp.EvictionPolicy = "Spot", pick(r, []string{"Deallocate", "Delete"})
	}
	if r.IntN(4) == 0 {
		cp.Tags["costCenter"] = fmt.Sprint(1000 + r.IntN(9000))
	}
	for lun := range r.IntN(3) {
		cp.StorageProfile.DataDisks = append(cp.StorageProfile.DataDisks, DataDisk{
			Caching: pick(r, []string{"None", "ReadOnly"}), CreateOption: "Empty",
			DiskSizeGB: pick(r, []string{"64", "128", "256", "512", "1024"}), IsSharedDisk: "false", IsUltraDisk: "false",
			LUN: fmt.Sprint(lun), ManagedDisk: ManagedDisk{StorageAccountType: "Premium_LRS"},
			Name: fmt.Sprintf("%s-data%d", name, lun), WriteAcceleratorEnabled: "false",
		})
	}
	if r.IntN(2) == 0 {
		in.Network.Interface[0].IPv4.IPAddress[0].PublicIPAddress = fmt.Sprintf("20.%d.%d.%d", 40+i>>16, i>>8&255, i&255)
	}
	if r.IntN(10) < 7 {
		in.Identity.SystemAssigned.Enabled = true
	}
	if r.IntN(5) == 0 {
		in.Identity.UserAssigned = []UserAssignedIdentity{{ResourceID: fmt.Sprintf(
			"/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-%s-app",
			subscription, group, pick(r, genOwners))}}
	}
	if r.IntN(10) < 3 {
		private := in.Network.Interface[0].IPv4.IPAddress[0].PrivateIPAddress
		frontend := fmt.Sprintf("20.%d.%d.%d", 100+i>>16, i>>8&255, i&255)
		in.LoadBalancer = &LoadBalancer{
			PublicIPAddresses: []LoadBalancerPublicIP{{FrontendIPAddress: frontend, PrivateIPAddress: private}},
			InboundRules: []InboundRule{{
				FrontendIPAddress: frontend, Protocol: "tcp", FrontendPort: 443, BackendPort: 8443, PrivateIPAddress: private,
			}},
			OutboundRules: []OutboundRule{{FrontendIPAddress: frontend, PrivateIPAddress: private}},
		}
	}
	return in
}

// WriteYAML writes inv in the inventory format that LoadFile reads, derived values
// included, so that loading the output gives the same VMs.
func (inv *Inventory) WriteYAML(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("instances:\n")
	// One encoder per VM: yaml.v3 keeps a document's whole output in one growing buffer,
	// which for a large fleet costs more time than the encoding itself.
	var buf bytes.Buffer
	for _, in := range inv.list {
		buf.Reset()
		if err := encodeYAML(&buf, []*Instance{in}); err != nil {
			return fmt.Errorf("write inventory: %s: %w", in.Name, err)
		}
		for line := range bytes.Lines(buf.Bytes()) {
			bw.WriteString("  ")
			bw.Write(line)
		}
	}
	if inv.def != nil {
		if err := encodeYAML(bw, map[string]string{"default": inv.def.Name}); err != nil {
			return fmt.Errorf("write inventory: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write inventory: %w", err)
	}
	return nil
}

func encodeYAML(w io.Writer, v any) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return enc.Close()
}

package instance

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Generated returns the VM tegata serves when it is given no inventory: the VM of the
// full sample of reference §4.2.2 (an Ubuntu 22.04 Standard_D2s_v5 in westeurope, zone 2,
// one interface 10.0.0.4 with public IP 203.0.113.10, tags env:dev and owner:platform)
// with the given vmId. It also has a system-assigned identity in DefaultTenantID and sits
// behind a Standard load balancer. vmID must be a UUID (see ParseVMID and StableVMID);
// Generated panics otherwise.
func Generated(vmID string) *Instance {
	id, err := ParseVMID(vmID)
	if err != nil {
		panic("instance: Generated: vmID " + err.Error())
	}
	const (
		publisher = "canonical"
		offer     = "0001-com-ubuntu-server-jammy"
		sku       = "22_04-lts-gen2"
		version   = "22.04.202501010"
	)
	in := &Instance{
		Name: "vm-tegata-01",
		Compute: Compute{
			AdditionalCapabilities:     AdditionalCapabilities{HibernationEnabled: "false"},
			AzEnvironment:              "AzurePublicCloud",
			IsHostCompatibilityLayerVM: "false",
			Location:                   "westeurope",
			Offer:                      offer,
			OSProfile:                  OSProfile{AdminUsername: "azureuser", DisablePasswordAuthentication: "true"},
			OSType:                     "Linux",
			PhysicalZone:               "westeurope-AZ02",
			PlatformFaultDomain:        "0",
			PlatformUpdateDomain:       "0",
			Priority:                   "Regular",
			Provider:                   "Microsoft.Compute",
			PublicKeys: []PublicKey{{
				KeyData: "ssh-ed25519 AAAAC3Nza... azureuser",
				Path:    "/home/azureuser/.ssh/authorized_keys",
			}},
			Publisher:         publisher,
			ResourceGroupName: "rg-tegata",
			SecurityProfile: SecurityProfile{
				EncryptionAtHost: "false", SecureBootEnabled: "true", SecurityType: "TrustedLaunch", VirtualTPMEnabled: "true",
			},
			SKU: sku,
			StorageProfile: StorageProfile{
				DataDisks: []DataDisk{{
					Caching: "None", CreateOption: "Empty", DiskSizeGB: "128", IsSharedDisk: "false", IsUltraDisk: "false",
					LUN: "0", ManagedDisk: ManagedDisk{StorageAccountType: "Premium_LRS"}, Name: "vm-tegata-01-data0",
					WriteAcceleratorEnabled: "false",
				}},
				ImageReference: ImageReference{
					ExactVersion: version, Offer: offer, Publisher: publisher, SKU: sku, Version: "latest",
				},
				OSDisk: OSDisk{
					Caching: "ReadWrite", CreateOption: "FromImage", DiskSizeGB: "30",
					EncryptionSettings: EncryptionSettings{Enabled: "false"},
					ManagedDisk:        ManagedDisk{StorageAccountType: "Premium_LRS"},
					Name:               "vm-tegata-01-os", WriteAcceleratorEnabled: "false",
				},
				// A Standard_D2s_v5 has no temporary disk.
				ResourceDisk: ResourceDisk{Size: "0"},
			},
			SubscriptionID: "00000000-0000-0000-0000-000000000000",
			Tags:           map[string]string{"env": "dev", "owner": "platform"},
			Version:        version,
			VMID:           id,
			VMSize:         "Standard_D2s_v5",
			Zone:           "2",
		},
		Network: Network{Interface: []Interface{{
			IPv4: IPv4{
				IPAddress: []IPv4Address{{PrivateIPAddress: "10.0.0.4", PublicIPAddress: "203.0.113.10"}},
				Subnet:    []Subnet{{Address: "10.0.0.0", Prefix: "24"}},
			},
			MacAddress: "000D3A1B2C3D",
		}}},
		// Documentation addresses (RFC 5737) stand in for the load balancer's frontends.
		LoadBalancer: &LoadBalancer{
			PublicIPAddresses: []LoadBalancerPublicIP{{FrontendIPAddress: "198.51.100.1", PrivateIPAddress: "10.0.0.4"}},
			InboundRules: []InboundRule{{
				FrontendIPAddress: "198.51.100.2", Protocol: "tcp", FrontendPort: 80, BackendPort: 443, PrivateIPAddress: "10.0.0.4",
			}},
			OutboundRules: []OutboundRule{{FrontendIPAddress: "198.51.100.2", PrivateIPAddress: "10.0.0.4"}},
		},
		Identity: Identity{SystemAssigned: SystemAssignedIdentity{Enabled: true}},
	}
	if err := in.Normalize(); err != nil {
		panic("instance: Generated: " + err.Error())
	}
	return in
}

// StableVMID returns the vmId kept in <dataDir>/vmid, creating the file with a new random
// UUID on first use, so a generated VM keeps its vmId across restarts. The directory is
// created with mode 0700 and the file with 0600. Creation is atomic: a file is either
// absent or complete, and when two processes race, both return the winner's vmId.
func StableVMID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "vmid")
	id, err := readVMID(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return id, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", fmt.Errorf("create vmId: %w", err)
	}
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand documentation)
	id = formatUUID(b)

	tmp, err := os.CreateTemp(dataDir, ".vmid-*") // mode 0600
	if err != nil {
		return "", fmt.Errorf("create vmId: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(id + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("create vmId: %w", err)
	}
	// Link, unlike rename, refuses to replace a file another process created meanwhile.
	err = os.Link(tmp.Name(), path)
	if errors.Is(err, fs.ErrExist) {
		return readVMID(path)
	}
	if err != nil {
		// Some file systems have no hard links; rename is atomic too.
		if err := os.Rename(tmp.Name(), path); err != nil {
			return "", fmt.Errorf("create vmId: %w", err)
		}
	}
	if d, err := os.Open(dataDir); err == nil {
		// Make the new directory entry durable; not every platform can sync a directory.
		_ = d.Sync()
		d.Close()
	}
	return id, nil
}

// readVMID reads a vmid file. A file that holds no UUID is an error rather than replaced,
// since replacing it would change the VM's identity behind the operator's back.
func readVMID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 128))
	if err != nil {
		return "", fmt.Errorf("read vmId: %w", err)
	}
	id, err := parseUUID(strings.TrimSpace(string(data)))
	if err != nil {
		return "", fmt.Errorf("%s: the vmId file holds no UUID; delete it to generate a new vmId", path)
	}
	return id, nil
}

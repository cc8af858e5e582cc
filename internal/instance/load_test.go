package instance

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExampleInventory(t *testing.T) {
	inv, err := LoadFile("testdata/inventory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if inv.Len() != 2 || inv.Default() == nil || inv.Default().Name != "vm-web-01" {
		t.Fatalf("got %d instances, default %v", inv.Len(), inv.Default())
	}
	web, _ := inv.ByName("vm-web-01")
	tree := web.Tree(NewestVersion, false)
	for route, want := range map[string]string{
		"compute/zone":                                 "1", // unquoted integer in the file
		"compute/platformFaultDomain":                  "0",
		"compute/isHostCompatibilityLayerVm":           "false", // unquoted boolean
		"compute/osProfile/computerName":               "vm-web-01",
		"compute/platformUpdateDomain":                 "4", // override
		"compute/storageProfile/osDisk/osType":         "Linux",
		"network/interface/0/macAddress":               "000D3A1B2C01",
		"compute/resourceId":                           "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-web/providers/Microsoft.Compute/virtualMachines/vm-web-01",
		"compute/storageProfile/osDisk/managedDisk/id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-web/providers/Microsoft.Compute/disks/vm-web-01-os",
	} {
		if got := member(t, tree, route).Value(); got != want {
			t.Errorf("%s = %q, want %q", route, got, want)
		}
	}
	batch, _ := inv.ByName("vm-batch-01")
	if id, err := ParseVMID(batch.Compute.VMID); err != nil || id != batch.Compute.VMID {
		t.Errorf("derived vmId %q is not a lower-case UUID", batch.Compute.VMID)
	}
	if got := member(t, batch.Tree("2021-08-01", true), "extended/compute/ppsType").Value(); got != "Running" {
		t.Errorf("ppsType = %q", got)
	}
	if sa := web.Identity.SystemAssigned; sa.ClientID == "" || sa.ObjectID == "" || sa.TenantID != DefaultTenantID {
		t.Errorf("system-assigned identity not completed: %+v", sa)
	}
	if ua := web.Identity.UserAssigned[0]; ua.ClientID == "" || ua.ObjectID == "" || ua.ClientID == ua.ObjectID {
		t.Errorf("user-assigned identity IDs not derived: %+v", ua)
	}
	if lb := web.LoadBalancer; lb == nil || lb.InboundRules[0].FrontendPort != 443 || lb.InboundRules[0].BackendPort != 8443 {
		t.Errorf("load balancer = %+v", web.LoadBalancer)
	}
}

// vm is a valid inventory entry of 12 lines, for tests to extend; its first line is "  - name: ...".
func vm(name, ip, mac string) string {
	return fmt.Sprintf(`  - name: %s
    compute:
      vmId: %s
      platformFaultDomain: 0
      tags:
        env: dev
    network:
      interface:
        - macAddress: %s
          ipv4:
            ipAddress:
              - privateIpAddress: %s
`, name, derivedUUID("test", name), mac, ip)
}

func TestLoadErrors(t *testing.T) {
	a := vm("vm-a", "10.0.0.4", "000D3A000001")
	tests := []struct {
		name  string
		yaml  string
		line  int
		col   int // 0: not checked
		field string
		msg   string
	}{
		{"not an integer", "instances:\n" + a + strings.Replace(vm("vm-b", "10.0.0.5", "000D3A000002"), "platformFaultDomain: 0", "platformFaultDomain: zero", 1),
			17, 28, "instances[1].compute.platformFaultDomain", `must be a non-negative integer (for example "0")`},
		{"unknown field", "instances:\n" + strings.Replace(a, "vmId:", "vmid:", 1),
			4, 7, "instances[0].compute.vmid", `unknown field; did you mean "vmId"? (names are case-sensitive)`},
		{"compute.name", "instances:\n" + strings.Replace(a, "    compute:\n", "    compute:\n      name: x\n", 1),
			4, 7, "instances[0].compute.name", "the VM name is the instance's own name field"},
		{"duplicate key", "instances:\n" + strings.Replace(a, "      tags:", "      platformFaultDomain: 1\n      tags:", 1),
			6, 7, "instances[0].compute.platformFaultDomain", "is set twice; the first value is at line 5"},
		{"duplicate name", "instances:\n" + a + vm("vm-a", "10.0.0.5", "000D3A000002"),
			14, 0, "instances[1].name", `"vm-a" is the name of an earlier instance too`},
		{"duplicate address", "instances:\n" + a + vm("vm-b", "10.0.0.4", "000D3A000002"),
			25, 35, "instances[1].network.interface[0].ipv4.ipAddress[0].privateIpAddress", `10.0.0.4 is also an address of instance "vm-a"`},
		{"duplicate in addresses", "instances:\n" + a + vm("vm-b", "10.0.0.5", "000D3A000002") + "    addresses: [\"::ffff:10.0.0.4\"]\n",
			26, 17, "instances[1].addresses[0]", `10.0.0.4 is also an address of instance "vm-a"`},
		{"duplicate vmId", "instances:\n" + a + strings.Replace(vm("vm-b", "10.0.0.5", "000D3A000002"), derivedUUID("test", "vm-b"), derivedUUID("test", "vm-a"), 1),
			16, 13, "instances[1].compute.vmId", `is also the vmId of instance "vm-a"`},
		{"bad vmId", "instances:\n" + strings.Replace(a, derivedUUID("test", "vm-a"), "not-a-uuid", 1),
			4, 13, "instances[0].compute.vmId", "must be a UUID"},
		{"bad MAC", "instances:\n" + strings.Replace(a, "000D3A000001", "00:0d:3a:00:00", 1),
			10, 23, "instances[0].network.interface[0].macAddress", "must be a MAC address of 12 hex digits"},
		{"IPv6 in ipv4", "instances:\n" + strings.Replace(a, "10.0.0.4", "fd00::4", 1),
			13, 35, "instances[0].network.interface[0].ipv4.ipAddress[0].privateIpAddress", "must be an IPv4 address"},
		{"bad address", "instances:\n" + a + "    addresses: [10.0.0.300]\n",
			14, 17, "instances[0].addresses[0]", "must be an IPv4 or IPv6 address"},
		{"bad tag name", "instances:\n" + strings.Replace(a, "env: dev", "env/x: dev", 1),
			7, 9, `instances[0].compute.tags["env/x"]`, "tag names must be 1 to 512 characters"},
		{"port out of range", "instances:\n" + a + "    loadBalancer:\n      inboundRules:\n        - {frontendIpAddress: 198.51.100.1, protocol: tcp, frontendPort: 70000, backendPort: 80, privateIpAddress: 10.0.0.4}\n",
			16, 74, "instances[0].loadBalancer.inboundRules[0].frontendPort", "must be a port number from 1 to 65535"},
		{"port not a number", "instances:\n" + a + "    loadBalancer:\n      inboundRules:\n        - {protocol: tcp, frontendPort: http, backendPort: 80}\n",
			16, 41, "instances[0].loadBalancer.inboundRules[0].frontendPort", "must be an integer"},
		{"bad boolean", "instances:\n" + strings.Replace(a, "      tags:", "      isVmInStandbyPool: maybe\n      tags:", 1),
			6, 26, "instances[0].compute.isVmInStandbyPool", `must be "true" or "false"`},
		{"list for value", "instances:\n" + strings.Replace(a, "platformFaultDomain: 0", "platformFaultDomain: [0]", 1),
			5, 28, "instances[0].compute.platformFaultDomain", "must be a single value, not a list"},
		{"alias", "instances:\n" + strings.Replace(a, "platformFaultDomain: 0", "platformFaultDomain: &z 0\n      platformUpdateDomain: *z", 1),
			6, 29, "instances[0].compute.platformUpdateDomain", "aliases are not supported"},
		{"missing name", "instances:\n" + strings.Replace(a, "name: vm-a", "nom: vm-a", 1),
			2, 5, "instances[0].nom", "unknown field"},
		{"no name", "instances:\n  - compute: {zone: 1}\n",
			2, 5, "instances[0].name", "is required"},
		{"bad name", "instances:\n" + strings.Replace(a, "name: vm-a", "name: vm a", 1),
			2, 11, "instances[0].name", "must be 1 to 64 letters"},
		{"unknown default", "instances:\n" + a + "default: vm-z\n",
			14, 10, "default", `names "vm-z", which is not an instance`},
		{"override names nothing", "instances:\n" + a + "    overrides:\n      /compute/zoen: \"3\"\n",
			15, 7, `instances[0].overrides["/compute/zoen"]`, `has no member "zoen"`},
		{"override names object", "instances:\n" + a + "    overrides:\n      /compute/plan: x\n",
			15, 7, `instances[0].overrides["/compute/plan"]`, "names an object or array, not a value"},
		{"override syntax", "instances:\n" + a + "    overrides:\n      compute/zone: x\n",
			15, 7, `instances[0].overrides["compute/zone"]`, "must be a route starting with /"},
		{"userData", "instances:\n" + strings.Replace(a, "      tags:", "      userData: not base64!\n      tags:", 1),
			6, 17, "instances[0].compute.userData", "must be base64 text"},
		{"prefix", "instances:\n" + a + "            subnet: [{address: 10.0.0.0, prefix: 33}]\n",
			14, 50, "instances[0].network.interface[0].ipv4.subnet[0].prefix", "must be a prefix length from 0 to 32"},
		{"identity without resourceId", "instances:\n" + a + "    identity:\n      userAssigned:\n        - clientId: 0d46c104-a85f-49e2-9c96-ae58c6fa927b\n",
			16, 11, "instances[0].identity.userAssigned[0].resourceId", "is required"},
		{"yaml syntax", "instances:\n  - name: [a\n", 2, 0, "", "invalid YAML"},
		{"tab indentation", "instances:\n\t- name: a\n", 2, 0, "", "invalid YAML"},
		{"empty", "", 0, 0, "", "is empty"},
		{"no instances", "default: a\n", 1, 1, "instances", "is missing"},
		{"instances not a list", "instances: {name: a}\n", 1, 12, "instances", "must be a list of VMs"},
		{"empty list", "instances: []\n", 1, 12, "instances", "is empty"},
		{"unknown top-level", "instance:\n" + a, 1, 1, "instance", `an inventory has "instances" and "default"`},
		{"two documents", "instances:\n" + a + "---\ninstances: []\n", 14, 1, "", "second YAML document"},
		{"scalar document", "hello\n", 1, 1, "", `must be a mapping with "instances:"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("inventory.yaml", []byte(tt.yaml))
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("got %v (%T), want a *LoadError", err, err)
			}
			if le.File != "inventory.yaml" || le.Line != tt.line || (tt.col != 0 && le.Column != tt.col) || le.Field != tt.field {
				t.Errorf("at %s:%d:%d %q, want line %d col %d field %q", le.File, le.Line, le.Column, le.Field, tt.line, tt.col, tt.field)
			}
			if !strings.Contains(le.Err.Error(), tt.msg) {
				t.Errorf("message %q does not contain %q", le.Err, tt.msg)
			}
			prefix := "inventory.yaml"
			if le.Line > 0 {
				prefix += fmt.Sprintf(":%d", le.Line)
			}
			if le.Column > 0 {
				prefix += fmt.Sprintf(":%d", le.Column)
			}
			prefix += ": "
			if tt.field != "" {
				prefix += tt.field + ": "
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("Error() = %q, want prefix %q", err, prefix)
			}
		})
	}
}

func TestLoadLimits(t *testing.T) {
	defer func(n int) { instanceLimit = n }(instanceLimit)
	instanceLimit = 3
	for name, doc := range map[string]string{
		"entry by entry": "instances:\n  - name: a\n  - name: b\n  - name: c\n  - name: d\n",
		"whole document": "instances: [{name: a}, {name: b}, {name: c}, {name: d}]\n",
	} {
		_, err := Parse("big.yaml", []byte(doc))
		var le *LoadError
		if !errors.As(err, &le) || le.Field != "instances" || le.Line != 1 || !strings.Contains(le.Err.Error(), "more than 3 VMs, the limit") {
			t.Errorf("%s: too many instances gave %v", name, err)
		}
	}
	if _, err := Parse("ok.yaml", []byte("instances:\n  - name: a\n  - name: b\n  - name: c\n")); err != nil {
		t.Errorf("as many instances as the limit: %v", err)
	}

	var le *LoadError
	path := filepath.Join(t.TempDir(), "huge.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	if _, err := LoadFile(path); !errors.As(err, &le) || !strings.Contains(le.Err.Error(), "larger than 64 MiB") {
		t.Errorf("huge file: %v", err)
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want an error wrapping os.ErrNotExist", err)
	}
}

func TestScalarStyles(t *testing.T) {
	doc := `instances:
  - name: vm-a
    compute:
      platformFaultDomain: 0
      platformUpdateDomain: "1"
      zone: '2'
      isHostCompatibilityLayerVm: TRUE
      version: 1.10
      location: null
      vmSize: ~
      licenseType:
`
	inv, err := Parse("t.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := inv.All()[0].Compute
	got := []string{c.PlatformFaultDomain, c.PlatformUpdateDomain, c.Zone, c.IsHostCompatibilityLayerVM, c.Version, c.Location, c.VMSize, c.LicenseType}
	want := []string{"0", "1", "2", "true", "1.10", "", "", ""}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCanonicalValues(t *testing.T) {
	doc := `instances:
  - name: vm-a
    compute:
      vmId: 3F1C8A52-6D0E-4B7A-9C2F-1E5D7A9B0C11
    network:
      interface:
        - macAddress: 00-0d-3a-aa-bb-cc
          ipv6:
            ipAddress:
              - privateIpAddress: FD00:0:0::4
`
	inv, err := Parse("t.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	in := inv.All()[0]
	nic := in.Network.Interface[0]
	if in.Compute.VMID != testVMID || nic.MacAddress != "000D3AAABBCC" || nic.IPv6.IPAddress[0].PrivateIPAddress != "fd00::4" {
		t.Errorf("not canonical: vmId %q mac %q ipv6 %q", in.Compute.VMID, nic.MacAddress, nic.IPv6.IPAddress[0].PrivateIPAddress)
	}
}

// TestWriteYAMLRoundTrip checks that a written inventory loads back to the same VMs.
func TestWriteYAMLRoundTrip(t *testing.T) {
	for _, inv := range []*Inventory{Generate(300, 42), Single(Generated(testVMID)), mustLoad(t, "testdata/inventory.yaml")} {
		var first bytes.Buffer
		if err := inv.WriteYAML(&first); err != nil {
			t.Fatal(err)
		}
		back, err := Parse("written.yaml", first.Bytes())
		if err != nil {
			t.Fatalf("written inventory does not load: %v", err)
		}
		var second bytes.Buffer
		if err := back.WriteYAML(&second); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Error("inventory changed on a write-load-write cycle")
		}
		if back.Len() != inv.Len() || (inv.Default() == nil) != (back.Default() == nil) {
			t.Errorf("got %d VMs (default %v), want %d (default %v)", back.Len(), back.Default(), inv.Len(), inv.Default())
		}
		for i, in := range inv.All() {
			for _, v := range []string{"2019-06-01", NewestVersion} {
				if a, b := in.Tree(v, true).JSON(), back.All()[i].Tree(v, true).JSON(); !bytes.Equal(a, b) {
					t.Fatalf("%s at %s differs after the round trip\n got %s\nwant %s", in.Name, v, b, a)
				}
			}
		}
	}
}

func mustLoad(t *testing.T, path string) *Inventory {
	t.Helper()
	inv, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// TestLoadFileFallsBackToWholeParse checks that a file the entry-by-entry reader hands
// back to the whole-document parser reports that parser's error, with file and line.
func TestLoadFileFallsBackToWholeParse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "inventory.yaml")
	body := "instances:\n  - name: vm-a\n    compute:\n      location: x\ndefault: vm-a\n  - name: vm-a\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(path)
	var le *LoadError
	if !errors.As(err, &le) || le.Line == 0 || !strings.Contains(err.Error(), "inventory.yaml:6") {
		t.Fatalf("LoadFile = %v, want a *LoadError at inventory.yaml:6", err)
	}
}

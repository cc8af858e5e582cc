package instance

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestStableVMID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	id, err := StableVMID(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !uuidV4.MatchString(id) {
		t.Errorf("vmId %q is not a lower-case version-4 UUID", id)
	}
	again, err := StableVMID(dir)
	if err != nil || again != id {
		t.Errorf("second call = %q, %v; want %q", again, err, id)
	}
	fi, err := os.Stat(filepath.Join(dir, "vmid"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("vmid file mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %v, want 0700", di.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data directory holds %d entries, want only vmid", len(entries))
	}
	other, err := StableVMID(t.TempDir())
	if err != nil || other == id {
		t.Errorf("another data directory got %q, %v", other, err)
	}
}

func TestStableVMIDConcurrent(t *testing.T) {
	dir := t.TempDir()
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if ids[i], err = StableVMID(dir); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent first calls returned different vmIds: %q", ids)
		}
	}
}

func TestStableVMIDRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vmid"), []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := StableVMID(dir); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("got %v, want an error saying to delete the file", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vmid"), []byte(strings.ToUpper(testVMID)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if id, err := StableVMID(dir); err != nil || id != testVMID {
		t.Errorf("upper-case vmid file read as %q, %v", id, err)
	}
}

func TestGeneratedPanicsOnBadVMID(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Generated accepted a vmId that is not a UUID")
		}
	}()
	Generated("vm-1")
}

func TestGenerate(t *testing.T) {
	const n = 2000
	inv := Generate(n, 1)
	if inv.Len() != n {
		t.Fatalf("Len = %d", inv.Len())
	}
	names, vmIDs, macs, ips := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, in := range inv.All() {
		nic := in.Network.Interface[0]
		ip := nic.IPv4.IPAddress[0].PrivateIPAddress
		names[in.Name], vmIDs[in.Compute.VMID], macs[nic.MacAddress], ips[ip] = true, true, true, true
		if got, ok := inv.Lookup(netip.MustParseAddr(ip)); !ok || got != in {
			t.Fatalf("Lookup(%s) does not find %s", ip, in.Name)
		}
		if !strings.HasPrefix(ip, "10.") || !uuidV4.MatchString(in.Compute.VMID) {
			t.Fatalf("%s: ip %s, vmId %s", in.Name, ip, in.Compute.VMID)
		}
	}
	if len(names) != n || len(vmIDs) != n || len(macs) != n || len(ips) != n {
		t.Errorf("distinct names %d, vmIds %d, MACs %d, IPs %d; want %d each", len(names), len(vmIDs), len(macs), len(ips), n)
	}
	again := Generate(n, 1)
	other := Generate(n, 2)
	if again.All()[7].Compute.VMID != inv.All()[7].Compute.VMID || other.All()[7].Compute.VMID == inv.All()[7].Compute.VMID {
		t.Error("Generate is not determined by its seed")
	}
}

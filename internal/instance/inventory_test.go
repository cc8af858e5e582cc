package instance

import (
	"net/netip"
	"testing"
)

func TestLookup(t *testing.T) {
	inv := mustLoad(t, "testdata/inventory.yaml")
	noDefault := mustLoad(t, "testdata/inventory.yaml")
	noDefault.def = nil
	tests := []struct {
		addr      string
		want      string // "" for no instance
		wantNoDef string
	}{
		{"10.1.0.4", "vm-web-01", "vm-web-01"},            // NIC private IPv4
		{"fd00:1::4", "vm-web-01", "vm-web-01"},           // NIC private IPv6
		{"FD00:1:0::4", "vm-web-01", "vm-web-01"},         // other spelling of the same address
		{"172.17.0.2", "vm-web-01", "vm-web-01"},          // addresses
		{"::ffff:10.2.0.4", "vm-batch-01", "vm-batch-01"}, // IPv4-mapped IPv6
		{"10.2.0.4", "vm-batch-01", "vm-batch-01"},
		{"203.0.113.21", "vm-web-01", ""}, // a public IP identifies no one: default
		{"10.9.9.9", "vm-web-01", ""},
	}
	for _, tt := range tests {
		addr := netip.MustParseAddr(tt.addr)
		for _, c := range []struct {
			inv  *Inventory
			want string
		}{{inv, tt.want}, {noDefault, tt.wantNoDef}} {
			in, ok := c.inv.Lookup(addr)
			got := ""
			if ok {
				got = in.Name
			}
			if got != c.want || ok != (c.want != "") {
				t.Errorf("Lookup(%s) = %q, %v; want %q (default %v)", tt.addr, got, ok, c.want, c.inv.Default() != nil)
			}
		}
	}
	zoned := netip.MustParseAddr("fd00:1::4").WithZone("eth0")
	if in, ok := noDefault.Lookup(zoned); !ok || in.Name != "vm-web-01" {
		t.Errorf("Lookup of a zoned address = %v, %v", in, ok)
	}
}

func TestInventoryAccessors(t *testing.T) {
	inv := mustLoad(t, "testdata/inventory.yaml")
	if inv.Len() != 2 || len(inv.All()) != 2 || inv.All()[0].Name != "vm-web-01" || inv.All()[1].Name != "vm-batch-01" {
		t.Errorf("All() not in file order")
	}
	if in, ok := inv.ByName("vm-batch-01"); !ok || in != inv.All()[1] {
		t.Error("ByName(vm-batch-01) failed")
	}
	if _, ok := inv.ByName("vm-none"); ok {
		t.Error("ByName found a VM that does not exist")
	}
}

func TestSingle(t *testing.T) {
	in := Generated(testVMID)
	inv := Single(in)
	for _, a := range []string{"10.0.0.4", "192.0.2.1", "::1"} {
		if got, ok := inv.Lookup(netip.MustParseAddr(a)); !ok || got != in {
			t.Errorf("Lookup(%s) = %v, %v; want the single VM", a, got, ok)
		}
	}
	if inv.Len() != 1 || inv.Default() != in {
		t.Errorf("Len %d, Default %v", inv.Len(), inv.Default())
	}
}

package instance

import (
	"fmt"
	"net/netip"
)

// Inventory is the set of VMs a metadata server answers for, indexed by the addresses
// their requests come from. It is immutable and safe for concurrent use.
type Inventory struct {
	list   []*Instance
	byName map[string]*Instance
	byVMID map[string]*Instance
	byAddr map[netip.Addr]*Instance
	def    *Instance
}

func newInventory(n int) *Inventory {
	return &Inventory{
		list:   make([]*Instance, 0, n),
		byName: make(map[string]*Instance, n),
		byVMID: make(map[string]*Instance, n),
		byAddr: make(map[netip.Addr]*Instance, n),
	}
}

// Single returns an inventory of one VM that answers every caller, for single-VM mode.
// in should have been normalized (Generated and LoadFile do it).
func Single(in *Instance) *Inventory {
	inv := newInventory(1)
	if err := inv.add(in); err != nil {
		// One instance cannot conflict with itself.
		panic(err)
	}
	inv.def = in
	return inv
}

// add indexes in. It fails, with a *fieldError that locates the value in in, when in's
// name, vmId or a caller address belongs to an instance added before. An address that in
// lists twice is no conflict.
func (inv *Inventory) add(in *Instance) error {
	if _, dup := inv.byName[in.Name]; dup {
		return &fieldError{path: fieldPath{}.key("name"), err: fmt.Errorf("%q is the name of an earlier instance too; give each VM its own name", in.Name)}
	}
	if other, dup := inv.byVMID[in.Compute.VMID]; dup {
		return &fieldError{path: fieldPath{}.key("compute").key("vmId"),
			err: fmt.Errorf("%s is also the vmId of instance %q; give each VM its own UUID", in.Compute.VMID, other.Name)}
	}
	var conflict error
	in.callerAddrs(func(a netip.Addr, where func() fieldPath) bool {
		if other, dup := inv.byAddr[a]; dup && other != in {
			conflict = &fieldError{path: where(), err: fmt.Errorf("%s is also an address of instance %q; "+
				"an address must identify one VM, so remove it from one of them", a, other.Name)}
			return false
		}
		return true
	})
	if conflict != nil {
		return conflict
	}
	in.callerAddrs(func(a netip.Addr, _ func() fieldPath) bool {
		inv.byAddr[a] = in
		return true
	})
	inv.list = append(inv.list, in)
	inv.byName[in.Name] = in
	inv.byVMID[in.Compute.VMID] = in
	return nil
}

// Lookup returns the VM whose request comes from addr: the one that has addr as a private
// address of one of its interfaces or in its Addresses. An IPv4-mapped IPv6 address is
// looked up as IPv4, and a zone is ignored. When no VM has addr, Lookup returns the default
// VM if there is one.
func (inv *Inventory) Lookup(addr netip.Addr) (*Instance, bool) {
	if in, ok := inv.byAddr[addr.Unmap().WithZone("")]; ok {
		return in, true
	}
	return inv.def, inv.def != nil
}

// Only returns the VM when the inventory has exactly one and it is the default, so it
// answers every caller whatever its address (single-VM mode): callers need not be told
// apart.
func (inv *Inventory) Only() (*Instance, bool) {
	if len(inv.list) == 1 && inv.def == inv.list[0] {
		return inv.def, true
	}
	return nil, false
}

// Default returns the VM that answers callers no address matches, or nil.
func (inv *Inventory) Default() *Instance { return inv.def }

// All returns the VMs in inventory order. The slice must not be modified.
func (inv *Inventory) All() []*Instance { return inv.list }

// ByName returns the VM called name.
func (inv *Inventory) ByName(name string) (*Instance, bool) {
	in, ok := inv.byName[name]
	return in, ok
}

// Len returns the number of VMs.
func (inv *Inventory) Len() int { return len(inv.list) }

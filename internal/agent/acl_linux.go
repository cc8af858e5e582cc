//go:build linux

package agent

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"syscall"
)

// POSIX ACLs as Linux stores them in the system.posix_acl_access extended
// attribute: a little-endian version 2 header, then entries of tag, perm
// and id, sorted by tag and id.
const (
	aclXattr    = "system.posix_acl_access"
	aclVersion  = 2
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
	aclNoID     = 0xffffffff
	permRead    = 4
	permExec    = 1
)

type aclEntry struct {
	tag, perm uint16
	id        uint32
}

// readACL returns path's access ACL, or the one its mode implies.
func readACL(path string) ([]aclEntry, error) {
	buf := make([]byte, 1024)
	n, err := syscall.Getxattr(path, aclXattr, buf)
	if err == syscall.ERANGE {
		buf = make([]byte, 64<<10)
		n, err = syscall.Getxattr(path, aclXattr, buf)
	}
	if err == syscall.ENODATA || err == syscall.ENOTSUP {
		fi, serr := os.Stat(path)
		if serr != nil {
			return nil, serr
		}
		m := uint16(fi.Mode().Perm())
		return []aclEntry{{aclUserObj, m >> 6 & 7, aclNoID}, {aclGroupObj, m >> 3 & 7, aclNoID}, {aclOther, m & 7, aclNoID}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the ACL of %s: %w", path, err)
	}
	return decodeACL(buf[:n])
}

func decodeACL(b []byte) ([]aclEntry, error) {
	if len(b) < 4 || binary.LittleEndian.Uint32(b) != aclVersion || (len(b)-4)%8 != 0 {
		return nil, errors.New("malformed POSIX ACL attribute")
	}
	var out []aclEntry
	for b = b[4:]; len(b) > 0; b = b[8:] {
		out = append(out, aclEntry{binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:]), binary.LittleEndian.Uint32(b[4:])})
	}
	return out, nil
}

func encodeACL(es []aclEntry) []byte {
	b := make([]byte, 4, 4+8*len(es))
	binary.LittleEndian.PutUint32(b, aclVersion)
	for _, e := range es {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// setACL adds an entry per grant to path's ACL: read for files, search for
// directories, and recomputes the mask as the union of the group class.
func setACL(path string, grants []aclGrant, dir bool) error {
	es, err := readACL(path)
	if err != nil {
		return err
	}
	perm := uint16(permRead)
	if dir {
		perm = permExec
	}
	for _, g := range grants {
		tag := uint16(aclUser)
		if g.group {
			tag = aclGroup
		}
		found := false
		for i := range es {
			if es[i].tag == tag && es[i].id == g.id {
				es[i].perm |= perm
				found = true
			}
		}
		if !found {
			es = append(es, aclEntry{tag, perm, g.id})
		}
	}
	var mask uint16
	hasMask := false
	for _, e := range es {
		switch e.tag {
		case aclGroupObj, aclUser, aclGroup:
			mask |= e.perm
		case aclMask:
			hasMask = true
		}
	}
	if hasMask {
		for i := range es {
			if es[i].tag == aclMask {
				es[i].perm = mask
			}
		}
	} else {
		es = append(es, aclEntry{aclMask, mask, aclNoID})
	}
	sort.Slice(es, func(i, j int) bool {
		if es[i].tag != es[j].tag {
			return es[i].tag < es[j].tag
		}
		return es[i].id < es[j].id
	})
	if err := syscall.Setxattr(path, aclXattr, encodeACL(es), 0); err != nil {
		if err == syscall.ENOTSUP {
			return fmt.Errorf("setting ACLs on %s: the file system does not support POSIX ACLs (mount it with acl)", path)
		}
		return fmt.Errorf("setting ACLs on %s: %w", path, err)
	}
	return nil
}

// needsTraversal reports whether others cannot search dir.
func needsTraversal(dir string) (bool, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return false, err
	}
	return fi.Mode().Perm()&0o001 == 0, nil
}

// aclGrants returns the named user and group entries of path's ACL, for
// tests and status.
func aclGrants(path string) (map[string]uint16, error) {
	es, err := readACL(path)
	if err != nil {
		return nil, err
	}
	out := map[string]uint16{}
	for _, e := range es {
		switch e.tag {
		case aclUser:
			out[fmt.Sprintf("user:%d", e.id)] = e.perm
		case aclGroup:
			out[fmt.Sprintf("group:%d", e.id)] = e.perm
		case aclMask:
			out["mask"] = e.perm
		}
	}
	return out, nil
}

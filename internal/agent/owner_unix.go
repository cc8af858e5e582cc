//go:build !windows

package agent

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
)

// resolveOwner returns the uid and gid of an owner and a group given by name
// or numeric id; "" gives -1 (unchanged).
func resolveOwner(owner, group string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if owner != "" {
		if uid, err = lookupUser(owner); err != nil {
			return -1, -1, err
		}
	}
	if group != "" {
		if gid, err = lookupGroup(group); err != nil {
			return -1, -1, err
		}
	}
	return uid, gid, nil
}

// lookupUser returns the uid of a user name or numeric id.
func lookupUser(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	u, err := user.Lookup(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		return -1, fmt.Errorf("user %q does not exist on this machine (create it first, or give a numeric uid)", name)
	}
	if err != nil {
		return -1, fmt.Errorf("user %q: %w", name, err)
	}
	return strconv.Atoi(u.Uid)
}

// lookupGroup returns the gid of a group name or numeric id.
func lookupGroup(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(name)
	var unknown user.UnknownGroupError
	if errors.As(err, &unknown) {
		return -1, fmt.Errorf("group %q does not exist on this machine (create it first, or give a numeric gid)", name)
	}
	if err != nil {
		return -1, fmt.Errorf("group %q: %w", name, err)
	}
	return strconv.Atoi(g.Gid)
}

//go:build windows

package agent

import "errors"

// resolveOwner refuses owners and groups: they are Linux options; Windows
// grants access to private keys through accounts.
func resolveOwner(owner, group string) (uid, gid int, err error) {
	if owner != "" || group != "" {
		return -1, -1, errors.New("owner and group are Linux options; on Windows, list the accounts that may read the key")
	}
	return -1, -1, nil
}

// lookupUser is not available on Windows.
func lookupUser(name string) (int, error) {
	return -1, errors.New("POSIX users do not exist on Windows")
}

// lookupGroup is not available on Windows.
func lookupGroup(name string) (int, error) {
	return -1, errors.New("POSIX groups do not exist on Windows")
}

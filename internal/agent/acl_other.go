//go:build !linux

package agent

import "errors"

var errNoACL = errors.New("POSIX ACLs (acls with aclEnabled) are supported on Linux only")

// setACL is not available outside Linux.
func setACL(path string, grants []aclGrant, dir bool) error { return errNoACL }

// needsTraversal is not available outside Linux.
func needsTraversal(dir string) (bool, error) { return false, errNoACL }

// aclGrants is not available outside Linux.
func aclGrants(path string) (map[string]uint16, error) { return nil, errNoACL }

package agent

import (
	"fmt"
	"path/filepath"
)

// An aclGrant is one resolved POSIX ACL entry the agent adds: read on the
// version files, search on the directories above them (C.6).
type aclGrant struct {
	group bool
	id    uint32
	name  string
}

// resolveACLs looks up the users and groups of acls. A missing principal is
// an error for the certificate that names it (C.6).
func resolveACLs(acls []ACL) ([]aclGrant, error) {
	var out []aclGrant
	for _, a := range acls {
		if a.User != "" {
			uid, err := lookupUser(a.User)
			if err != nil {
				return nil, fmt.Errorf("acls: %w", err)
			}
			out = append(out, aclGrant{id: uint32(uid), name: a.User})
		}
		if a.Group != "" {
			gid, err := lookupGroup(a.Group)
			if err != nil {
				return nil, fmt.Errorf("acls: %w", err)
			}
			out = append(out, aclGrant{group: true, id: uint32(gid), name: a.Group})
		}
	}
	return out, nil
}

// grantTraversal adds search (--x) entries for grants on dir and each
// directory above it that does not already let others search it, so that the
// principals can reach the files.
func grantTraversal(dir string, grants []aclGrant) error {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if needs, err := needsTraversal(d); err != nil {
			return err
		} else if needs {
			if err := setACL(d, grants, true); err != nil {
				return err
			}
		}
		if parent := filepath.Dir(d); parent == d {
			return nil
		}
	}
}

package rbac

import (
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"strings"

	"github.com/tegata-project/tegata/internal/store"
)

// Collections of a Target.
const (
	CollectionSecrets      = "secrets"
	CollectionCertificates = "certificates"
	CollectionKeys         = "keys"
)

// A Target is what a request acts on: an object (Collection and Name), or the
// vault itself (Name empty), as for list operations, issuers and contacts.
type Target struct {
	// Vault is the vault's name. A Policy compiled from the assignments of
	// several vaults requires it (and denies targets without it); assignments
	// apply only to targets of their own vault, compared case-insensitively. A
	// Policy of one vault's assignments also decides targets without a Vault.
	Vault string
	// Collection is "secrets", "certificates" or "keys" for an object (use the
	// live collection for deleted objects too), or "" for the vault.
	Collection string
	// Name is the object's name (case-insensitive), or "" for the vault.
	Name string
}

// A Decision is the answer of Policy.Decide.
type Decision struct {
	// Allowed tells whether an assignment grants the action.
	Allowed bool
	// Role is the name of the granting role when Allowed.
	Role string
	// Needed names the built-in roles that would grant the action, least
	// privileged first, when denied; for the 403 message (NeededRolesHint).
	Needed []string

	vaultLevel bool // the target was the vault: only vault-scope assignments grant
}

// A Policy holds compiled role assignments. It is immutable and safe for
// concurrent use; a nil Policy denies everything.
type Policy struct {
	grants     map[string][]grant // by principal, lower-cased
	multiVault bool               // assignments of more than one vault
}

// A grant is one compiled assignment.
type grant struct {
	vault string // lower-cased
	role  *compiledRole
	coll  string // "" for vault scope, else CollectionSecrets or CollectionCertificates
	name  string // object name for object scope
}

type compiledRole struct {
	name     string
	patterns []string
	known    uint64 // bit i: grants actions[i]
}

// actionIndex numbers the known actions (their index in actions), so that
// Decide hashes the action once and tests one bit per role.
var actionIndex = func() map[string]int {
	m := make(map[string]int, len(actions))
	for i, a := range actions {
		m[a] = i
	}
	return m
}()

// compiled are roles with their grants of the known actions worked out.
var compiled = func() []*compiledRole {
	if len(actions) > 64 {
		panic("rbac: more known actions than bits in compiledRole.known")
	}
	out := make([]*compiledRole, len(roles))
	for i, r := range roles {
		c := &compiledRole{name: r.Name, patterns: r.DataActions}
		for j, a := range actions {
			if c.match(a) {
				c.known |= 1 << j
			}
		}
		out[i] = c
	}
	return out
}()

// match reports whether one of the role's patterns covers action.
func (r *compiledRole) match(action string) bool {
	for _, p := range r.patterns {
		if Match(p, action) {
			return true
		}
	}
	return false
}

// grants reports whether the role grants action, whose index in actions is
// idx, or -1 when it is not a known action.
func (r *compiledRole) grants(action string, idx int) bool {
	if idx >= 0 {
		return r.known&(1<<idx) != 0
	}
	return r.match(action)
}

// indexOf returns the index of action in actions, or -1.
func indexOf(action string) int {
	if i, ok := actionIndex[action]; ok {
		return i
	}
	return -1
}

// Compile builds a Policy from assignments. It fails, naming the assignment,
// on an empty principal, a RoleID that LookupRole does not know, or a scope
// that is not "/", "/secrets/{name}" or "/certificates/{name}" with a valid
// object name.
func Compile(as []store.Assignment) (*Policy, error) {
	p := &Policy{grants: make(map[string][]grant)}
	vaults := map[string]bool{}
	for _, a := range as {
		if err := CheckAssignment(a); err != nil {
			return nil, err
		}
		coll, name, _ := parseScope(a.Scope)
		vault := strings.ToLower(a.Vault)
		vaults[vault] = true
		principal := strings.ToLower(a.Principal)
		p.grants[principal] = append(p.grants[principal], grant{
			vault: vault, role: compiled[lookupRole(a.RoleID)], coll: coll, name: name,
		})
	}
	p.multiVault = len(vaults) > 1
	return p, nil
}

// CheckAssignment reports what Compile would refuse in a: an empty principal,
// an unknown role, or a malformed scope. Check assignments before storing them,
// as one bad assignment makes Compile fail.
func CheckAssignment(a store.Assignment) error {
	if strings.TrimSpace(a.Principal) == "" {
		return fmt.Errorf("role assignment %q: no principal (the object ID, oid, of the identity)", a.ID)
	}
	if lookupRole(a.RoleID) < 0 {
		return fmt.Errorf("role assignment %q: role %q is not a built-in Key Vault role; use one of: %s", a.ID, a.RoleID, roleList())
	}
	if _, _, err := parseScope(a.Scope); err != nil {
		return fmt.Errorf("role assignment %q: %w", a.ID, err)
	}
	return nil
}

// parseScope splits "/", "/secrets/{name}" or "/certificates/{name}".
func parseScope(scope string) (coll, name string, err error) {
	if scope == "/" {
		return "", "", nil
	}
	c, n, ok := strings.Cut(strings.TrimPrefix(scope, "/"), "/")
	switch {
	case !ok || !strings.HasPrefix(scope, "/"):
	case strings.EqualFold(c, CollectionSecrets) && validName(n):
		return CollectionSecrets, n, nil
	case strings.EqualFold(c, CollectionCertificates) && validName(n):
		return CollectionCertificates, n, nil
	}
	return "", "", fmt.Errorf(`scope %q: want "/" (the vault), "/secrets/{name}" or "/certificates/{name}", names of 1-127 letters, digits and hyphens`, scope)
}

// validName reports whether n is a Key Vault object name: 1-127 of [0-9A-Za-z-].
func validName(n string) bool {
	if len(n) == 0 || len(n) > 127 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

func roleList() string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = r.Name
	}
	return strings.Join(names, ", ")
}

// Decide tells whether principal (a token's oid, compared case-insensitively)
// may perform action on target: whether one of its assignments of the target's
// vault has a role granting the action at a scope covering the target. A vault
// scope covers every target; an object scope covers that object only, and a
// certificate's scope also covers the secret and key of the same name; a target
// naming the vault itself is covered by vault scope only. Allowing allocates
// nothing.
func (p *Policy) Decide(principal, action string, target Target) Decision {
	if p != nil {
		gs, ok := p.grants[principal] // oids come lower-case, as they are stored
		if !ok {
			if lower := strings.ToLower(principal); lower != principal {
				gs = p.grants[lower]
			}
		}
		idx := -2 // not looked up yet
		for i := range gs {
			g := &gs[i]
			if !p.covers(g, target) {
				continue
			}
			if idx == -2 {
				idx = indexOf(action)
			}
			if g.role.grants(action, idx) {
				return Decision{Allowed: true, Role: g.role.name}
			}
		}
	}
	return Decision{Needed: neededFor(action), vaultLevel: target.Name == ""}
}

// covers reports whether g's vault and scope cover t.
func (p *Policy) covers(g *grant, t Target) bool {
	if t.Vault == "" {
		if p.multiVault {
			return false
		}
	} else if !equalFold(g.vault, t.Vault) {
		return false
	}
	if g.coll == "" {
		return true
	}
	if t.Name == "" || !equalFold(g.name, t.Name) {
		return false
	}
	if strings.EqualFold(t.Collection, g.coll) {
		return true
	}
	return g.coll == CollectionCertificates &&
		(strings.EqualFold(t.Collection, CollectionSecrets) || strings.EqualFold(t.Collection, CollectionKeys))
}

// equalFold is strings.EqualFold with a fast path for equal strings.
func equalFold(a, b string) bool { return a == b || strings.EqualFold(a, b) }

// needed lists, for each known action, the roles granting it.
var needed = func() map[string][]string {
	m := make(map[string][]string, len(actions))
	for _, a := range actions {
		m[a] = rolesGranting(a)
	}
	return m
}()

// neededFor returns a fresh list of the roles granting action.
func neededFor(action string) []string {
	if n, ok := needed[action]; ok {
		return slices.Clone(n)
	}
	return rolesGranting(action)
}

// rolesGranting names the roles that grant action, those granting fewer of
// the known actions first (least privilege), then in table order.
func rolesGranting(action string) []string {
	type cand struct {
		name  string
		reach int
	}
	var cs []cand
	idx := indexOf(action)
	for _, r := range compiled {
		if r.grants(action, idx) {
			cs = append(cs, cand{r.name, bits.OnesCount64(r.known)})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].reach < cs[j].reach })
	var names []string
	for _, c := range cs {
		names = append(names, c.name)
	}
	return names
}

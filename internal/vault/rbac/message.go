package rbac

import "strings"

// DenialMessage returns the message of a 403 ForbiddenByRbac in Key Vault's
// shape (CRLF line ends, as Azure writes them):
//
//	Caller is not authorized to perform action on resource.
//	If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.
//	Caller: oid=<principal>
//	Action: '<action>'
//	Resource: '<resource>'
//	Assignment: (not found)
//	DenyAssignmentId: null
//	DecisionReason: 'DeniedWithNoValidRBAC'
//
// Azure's Caller line also carries appid and iss, and a last line names the
// vault and its location; callers that know them may append such lines.
func DenialMessage(principal, action, resource string) string {
	var b strings.Builder
	b.WriteString("Caller is not authorized to perform action on resource.\r\n")
	b.WriteString("If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n")
	b.WriteString("Caller: oid=" + principal + "\r\n")
	b.WriteString("Action: '" + action + "'\r\n")
	b.WriteString("Resource: '" + resource + "'\r\n")
	b.WriteString("Assignment: (not found)\r\n")
	b.WriteString("DenyAssignmentId: null\r\n")
	// Azure writes a space before the line end here.
	b.WriteString("DecisionReason: 'DeniedWithNoValidRBAC' \r\n")
	return b.String()
}

// NeededRolesHint words d.Needed for a denial message, e.g. "A role that
// grants it: Key Vault Secrets User, Key Vault Certificate User, Key Vault
// Secrets Officer, Key Vault Administrator". For a target that is the vault
// itself it adds that the role must be assigned at vault scope. It returns ""
// when d allowed the action or no built-in role grants it.
func NeededRolesHint(d Decision) string {
	if d.Allowed || len(d.Needed) == 0 {
		return ""
	}
	lead := "A role that grants it: "
	if d.vaultLevel {
		lead = "A role that grants it, assigned at vault scope (/): "
	}
	return lead + strings.Join(d.Needed, ", ")
}

package renew

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/tegata-project/tegata/internal/renew/acme"
	"github.com/tegata-project/tegata/internal/vault/rbac"
)

// The vault data actions that authorise revoking and deleting a managed
// certificate (see NewAPI).
const (
	ActionRevoke = rbac.ActionCertificatesUpdate
	ActionDelete = rbac.ActionCertificatesDelete
)

// renewalAction is the tegata renewal action that grants what a vault action
// grants in the renewal service: a tegata Renewal role lets its holder read,
// issue or revoke through the API and dashboard without any right on the
// vault's data. Deleting removes the vault's certificate, so it has none.
var renewalAction = map[string]string{
	rbac.ActionCertificatesRead:   rbac.ActionRenewalsRead,
	rbac.ActionCertificatesCreate: rbac.ActionRenewalsIssue,
	ActionRevoke:                  rbac.ActionRenewalsRevoke,
}

// decide asks the vault's policy whether principal may perform action on the
// certificate name, or on the vault when name is empty (list, issue): the vault
// action itself, or its tegata renewal action.
func decide(o APIOptions, principal, action, name string) rbac.Decision {
	t := rbac.Target{Vault: o.Vault}
	if name != "" {
		t.Collection, t.Name = rbac.CollectionCertificates, name
	}
	p := o.Policy()
	d := p.Decide(principal, action, t)
	alt, ok := renewalAction[action]
	if d.Allowed || !ok {
		return d
	}
	r := p.Decide(principal, alt, t)
	if r.Allowed {
		return r
	}
	// The tegata role is the least privilege that grants it: name it first.
	d.Needed = append(r.Needed, d.Needed...)
	return d
}

// denial says what the caller lacks and which roles would grant it.
func denial(vault, name, action string, d rbac.Decision) string {
	msg := "the caller lacks " + action + " on vault " + vault
	if name != "" {
		msg = "the caller lacks " + action + " on certificate " + name + " of vault " + vault
	}
	if h := rbac.NeededRolesHint(d); h != "" {
		msg += ". " + h
	}
	return msg
}

// httpStatusOf maps the service's errors to the status of their answer.
func httpStatusOf(err error) int {
	var ae *acme.Error
	switch {
	case errors.Is(err, ErrNotManaged):
		return http.StatusNotFound
	case errors.Is(err, ErrInvalidDefinition):
		return http.StatusBadRequest
	case errors.Is(err, ErrBusy), errors.Is(err, ErrAlreadyRevoked), errors.Is(err, ErrNothingToRevoke), errors.Is(err, ErrAlreadyManaged):
		return http.StatusConflict
	case errors.As(err, &ae), errors.Is(err, ErrVault):
		return http.StatusBadGateway
	default:
		return http.StatusInternalServerError
	}
}

func (a *API) get(w http.ResponseWriter, r *http.Request) {
	d, err := a.s.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		problem(w, httpStatusOf(err), http.StatusText(httpStatusOf(err)), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// revokeRequest is the revoke body: reason by name ("keyCompromise") or by
// code (1), as the reference's {"reason":0..10} has it. An empty body means
// unspecified. disableInVault (tegata) also disables the revoked version in
// the vault.
type revokeRequest struct {
	Reason         json.RawMessage `json:"reason"`
	DisableInVault bool            `json:"disableInVault"`
}

func (a *API) revoke(w http.ResponseWriter, r *http.Request) {
	var in revokeRequest
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil && !errors.Is(err, io.EOF) {
		problem(w, http.StatusBadRequest, "Bad request", "the body is not a revoke request ({\"reason\":\"keyCompromise\"}): "+err.Error())
		return
	}
	raw := strings.TrimSpace(string(in.Reason))
	if s, err := strconv.Unquote(raw); err == nil {
		raw = s
	} else if raw == "null" {
		raw = ""
	}
	reason, err := ParseRevocationReason(raw)
	if err != nil {
		problem(w, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	st, err := a.s.RevokeWith(r.Context(), r.PathValue("name"), reason, RevokeOptions{DisableInVault: in.DisableInVault})
	if err != nil {
		problem(w, httpStatusOf(err), "Revocation failed", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *API) delete(w http.ResponseWriter, r *http.Request) {
	if err := a.s.Delete(r.Context(), r.PathValue("name")); err != nil {
		problem(w, httpStatusOf(err), "Deletion failed", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

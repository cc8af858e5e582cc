package renew

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tegata-project/tegata/internal/vault/rbac"
)

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	if len(code) > 64 {
		code = ""
	}
	// The code is not redeemed here: a link preview or a prefetch must not
	// spend it. The page posts it back when the user presses the button.
	d.render(w, http.StatusOK, "login", nil, view{Title: "Sign in", Data: struct{ Code string }{code}})
}

func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		d.loginFailed(w, http.StatusRequestEntityTooLarge, "The form could not be read: "+err.Error())
		return
	}
	if !sameOrigin(r) {
		d.loginFailed(w, http.StatusForbidden, "The sign-in form came from another site.")
		return
	}
	var principal string
	var expires time.Time
	if code := r.PostForm.Get("code"); code != "" {
		p, ok := d.sessions.redeem(code)
		if !ok {
			d.loginFailed(w, http.StatusUnauthorized, "This login link was used already or has expired (they last 10 minutes). Restart tegata up for a new one, or sign in with a token.")
			return
		}
		principal, expires = p, d.sessions.clock().Add(maxSessionTTL)
	} else {
		tok := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.PostForm.Get("token")), "Bearer "))
		who, err := d.o.Tokens.Validate(r.Context(), tok)
		if err != nil {
			d.loginFailed(w, http.StatusUnauthorized, "The token is not valid for this vault: "+err.Error())
			return
		}
		principal, expires = who.ObjectID, who.Expires
	}
	id, _ := d.sessions.create(principal, expires)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", Expires: expires,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	d.s.o.Log.Info("renew: dashboard sign-in", "principal", principal)
	http.Redirect(w, r, "/dashboard/", http.StatusSeeOther)
}

func (d *Dashboard) loginFailed(w http.ResponseWriter, status int, text string) {
	d.render(w, status, "login", nil, view{Title: "Sign in", Error: text, Data: struct{ Code string }{}})
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, _ *session) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		d.sessions.drop(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/dashboard/login", http.StatusSeeOther)
}

func (d *Dashboard) list(w http.ResponseWriter, r *http.Request, sess *session) {
	if !d.allowed(w, r, sess, rbac.ActionCertificatesRead, "") {
		return
	}
	list, err := d.s.List(r.Context())
	if err != nil {
		d.message(w, r, sess, http.StatusInternalServerError, "The store could not be read: "+err.Error())
		return
	}
	v := view{Title: "Certificates", Flash: flashes[r.URL.Query().Get("done")], Data: list,
		Can: permissions{Create: d.can(sess, rbac.ActionCertificatesCreate, "").Allowed}}
	if slices.ContainsFunc(list, func(s Status) bool { return s.InProgress }) {
		v.Refresh = 3
	}
	d.render(w, http.StatusOK, "list", sess, v)
}

func (d *Dashboard) detail(w http.ResponseWriter, r *http.Request, sess *session) {
	d.showDetail(w, r, sess, http.StatusOK, "")
}

// showDetail renders a certificate's page, with errText as its error when an
// action on it failed.
func (d *Dashboard) showDetail(w http.ResponseWriter, r *http.Request, sess *session, status int, errText string) {
	name := r.PathValue("name")
	if !d.allowed(w, r, sess, rbac.ActionCertificatesRead, name) {
		return
	}
	det, err := d.s.Get(r.Context(), name)
	if err != nil {
		d.message(w, r, sess, httpStatusOf(err), err.Error())
		return
	}
	v := view{Title: det.Name, Flash: flashes[r.URL.Query().Get("done")], Error: errText, Data: det, Can: permissions{
		Renew:  d.can(sess, rbac.ActionCertificatesCreate, name).Allowed,
		Revoke: d.can(sess, ActionRevoke, name).Allowed && det.Serial != "" && !det.Revoked,
		Delete: d.can(sess, ActionDelete, name).Allowed,
	}}
	if det.InProgress || det.Issued == 0 && len(det.History) == 0 {
		v.Refresh = 2
	}
	d.render(w, status, "detail", sess, v)
}

// addForm is the add page's data: the choices and the values entered.
type addForm struct {
	DNSNames, Name, Key, Challenge, DNSAlias, Profile string
	ReuseKey                                          bool
	Keys                                              []string
	Challenges                                        []choice
	Profiles                                          []string
}

type choice struct{ Value, Label string }

// keyChoices are the key types and sizes a definition allows, as the form
// offers them; the first is the default.
var keyChoices = map[string]struct {
	typ   string
	size  int
	curve string
}{
	"EC P-256": {"EC", 0, "P-256"}, "EC P-384": {"EC", 0, "P-384"},
	"RSA 2048": {"RSA", 2048, ""}, "RSA 3072": {"RSA", 3072, ""}, "RSA 4096": {"RSA", 4096, ""},
}

var keyOrder = []string{"EC P-256", "EC P-384", "RSA 2048", "RSA 3072", "RSA 4096"}

func (d *Dashboard) formChoices(f *addForm) {
	f.Keys = keyOrder
	f.Challenges = nil
	for _, p := range d.s.providerNames() {
		f.Challenges = append(f.Challenges, choice{"dns:" + p, "DNS-01 through " + p})
	}
	if d.s.o.HTTP01Address != "" {
		f.Challenges = append(f.Challenges, choice{"http-01", "HTTP-01 (no wildcards)"})
	}
	f.Profiles = nil
	for p := range d.s.o.ACME.Directory().Profiles {
		f.Profiles = append(f.Profiles, p)
	}
	slices.Sort(f.Profiles)
}

func (d *Dashboard) newForm(w http.ResponseWriter, r *http.Request, sess *session) {
	if !d.allowed(w, r, sess, rbac.ActionCertificatesCreate, "") {
		return
	}
	f := &addForm{Key: keyOrder[0]}
	d.formChoices(f)
	d.render(w, http.StatusOK, "new", sess, view{Title: "Add a certificate", Data: f})
}

func (d *Dashboard) add(w http.ResponseWriter, r *http.Request, sess *session) {
	if !d.allowed(w, r, sess, rbac.ActionCertificatesCreate, "") {
		return
	}
	pf := r.PostForm
	f := &addForm{DNSNames: pf.Get("dnsNames"), Name: strings.TrimSpace(pf.Get("name")), Key: pf.Get("key"),
		Challenge: pf.Get("challenge"), DNSAlias: strings.TrimSpace(pf.Get("dnsAlias")), Profile: pf.Get("profile"), ReuseKey: pf.Get("reuseKey") == "on"}
	d.formChoices(f)
	fail := func(status int, text string) {
		d.render(w, status, "new", sess, view{Title: "Add a certificate", Error: text, Data: f})
	}
	key, ok := keyChoices[f.Key]
	if !ok {
		fail(http.StatusBadRequest, "key: choose one of "+strings.Join(keyOrder, ", "))
		return
	}
	def := Definition{Name: f.Name, DNSNames: strings.FieldsFunc(f.DNSNames, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }),
		KeyType: key.typ, KeySize: key.size, Curve: key.curve, ReuseKey: f.ReuseKey, DNSAlias: f.DNSAlias, Profile: f.Profile}
	switch {
	case f.Challenge == "http-01":
		def.HTTP01 = true
	case strings.HasPrefix(f.Challenge, "dns:"):
		def.DNSProvider = strings.TrimPrefix(f.Challenge, "dns:")
	default:
		fail(http.StatusBadRequest, "challenge: choose a DNS provider or HTTP-01")
		return
	}
	def, err := d.s.Define(r.Context(), def)
	if err != nil {
		fail(httpStatusOf(err), err.Error())
		return
	}
	name := def.Name
	if !d.background(func(ctx context.Context) { d.s.Renew(ctx, name) }) {
		// Defined all the same: the next pass issues it.
		d.message(w, r, sess, http.StatusServiceUnavailable, name+" was added, but too many operations are running to issue it now; the next renewal pass will.")
		return
	}
	d.s.o.Log.Info("renew: certificate added from the dashboard", "certificate", name, "principal", sess.principal)
	http.Redirect(w, r, "/dashboard/certificates/"+url.PathEscape(name)+"?done=added", http.StatusSeeOther)
}

func (d *Dashboard) renew(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	if !d.allowed(w, r, sess, rbac.ActionCertificatesCreate, name) {
		return
	}
	if _, err := d.s.load(r.Context(), name); err != nil {
		d.message(w, r, sess, http.StatusNotFound, name+" is not a managed certificate.")
		return
	}
	if d.s.inFlight(name) {
		d.showDetail(w, r, sess, http.StatusConflict, "An operation on "+name+" is in progress already; wait for it to end.")
		return
	}
	if !d.background(func(ctx context.Context) { d.s.Renew(ctx, name) }) {
		d.showDetail(w, r, sess, http.StatusServiceUnavailable, "Too many operations are running; try again in a minute.")
		return
	}
	http.Redirect(w, r, "/dashboard/certificates/"+url.PathEscape(name)+"?done=renewing", http.StatusSeeOther)
}

// confirmation is the data of a page that asks before revoking or deleting.
type confirmation struct {
	Name, Action, Verb, Warning string
	Reasons                     []string
}

func (d *Dashboard) confirmRevoke(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	if !d.allowed(w, r, sess, ActionRevoke, name) {
		return
	}
	d.render(w, http.StatusOK, "confirm", sess, view{Title: "Revoke " + name, Data: confirmation{Name: name, Action: "revoke", Verb: "Revoke",
		Warning: "The CA will revoke the current certificate: clients that check revocation stop trusting it. This cannot be undone. " +
			"It stays in the vault and stays managed; renew it to get a new one.",
		Reasons: RevocationReasonNames}})
}

func (d *Dashboard) revoke(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	if !d.allowed(w, r, sess, ActionRevoke, name) {
		return
	}
	reason, err := ParseRevocationReason(r.PostForm.Get("reason"))
	if err != nil {
		d.showDetail(w, r, sess, http.StatusBadRequest, err.Error())
		return
	}
	if _, err := d.s.Revoke(r.Context(), name, reason); err != nil {
		if errorsIsAny(err, ErrNotManaged) {
			d.message(w, r, sess, http.StatusNotFound, err.Error())
			return
		}
		d.showDetail(w, r, sess, httpStatusOf(err), "Revocation failed: "+err.Error())
		return
	}
	d.s.o.Log.Info("renew: certificate revoked from the dashboard", "certificate", name, "principal", sess.principal)
	http.Redirect(w, r, "/dashboard/certificates/"+url.PathEscape(name)+"?done=revoked", http.StatusSeeOther)
}

func (d *Dashboard) confirmDelete(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	if !d.allowed(w, r, sess, ActionDelete, name) {
		return
	}
	d.render(w, http.StatusOK, "confirm", sess, view{Title: "Delete " + name, Data: confirmation{Name: name, Action: "delete", Verb: "Delete",
		Warning: "The renewal service stops managing it and the vault deletes it (soft delete: recoverable until its retention ends). " +
			"The CA is not told; revoke it first if its key is compromised."}})
}

func (d *Dashboard) delete(w http.ResponseWriter, r *http.Request, sess *session) {
	name := r.PathValue("name")
	if !d.allowed(w, r, sess, ActionDelete, name) {
		return
	}
	if err := d.s.Delete(r.Context(), name); err != nil {
		if errorsIsAny(err, ErrNotManaged) {
			d.message(w, r, sess, http.StatusNotFound, err.Error())
			return
		}
		d.showDetail(w, r, sess, httpStatusOf(err), "Deletion failed: "+err.Error())
		return
	}
	d.s.o.Log.Info("renew: certificate deleted from the dashboard", "certificate", name, "principal", sess.principal)
	http.Redirect(w, r, "/dashboard/?done=deleted", http.StatusSeeOther)
}

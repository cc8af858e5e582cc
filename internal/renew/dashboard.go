package renew

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tegata-project/tegata/internal/vault/rbac"
)

// The dashboard is the API's web face (B.3): server-rendered pages under
// /dashboard/ on the same host, with no script at all (confirmations are pages
// of their own; a page with work in flight refreshes itself with a meta tag),
// so its Content-Security-Policy can be default-src 'self'.

//go:embed dashboard_templates
var dashboardFiles embed.FS

// DashboardOptions configure the dashboard.
type DashboardOptions struct {
	// APIOptions are the token validator, policy and vault name the API uses:
	// the dashboard signs in with the same tokens and asks the same roles.
	APIOptions
	// Sessions holds the signed-in browsers (default: a new store of 1000).
	Sessions *Sessions
	// Context ends the background issuances and renewals the dashboard
	// started (default: they run to their own 15-minute deadline).
	Context context.Context
}

// A Dashboard serves the web dashboard of a Service.
type Dashboard struct {
	s        *Service
	o        DashboardOptions
	mux      *http.ServeMux
	sessions *sessionStore
	pages    map[string]*template.Template
	slots    chan struct{} // bounds the background operations in flight
}

const (
	sessionCookie = "__Host-tegata-dashboard" // __Host-: Secure, Path=/, no Domain, so no sibling host can set it
	maxFormBytes  = 32 << 10                  // a token is at most 16 KiB; every form is far smaller
	maxBackground = 32
)

// NewDashboard returns the dashboard of s.
func NewDashboard(s *Service, o DashboardOptions) (*Dashboard, error) {
	if o.Sessions == nil {
		o.Sessions = NewSessions(0)
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	d := &Dashboard{s: s, o: o, mux: http.NewServeMux(), sessions: o.Sessions.st,
		pages: map[string]*template.Template{}, slots: make(chan struct{}, maxBackground)}
	funcs := template.FuncMap{
		"when":       d.when,
		"daysLeft":   d.daysLeft,
		"expired":    func(t time.Time) bool { return !t.IsZero() && d.s.o.Clock().After(t) },
		"shortLived": func(nb, na time.Time) bool { return !nb.IsZero() && na.Sub(nb) <= 10*24*time.Hour },
		"clip":       func(s string) string { return clip(s, 160) },
		"state":      stateOf,
		"reverse":    func(h []Attempt) []Attempt { out := slices.Clone(h); slices.Reverse(out); return out },
	}
	for _, p := range []string{"list", "detail", "new", "confirm", "login", "message"} {
		t, err := template.New(p).Funcs(funcs).ParseFS(dashboardFiles, "dashboard_templates/layout.html", "dashboard_templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("renew: dashboard template %s: %w", p, err)
		}
		d.pages[p] = t
	}
	static, _ := fs.Sub(dashboardFiles, "dashboard_templates")
	d.mux.HandleFunc("GET /dashboard/static/style.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		http.ServeFileFS(w, r, static, "style.css")
	})
	d.mux.HandleFunc("GET /dashboard", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/dashboard/", http.StatusSeeOther) })
	d.mux.HandleFunc("GET /dashboard/login", d.loginPage)
	d.mux.HandleFunc("POST /dashboard/login", d.login)
	d.handle("POST /dashboard/logout", d.logout)
	d.handle("GET /dashboard/{$}", d.list)
	d.handle("GET /dashboard/new", d.newForm)
	d.handle("POST /dashboard/certificates", d.add)
	d.handle("GET /dashboard/certificates/{name}", d.detail)
	d.handle("POST /dashboard/certificates/{name}/renew", d.renew)
	d.handle("GET /dashboard/certificates/{name}/revoke", d.confirmRevoke)
	d.handle("POST /dashboard/certificates/{name}/revoke", d.revoke)
	d.handle("GET /dashboard/certificates/{name}/delete", d.confirmDelete)
	d.handle("POST /dashboard/certificates/{name}/delete", d.delete)
	d.mux.HandleFunc("/dashboard/", func(w http.ResponseWriter, r *http.Request) {
		d.message(w, r, nil, http.StatusNotFound, "There is no such page.")
	})
	return d, nil
}

// LoginLink is Sessions.LoginLink of the dashboard's sessions.
func (d *Dashboard) LoginLink(principal string) string { return d.o.Sessions.LoginLink(principal) }

func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// Login links carry their code in the URL: no other site may see it. Not
	// no-referrer, with which browsers send "Origin: null" on our own POSTs.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	d.mux.ServeHTTP(w, r)
}

// handle registers a page that needs a session. POSTs also need the session's
// CSRF token and, when the browser sends one, an Origin of this host.
func (d *Dashboard) handle(pattern string, h func(http.ResponseWriter, *http.Request, *session)) {
	post := strings.HasPrefix(pattern, "POST ")
	d.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		var sess *session
		if c, err := r.Cookie(sessionCookie); err == nil {
			sess = d.sessions.get(c.Value)
		}
		if sess == nil {
			http.Redirect(w, r, "/dashboard/login", http.StatusSeeOther)
			return
		}
		if post {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				d.message(w, r, sess, http.StatusRequestEntityTooLarge, "The form could not be read: "+err.Error())
				return
			}
			if !sameOrigin(r) || !sess.validCSRF(r.PostForm.Get("csrf")) {
				d.message(w, r, sess, http.StatusForbidden, "The form's security token is missing or stale: reload the page and try again.")
				return
			}
		}
		h(w, r, sess)
	})
}

// sameOrigin rejects a POST whose Origin names another site; browsers that
// send no Origin are left to the CSRF token and the SameSite cookie.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// can asks the vault's policy whether the session's principal may perform
// action on the certificate name (or the vault, with name empty).
func (d *Dashboard) can(sess *session, action, name string) rbac.Decision {
	return decide(d.o.APIOptions, sess.principal, action, name)
}

// allowed answers 403 with the roles that would help, and false, unless the
// principal may perform action.
func (d *Dashboard) allowed(w http.ResponseWriter, r *http.Request, sess *session, action, name string) bool {
	dec := d.can(sess, action, name)
	if !dec.Allowed {
		d.message(w, r, sess, http.StatusForbidden, "Forbidden: "+denial(d.o.Vault, name, action, dec))
	}
	return dec.Allowed
}

// view is what every page template gets.
type view struct {
	Title     string
	Refresh   int // seconds; 0 for none
	Flash     string
	Error     string
	Principal string
	Vault     string
	CSRF      string
	Can       permissions
	Data      any
}

type permissions struct{ Create, Renew, Revoke, Delete bool }

func (d *Dashboard) render(w http.ResponseWriter, status int, page string, sess *session, v view) {
	if sess != nil {
		v.Principal, v.CSRF = sess.principal, sess.csrf
	}
	v.Vault = d.o.Vault
	var b strings.Builder
	if err := d.pages[page].ExecuteTemplate(&b, "layout", v); err != nil {
		d.s.o.Log.Error("renew: dashboard page failed to render", "page", page, "err", err)
		http.Error(w, "the page failed to render; see the server's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// message renders a page that only says something (errors, mostly).
func (d *Dashboard) message(w http.ResponseWriter, r *http.Request, sess *session, status int, text string) {
	d.render(w, status, "message", sess, view{Title: http.StatusText(status), Error: text})
}

// background runs work outside the request, bounded in number, and reports
// false when too many are in flight already.
func (d *Dashboard) background(work func(ctx context.Context)) bool {
	select {
	case d.slots <- struct{}{}:
	default:
		return false
	}
	go func() {
		defer func() { <-d.slots }()
		ctx, cancel := context.WithTimeout(d.o.Context, 15*time.Minute)
		defer cancel()
		work(ctx)
	}()
	return true
}

func (d *Dashboard) when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func (d *Dashboard) daysLeft(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	left := t.Sub(d.s.o.Clock())
	if left < 0 {
		return "expired"
	}
	return fmt.Sprintf("%d", int(left.Hours()/24))
}

// stateOf words a certificate's state for its detail page.
func stateOf(st Status) string {
	switch {
	case st.InProgress:
		return "an operation is in progress"
	case st.Revoked:
		return "revoked at the CA (renew it to replace it)"
	case st.Issued == 0 && st.LastError != "":
		return "not issued yet: the last attempt failed"
	case st.Issued == 0:
		return "waiting for its first issuance"
	case st.LastError != "":
		return "valid; the last renewal failed and is retried"
	default:
		return "valid"
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// flashes are the messages a redirect after a POST may ask for; the query
// names one, so no text from the URL is ever shown.
var flashes = map[string]string{
	"added":    "Added. The first issuance is running; this page refreshes until it ends.",
	"renewing": "Renewal started; this page refreshes until it ends.",
	"revoked":  "Revoked at the CA. The certificate stays in the vault until it is renewed or deleted.",
	"deleted":  "Deleted. The vault keeps it as a deleted certificate, recoverable until its retention ends.",
}

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

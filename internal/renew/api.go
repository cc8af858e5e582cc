package renew

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tegata-project/tegata/internal/vault/auth"
	"github.com/tegata-project/tegata/internal/vault/rbac"
)

// APIOptions configure the renewal service's REST API.
type APIOptions struct {
	// Tokens validates the bearer tokens callers present (the vault's
	// validator: a token for the vault is a token for its renewal service).
	Tokens *auth.Validator
	// Policy returns the vault's current role assignments: listing needs
	// certificates/read, issuing, renewing and editing certificates/create, revoking
	// ActionRevoke and deleting ActionDelete.
	Policy func() *rbac.Policy
	// Vault is the vault name the assignments are for.
	Vault string
	// Challenge is the WWW-Authenticate value of a 401.
	Challenge string
}

// API serves acmebot's v5 routes (and its v4 aliases) over the service (B.3):
//
//	GET    /api/certificates                  list
//	POST   /api/certificates                  issue (202, Location: /api/operations/{id})
//	POST   /api/certificates/{name}/renew     renew now (202)
//	POST   /api/certificates/{name}/revoke    revoke the current version at the CA (200)
//	GET    /api/operations/{id}               202 while running, 200 when done, a problem on failure
//	GET    /api/renewals                      renewal state per certificate
//	GET    /api/dns-zones                     the configured DNS providers
//
// and tegata's additions (revoke is acmebot's; these are not):
//
//	GET    /api/certificates/{name}           one certificate: status, definition, history
//	DELETE /api/certificates/{name}           stop managing it and soft-delete it in the vault (204)
//	PATCH  /api/certificates/{name}           edit it (merge patch): disabled, DNS provider, alias, profile, chain, reuseKey, renewal
//	GET    /api/providers                     the configured DNS provider instances: name and type
//	GET    /api/accounts                      the ACME account: CA, account URL, contacts (no key)
//
// and revoke's {"disableInVault":true}, which also disables the revoked
// version in the vault.
//
// Routes on one certificate are authorised on that certificate, so a role
// assigned at /certificates/{name} scope is enough for them.
type API struct {
	s   *Service
	o   APIOptions
	mux *http.ServeMux

	mu  sync.Mutex
	ops map[string]*operation
}

type operation struct {
	done   bool
	status Status
	err    error
	at     time.Time
}

// maxOperations bounds the operation records kept for polling.
const maxOperations = 1000

// NewAPI returns the REST API of s.
func NewAPI(s *Service, o APIOptions) *API {
	a := &API{s: s, o: o, mux: http.NewServeMux(), ops: map[string]*operation{}}
	read, create := rbac.ActionCertificatesRead, rbac.ActionCertificatesCreate
	// Built-in Key Vault roles carry no revoke action: revoking changes the
	// certificate's state (update), deleting removes it (delete). Both are
	// granted by Key Vault Certificates Officer and Administrator.
	revoke, del := ActionRevoke, ActionDelete
	a.handle("GET /api/certificates", read, a.list)
	a.handle("POST /api/certificates", create, a.issue)
	a.handle("POST /api/certificate", create, a.issue) // v4
	a.handle("POST /api/certificates/{name}/renew", create, a.renew)
	a.handle("POST /api/certificate/{name}/renew", create, a.renew) // v4
	a.handle("GET /api/operations/{id}", read, a.operation)
	a.handle("GET /api/state/{id}", read, a.operation) // v4
	a.handle("GET /api/renewals", read, a.list)
	a.handle("GET /api/dns-zones", read, a.zones)
	a.handle("POST /api/certificates/{name}/revoke", revoke, a.revoke)
	a.handle("POST /api/certificate/{name}/revoke", revoke, a.revoke) // v4
	a.handle("GET /api/certificates/{name}", read, a.get)
	a.handle("GET /api/certificate/{name}", read, a.get)
	a.handle("DELETE /api/certificates/{name}", del, a.delete)
	a.handle("DELETE /api/certificate/{name}", del, a.delete)
	a.handle("PATCH /api/certificates/{name}", create, a.patch)
	a.handle("PATCH /api/certificate/{name}", create, a.patch)
	a.handle("GET /api/providers", read, a.providers)
	a.handle("GET /api/accounts", read, a.accounts)
	return a
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// handle registers a route behind authentication and the data action it needs
// on the vault.
func (a *API) handle(pattern, action string, h func(http.ResponseWriter, *http.Request)) {
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok == "" {
			w.Header().Set("WWW-Authenticate", a.o.Challenge)
			problem(w, http.StatusUnauthorized, "Unauthorized", "a bearer token for the vault is required")
			return
		}
		who, err := a.o.Tokens.Validate(r.Context(), tok)
		if err != nil {
			w.Header().Set("WWW-Authenticate", a.o.Challenge)
			problem(w, http.StatusUnauthorized, "Unauthorized", "the bearer token is not valid for this vault")
			return
		}
		if d := decide(a.o, who.ObjectID, action, r.PathValue("name")); !d.Allowed {
			problem(w, http.StatusForbidden, "Forbidden", denial(a.o.Vault, r.PathValue("name"), action, d))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		h(w, r)
	})
}

// problem writes an RFC 7807 problem document.
func problem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": title, "status": status, "detail": detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// certificateItem is acmebot's list item with tegata's additions.
type certificateItem struct {
	Status
	ID                string `json:"id"`
	DNSProviderName   string `json:"dnsProviderName,omitempty"`
	KeyType           string `json:"keyType"`
	KeySize           int    `json:"keySize,omitempty"`
	KeyCurveName      string `json:"keyCurveName,omitempty"`
	ReuseKey          bool   `json:"reuseKey"`
	DNSAlias          string `json:"dnsAlias,omitempty"`
	IsExpired         bool   `json:"isExpired"`
	IsIssuedByAcmebot bool   `json:"isIssuedByAcmebot"`
	IsSameEndpoint    bool   `json:"isSameEndpoint"`
	ACMEEndpoint      string `json:"acmeEndpoint"`
	Vault             string `json:"vault"`
}

func (a *API) list(w http.ResponseWriter, r *http.Request) {
	names, err := a.s.o.Store.Blobs(r.Context(), recordPrefix)
	if err != nil {
		problem(w, http.StatusInternalServerError, "Store unavailable", err.Error())
		return
	}
	now := a.s.o.Clock()
	items := []certificateItem{}
	for _, n := range names {
		rec, err := a.s.load(r.Context(), strings.TrimPrefix(n, recordPrefix))
		if err != nil {
			continue
		}
		d := rec.Definition
		items = append(items, certificateItem{
			Status: a.s.status(rec), ID: a.s.o.Vault.URL + "/certificates/" + d.Name,
			DNSProviderName: d.DNSProvider, KeyType: d.KeyType, KeySize: d.KeySize, KeyCurveName: d.Curve, ReuseKey: d.ReuseKey,
			DNSAlias: d.DNSAlias, IsExpired: !rec.State.NotAfter.IsZero() && now.After(rec.State.NotAfter),
			IsIssuedByAcmebot: true, IsSameEndpoint: true, ACMEEndpoint: a.s.endpoint(), Vault: a.s.o.Vault.URL,
		})
	}
	writeJSON(w, http.StatusOK, items)
}

// issueRequest is acmebot's issue body (names are matched case-insensitively,
// so its PascalCase form is accepted too).
type issueRequest struct {
	CertificateName string   `json:"certificateName"`
	DNSNames        []string `json:"dnsNames"`
	DNSProviderName string   `json:"dnsProviderName"`
	KeyType         string   `json:"keyType"`
	KeySize         int      `json:"keySize"`
	KeyCurveName    string   `json:"keyCurveName"`
	ReuseKey        bool     `json:"reuseKey"`
	DNSAlias        string   `json:"dnsAlias"`
	HTTP01          bool     `json:"http01"`
	Profile         string   `json:"profile"`
	PreferredChain  string   `json:"preferredChain"`
}

func (a *API) issue(w http.ResponseWriter, r *http.Request) {
	var in issueRequest
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, "Bad request", "the body is not an issue request: "+err.Error())
		return
	}
	if in.DNSProviderName == "" && !in.HTTP01 && len(a.s.o.DNS) == 1 {
		for n := range a.s.o.DNS {
			in.DNSProviderName = n // inferred, as acmebot does when one provider serves every name
		}
	}
	d := Definition{Name: in.CertificateName, DNSNames: in.DNSNames, DNSProvider: in.DNSProviderName, KeyType: in.KeyType,
		KeySize: in.KeySize, Curve: in.KeyCurveName, ReuseKey: in.ReuseKey, DNSAlias: in.DNSAlias, HTTP01: in.HTTP01,
		Profile: in.Profile, PreferredChain: in.PreferredChain}
	if err := d.Validate(); err != nil {
		problem(w, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	if !d.HTTP01 && a.s.o.DNS[d.DNSProvider] == nil {
		problem(w, http.StatusBadRequest, "Bad request", "dnsProviderName: "+d.DNSProvider+" is not a configured DNS provider")
		return
	}
	if _, err := a.s.load(r.Context(), d.Name); err == nil {
		problem(w, http.StatusConflict, "Conflict", d.Name+" is already managed; renew it instead")
		return
	}
	a.start(w, func(ctx context.Context) (Status, error) { return a.s.Add(ctx, d) })
}

func (a *API) renew(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, err := a.s.load(r.Context(), name); err != nil {
		problem(w, http.StatusNotFound, "Not found", name+" is not a managed certificate")
		return
	}
	a.start(w, func(ctx context.Context) (Status, error) { return a.s.Renew(ctx, name) })
}

// start runs work in the background and answers 202 with the operation to poll.
func (a *API) start(w http.ResponseWriter, work func(context.Context) (Status, error)) {
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	op := &operation{at: time.Now()}
	a.mu.Lock()
	if len(a.ops) >= maxOperations {
		for k, o := range a.ops {
			if o.done {
				delete(a.ops, k)
			}
		}
	}
	a.ops[id] = op
	a.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		st, err := work(ctx)
		a.mu.Lock()
		op.done, op.status, op.err = true, st, err
		a.mu.Unlock()
	}()
	w.Header().Set("Location", "/api/operations/"+id)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id, "status": "running"})
}

func (a *API) operation(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	op, ok := a.ops[r.PathValue("id")]
	var done bool
	var st Status
	var err error
	if ok {
		done, st, err = op.done, op.status, op.err
	}
	a.mu.Unlock()
	switch {
	case !ok:
		problem(w, http.StatusNotFound, "Not found", "no such operation")
	case !done:
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "running"})
	case err != nil:
		problem(w, http.StatusInternalServerError, "Issuance failed", err.Error())
	default:
		writeJSON(w, http.StatusOK, st)
	}
}

func (a *API) zones(w http.ResponseWriter, r *http.Request) {
	type provider struct {
		Name  string     `json:"dnsProviderName"`
		Zones []struct{} `json:"dnsZones"`
	}
	out := []provider{}
	for _, n := range a.s.providerNames() {
		out = append(out, provider{Name: n, Zones: []struct{}{}})
	}
	writeJSON(w, http.StatusOK, out)
}

package renew

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/tegata-project/tegata/internal/renew/dnsprov"
	"github.com/tegata-project/tegata/internal/renew/schedule"
)

// This file holds tegata's superset of acmebot's API (reference B.3): editing
// a certificate (PATCH), and the accounts and providers resources.

// RenewalSettings are a certificate's own renewal settings, kept in its
// schedule state. Zero values mean the service's defaults: renew at two thirds
// of the lifetime (or in the CA's ARI window, which takes precedence over
// both settings when the CA offers one).
type RenewalSettings struct {
	// Ratio is the fraction of the lifetime after which the certificate
	// renews, in (0, 1).
	Ratio float64 `json:"ratio,omitempty"`
	// BeforeExpiryDays also renews it once no more than this many days of
	// validity remain (acmebot's RenewBeforeExpiry), 0-365.
	BeforeExpiryDays int `json:"beforeExpiryDays,omitempty"`
}

func renewalOf(s schedule.State) RenewalSettings {
	return RenewalSettings{Ratio: s.Ratio, BeforeExpiryDays: int(s.BeforeExpiry / (24 * time.Hour))}
}

// An Edit changes the editable settings of a managed certificate; nil fields
// are left as they are. Names and key are not editable: they make another
// certificate.
type Edit struct {
	// Disabled stops (true) or resumes (false) automatic renewal; the
	// certificate stays managed and can still be renewed on demand.
	Disabled       *bool
	DNSProvider    *string
	DNSAlias       *string
	HTTP01         *bool
	Profile        *string
	PreferredChain *string
	ReuseKey       *bool
	Ratio          *float64
	// BeforeExpiryDays: 0 to 365; 0 means none.
	BeforeExpiryDays *int
}

// Edit applies e to name's definition and schedule under its lease, and
// returns the certificate's detail. Invalid values give ErrInvalidDefinition,
// saying which field is wrong; an operation in flight on the certificate gives
// ErrBusy.
func (s *Service) Edit(ctx context.Context, name string, e Edit) (Detail, error) {
	if _, err := s.load(ctx, name); err != nil {
		return Detail{}, fmt.Errorf("%s: %w", name, ErrNotManaged)
	}
	// An attempt in flight saves the record it read when it ends, so it would
	// undo the edit: refuse while one runs.
	done, err := s.claim(name)
	if err != nil {
		return Detail{}, err
	}
	ok, err := s.withLease(ctx, name, func(r *record) error {
		d := r.Definition
		d.DNSNames = slices.Clone(d.DNSNames)
		set(&d.Disabled, e.Disabled)
		set(&d.DNSProvider, e.DNSProvider)
		set(&d.DNSAlias, e.DNSAlias)
		set(&d.HTTP01, e.HTTP01)
		set(&d.Profile, e.Profile)
		set(&d.PreferredChain, e.PreferredChain)
		set(&d.ReuseKey, e.ReuseKey)
		if err := s.checkEdited(&d); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidDefinition, err)
		}
		st := r.State
		if e.Ratio != nil {
			if v := *e.Ratio; v != 0 && !(v > 0 && v < 1) {
				return fmt.Errorf("%w: renewal.ratio: %v: use a fraction of the lifetime between 0 and 1 (0 or null: the default, 2/3)", ErrInvalidDefinition, v)
			}
			st.Ratio = *e.Ratio
		}
		if e.BeforeExpiryDays != nil {
			if v := *e.BeforeExpiryDays; v < 0 || v > 365 {
				return fmt.Errorf("%w: renewal.beforeExpiryDays: %d: use 0 to 365 days (0 or null: none)", ErrInvalidDefinition, v)
			}
			st.BeforeExpiry = time.Duration(*e.BeforeExpiryDays) * 24 * time.Hour
		}
		st.Enabled = !d.Disabled
		r.Definition, r.State = d, st
		if err := s.save(ctx, r); err != nil {
			return err
		}
		s.o.Log.Info("certificate edited", "certificate", d.Name, "disabled", d.Disabled, "dns_provider", d.DNSProvider,
			"ratio", st.Ratio, "before_expiry", st.BeforeExpiry)
		return nil
	})
	done()
	if err != nil {
		return Detail{}, err
	}
	if !ok {
		return Detail{}, fmt.Errorf("%s: %w (another replica holds it)", name, ErrBusy)
	}
	return s.Get(ctx, name)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// checkEdited validates an edited definition as Define validates a new one,
// and its profile against the CA's.
func (s *Service) checkEdited(d *Definition) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if !d.HTTP01 && s.o.DNS[d.DNSProvider] == nil {
		return fmt.Errorf("dnsProviderName: %q is not a configured DNS provider (have: %s)", d.DNSProvider, strings.Join(s.providerNames(), ", "))
	}
	if d.HTTP01 && s.o.HTTP01Address == "" {
		return errors.New("http01: this service answers no HTTP-01 challenges (set renew.http01_listen)")
	}
	if d.Profile != "" {
		profiles := s.o.ACME.Directory().Profiles
		if _, ok := profiles[d.Profile]; !ok {
			offered := "none"
			if len(profiles) > 0 {
				offered = strings.Join(slices.Sorted(maps.Keys(profiles)), ", ")
			}
			return fmt.Errorf("profile: the CA does not offer %q (it offers: %s)", d.Profile, offered)
		}
	}
	return nil
}

// patchFields are the editable fields of PATCH /api/certificates/{name}, by
// their lower-cased names (matched case-insensitively, as acmebot's bodies are).
var patchFields = []string{"disabled", "dnsProviderName", "dnsAlias", "http01", "profile", "preferredChain", "reuseKey", "renewal"}

// fixedFields make another certificate: they cannot be patched.
var fixedFields = []string{"name", "certificateName", "dnsNames", "keyType", "keySize", "keyCurveName"}

// parsePatch reads a JSON merge patch (RFC 7396) of a certificate: a member
// sets its field, null resets it to its default, absent members stay.
func parsePatch(body io.Reader) (Edit, error) {
	var e Edit
	dec := json.NewDecoder(body)
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil {
		return e, fmt.Errorf("the body is not a JSON object of the fields to change (%s): %w", strings.Join(patchFields, ", "), err)
	}
	if m == nil {
		return e, errors.New("the body is not a JSON object of the fields to change")
	}
	if dec.More() {
		return e, errors.New("the body holds more than one JSON value")
	}
	seen := map[string]bool{}
	for k, raw := range m {
		field := canonical(k, patchFields)
		if field == "" {
			if f := canonical(k, fixedFields); f != "" {
				return e, fmt.Errorf("%s cannot be changed: add a new certificate with the names and key you want (POST /api/certificates), then delete this one", f)
			}
			return e, fmt.Errorf("%s is not an editable field (editable: %s)", k, strings.Join(patchFields, ", "))
		}
		if seen[field] {
			return e, fmt.Errorf("%s is given twice", field)
		}
		seen[field] = true
		var err error
		switch field {
		case "disabled":
			e.Disabled, err = member[bool](field, raw)
		case "dnsProviderName":
			e.DNSProvider, err = member[string](field, raw)
		case "dnsAlias":
			e.DNSAlias, err = member[string](field, raw)
		case "http01":
			e.HTTP01, err = member[bool](field, raw)
		case "profile":
			e.Profile, err = member[string](field, raw)
		case "preferredChain":
			e.PreferredChain, err = member[string](field, raw)
		case "reuseKey":
			e.ReuseKey, err = member[bool](field, raw)
		case "renewal":
			err = parseRenewalPatch(&e, raw)
		}
		if err != nil {
			return e, err
		}
	}
	return e, nil
}

func parseRenewalPatch(e *Edit, raw json.RawMessage) error {
	zeroRatio, zeroDays := 0.0, 0
	if string(raw) == "null" {
		e.Ratio, e.BeforeExpiryDays = &zeroRatio, &zeroDays
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return errors.New(`renewal: want an object, {"ratio":0.5,"beforeExpiryDays":30}, or null`)
	}
	fields := []string{"ratio", "beforeExpiryDays"}
	for k, v := range m {
		var err error
		switch canonical(k, fields) {
		case "ratio":
			e.Ratio, err = member[float64]("renewal.ratio", v)
		case "beforeExpiryDays":
			e.BeforeExpiryDays, err = member[int]("renewal.beforeExpiryDays", v)
		default:
			return fmt.Errorf("renewal.%s is not an editable field (editable: renewal.ratio, renewal.beforeExpiryDays)", k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// canonical returns the field of names that k names, case-insensitively.
func canonical(k string, names []string) string {
	for _, n := range names {
		if strings.EqualFold(k, n) {
			return n
		}
	}
	return ""
}

// member decodes one member of a merge patch; null is T's zero value.
func member[T any](field string, raw json.RawMessage) (*T, error) {
	v := new(T)
	if string(raw) == "null" {
		return v, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("%s: want a %s or null", field, reflect.TypeFor[T]().Kind())
	}
	return v, nil
}

func (a *API) patch(w http.ResponseWriter, r *http.Request) {
	e, err := parsePatch(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			problem(w, http.StatusRequestEntityTooLarge, "Request entity too large", fmt.Sprintf("the body is over %d bytes", mbe.Limit))
			return
		}
		problem(w, http.StatusBadRequest, "Bad request", err.Error())
		return
	}
	d, err := a.s.Edit(r.Context(), r.PathValue("name"), e)
	if err != nil {
		problem(w, httpStatusOf(err), http.StatusText(httpStatusOf(err)), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// providerItem is a configured DNS provider instance: its name and type, never
// its configuration.
type providerItem struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// providerType names the type of a provider instance: the package of lego's
// providers (rfc2136, cloudflare, ...), the type name of tegata's own.
func providerType(p dnsprov.Provider) string {
	t := reflect.TypeOf(p)
	if t == nil {
		return ""
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if pkg := t.PkgPath(); pkg != "" && !strings.HasSuffix(pkg, "/dnsprov") {
		return path.Base(pkg)
	}
	return strings.ToLower(t.Name())
}

func (a *API) providers(w http.ResponseWriter, r *http.Request) {
	out := []providerItem{}
	for _, n := range a.s.providerNames() {
		out = append(out, providerItem{Name: n, Type: providerType(a.s.o.DNS[n])})
	}
	writeJSON(w, http.StatusOK, out)
}

// accountItem is the service's ACME account as the CA knows it: no key.
type accountItem struct {
	// Directory is the CA's ACME directory URL.
	Directory string `json:"directoryUrl"`
	// ACMEEndpoint is the CA's host, as acmebot's acmeEndpoint.
	ACMEEndpoint string `json:"acmeEndpoint"`
	// NewOrderURL is where the account orders certificates.
	NewOrderURL string `json:"newOrderUrl"`
	// URI is the account URL the CA gave at registration.
	URI string `json:"accountUri"`
	// Emails are the contact addresses given at registration.
	Emails                  []string `json:"emails"`
	TermsOfService          string   `json:"termsOfService,omitempty"`
	ExternalAccountRequired bool     `json:"externalAccountRequired"`
	// ARI reports whether the CA offers renewal information.
	ARI      bool     `json:"ari"`
	Profiles []string `json:"profiles"`
}

func (a *API) accounts(w http.ResponseWriter, r *http.Request) {
	c := a.s.o.ACME
	acct, dir := c.Account(), c.Directory()
	it := accountItem{Directory: c.DirectoryURL(), ACMEEndpoint: a.s.endpoint(), NewOrderURL: dir.NewOrderURL, URI: acct.URI, Emails: []string{},
		TermsOfService: dir.TermsOfService, ExternalAccountRequired: dir.ExternalAccountRequired,
		ARI: dir.RenewalInfoURL != "", Profiles: slices.Sorted(maps.Keys(dir.Profiles))}
	if acct.Email != "" {
		it.Emails = append(it.Emails, acct.Email)
	}
	if it.Profiles == nil {
		it.Profiles = []string{}
	}
	writeJSON(w, http.StatusOK, []accountItem{it})
}

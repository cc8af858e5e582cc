package renew

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/tegata-project/tegata/internal/renew/acme"
	"github.com/tegata-project/tegata/internal/renew/notify"
)

// Lifecycle errors of the service's per-certificate operations; the API and the
// dashboard map them to 404 and 409.
var (
	// ErrNotManaged: the name is not a certificate this service manages.
	ErrNotManaged = errors.New("not a managed certificate")
	// ErrBusy: an issuance, revocation or deletion of the certificate is in
	// flight (here or, through its lease, on another replica).
	ErrBusy = errors.New("another operation on this certificate is in progress")
	// ErrAlreadyRevoked: the vault's current version was revoked already.
	ErrAlreadyRevoked = errors.New("the current certificate is already revoked")
	// ErrAlreadyManaged: a definition of that name exists already.
	ErrAlreadyManaged = errors.New("already managed")
	// ErrInvalidDefinition: a definition's field is wrong; the error says which.
	ErrInvalidDefinition = errors.New("invalid certificate definition")
	// ErrNothingToRevoke: the vault holds no issued version yet.
	ErrNothingToRevoke = errors.New("the vault holds no issued certificate to revoke")
)

// A Revocation records that a serial was revoked at the CA.
type Revocation struct {
	Serial string    `json:"serial"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	// DisabledInVault: the revoked version was also disabled in the vault.
	DisabledInVault bool `json:"disabledInVault,omitempty"`
}

// An Attempt is one entry of a certificate's history: an issuance, a renewal
// or a revocation, and how it ended.
type Attempt struct {
	At       time.Time `json:"at"`
	Action   string    `json:"action"` // "issue", "renew" or "revoke"
	OK       bool      `json:"ok"`
	Version  string    `json:"version,omitempty"`
	Serial   string    `json:"serial,omitempty"`
	NotAfter time.Time `json:"expiresOn,omitzero"`
	Error    string    `json:"error,omitempty"`
}

// maxHistory bounds the attempts kept per certificate, and maxHistoryError the
// text of each one's error: every decision pass reads every record, so a
// certificate that fails every few minutes for weeks must not grow its record.
const (
	maxHistory      = 10
	maxHistoryError = 512
)

func (r *record) remember(a Attempt) {
	a.Error = clip(a.Error, maxHistoryError)
	r.History = append(r.History, a)
	if n := len(r.History) - maxHistory; n > 0 {
		r.History = append(r.History[:0:0], r.History[n:]...)
	}
}

func actionOf(renewal bool) string {
	if renewal {
		return "renew"
	}
	return "issue"
}

// claim marks name as having an operation in flight in this process, so an
// issuance, a revocation and a deletion of one certificate never overlap (the
// lease only keeps other replicas out: its owner is this whole service).
func (s *Service) claim(name string) (done func(), err error) {
	key := strings.ToLower(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[key] {
		return nil, fmt.Errorf("%s: %w; try again when it is done", name, ErrBusy)
	}
	s.running[key] = true
	return func() {
		s.mu.Lock()
		delete(s.running, key)
		s.mu.Unlock()
	}, nil
}

// inFlight reports whether this process is working on name now.
func (s *Service) inFlight(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running[strings.ToLower(name)]
}

// revocationReasons are the reasons RFC 8555 CAs accept (Let's Encrypt refuses
// the others), by their RFC 5280 names.
var revocationReasons = map[string]acme.RevocationReason{
	"unspecified":          acme.ReasonUnspecified,
	"keyCompromise":        acme.ReasonKeyCompromise,
	"affiliationChanged":   acme.ReasonAffiliationChanged,
	"superseded":           acme.ReasonSuperseded,
	"cessationOfOperation": acme.ReasonCessationOfOperation,
}

// RevocationReasonNames lists the accepted reasons, in code order.
var RevocationReasonNames = []string{"unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation"}

// ParseRevocationReason accepts a reason by name (keyCompromise, matched
// case-insensitively) or by code (1); empty means unspecified.
func ParseRevocationReason(s string) (acme.RevocationReason, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return acme.ReasonUnspecified, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		for _, r := range revocationReasons {
			if int(r) == n {
				return r, nil
			}
		}
	}
	for name, r := range revocationReasons {
		if strings.EqualFold(name, s) {
			return r, nil
		}
	}
	return 0, fmt.Errorf("reason: %q: use one of %s (or their codes 0, 1, 3, 4, 5)", s, strings.Join(RevocationReasonNames, ", "))
}

func reasonName(r acme.RevocationReason) string {
	for name, v := range revocationReasons {
		if v == r {
			return name
		}
	}
	return strconv.Itoa(int(r))
}

// Revoke asks the CA to revoke the vault's current version of name. The vault
// object stays as it is (acmebot #1100): the certificate is still managed and
// renewed on its schedule; renew it now to replace it, or delete it.
func (s *Service) Revoke(ctx context.Context, name string, reason acme.RevocationReason) (Status, error) {
	return s.RevokeWith(ctx, name, reason, RevokeOptions{})
}

// RevokeOptions are the optional parts of a revocation.
type RevokeOptions struct {
	// DisableInVault also disables the revoked version in the vault once the CA
	// has revoked it (tegata's superset of acmebot's revoke). The certificate
	// stays managed: a renewal adds a new, enabled version.
	DisableInVault bool
}

// RevokeWith is Revoke with options. When the CA revokes but the vault refuses
// to disable the version, the revocation is recorded and the error says so.
func (s *Service) RevokeWith(ctx context.Context, name string, reason acme.RevocationReason, o RevokeOptions) (Status, error) {
	if _, err := s.load(ctx, name); err != nil {
		return Status{}, fmt.Errorf("%s: %w", name, ErrNotManaged)
	}
	done, err := s.claim(name)
	if err != nil {
		return Status{}, err
	}
	defer done()
	var st Status
	ok, err := s.withLease(ctx, name, func(r *record) error {
		cur, err := s.o.Vault.current(ctx, r.Definition.Name)
		if err != nil {
			return err
		}
		if cur == nil {
			return fmt.Errorf("%s: %w", name, ErrNothingToRevoke)
		}
		serial := cur.Leaf.SerialNumber.Text(16)
		if r.Revoked != nil && r.Revoked.Serial == serial {
			return fmt.Errorf("%s (serial %s, %s): %w", name, serial, r.Revoked.At.UTC().Format(time.RFC3339), ErrAlreadyRevoked)
		}
		now := s.o.Clock()
		if err := s.o.ACME.Revoke(ctx, cur.Leaf, reason); err != nil {
			r.remember(Attempt{At: now, Action: "revoke", Serial: serial, Error: err.Error()})
			if serr := s.save(ctx, r); serr != nil {
				s.o.Log.Warn("renew: recording a failed revocation", "certificate", name, "err", serr)
			}
			return err
		}
		r.Revoked = &Revocation{Serial: serial, Reason: reasonName(reason), At: now}
		var derr error
		if o.DisableInVault {
			if derr = s.o.Vault.disable(ctx, r.Definition.Name, cur.Version); derr == nil {
				r.Revoked.DisabledInVault = true
			} else {
				derr = fmt.Errorf("%s was revoked at the CA but its version %s was not disabled in the vault (disable it with the vault's API): %w", name, cur.Version, derr)
			}
		}
		a := Attempt{At: now, Action: "revoke", OK: true, Version: cur.Version, Serial: serial, NotAfter: cur.Leaf.NotAfter}
		if derr != nil {
			a.Error = derr.Error()
		}
		r.remember(a)
		if err := s.save(ctx, r); err != nil {
			return fmt.Errorf("%s was revoked at the CA but the record was not saved: %w", name, err)
		}
		s.o.Log.Info("certificate revoked", "certificate", name, "serial", serial, "reason", r.Revoked.Reason, "disabled_in_vault", r.Revoked.DisabledInVault)
		if s.o.Notifier != nil {
			s.o.Notifier.Send(ctx, notify.Event{Type: notify.EventRevoked, Certificate: name, Vault: s.o.Vault.URL,
				Names: r.Definition.DNSNames, NotAfter: cur.Leaf.NotAfter, Version: cur.Version, ACMEEndpoint: s.endpoint(), Time: now})
		}
		st = s.status(r)
		if derr != nil {
			s.o.Log.Warn("renew: a revoked version was not disabled in the vault", "certificate", name, "serial", serial, "err", derr)
		}
		return derr
	})
	if err == nil && !ok {
		err = fmt.Errorf("%s: %w (another replica holds it)", name, ErrBusy)
	}
	return st, err
}

// Delete stops managing name and deletes its certificate from the vault. The
// vault's soft delete keeps it recoverable for its retention period
// (`tegata vault cert recover`); the CA is not told (revoke first for that).
func (s *Service) Delete(ctx context.Context, name string) error {
	if _, err := s.load(ctx, name); err != nil {
		return fmt.Errorf("%s: %w", name, ErrNotManaged)
	}
	done, err := s.claim(name)
	if err != nil {
		return err
	}
	defer done()
	ok, err := s.withLease(ctx, name, func(r *record) error {
		s.o.Vault.abandon(ctx, r.Definition.Name)
		if err := s.o.Vault.delete(ctx, r.Definition.Name); err != nil {
			return err
		}
		if err := s.o.Store.DeleteBlob(ctx, recordPrefix+strings.ToLower(r.Definition.Name)); err != nil {
			return fmt.Errorf("%s was deleted from the vault but its definition was not removed from the store: %w", name, err)
		}
		s.o.Log.Info("certificate deleted; it is recoverable from the vault's deleted certificates", "certificate", name)
		if s.o.Notifier != nil {
			s.o.Notifier.Send(ctx, notify.Event{Type: notify.EventDeleted, Certificate: name, Vault: s.o.Vault.URL,
				Names: r.Definition.DNSNames, NotAfter: r.State.NotAfter, ACMEEndpoint: s.endpoint(), Time: s.o.Clock()})
		}
		return nil
	})
	if err == nil && !ok {
		err = fmt.Errorf("%s: %w (another replica holds it)", name, ErrBusy)
	}
	return err
}

// Detail is everything the service knows about one certificate.
type Detail struct {
	Status
	Definition Definition `json:"definition"`
	// Renewal holds the certificate's own renewal settings (PATCH renewal).
	Renewal RenewalSettings `json:"renewal"`
	History []Attempt       `json:"history"`
}

// Get returns name's detail.
func (s *Service) Get(ctx context.Context, name string) (Detail, error) {
	r, err := s.load(ctx, name)
	if err != nil {
		return Detail{}, fmt.Errorf("%s: %w", name, ErrNotManaged)
	}
	h := r.History
	if h == nil {
		h = []Attempt{}
	}
	return Detail{Status: s.status(r), Definition: r.Definition, Renewal: renewalOf(r.State), History: h}, nil
}

// delete soft-deletes name in the vault; a certificate that is not there (never
// issued, or deleted already) is no error.
func (v *Vault) delete(ctx context.Context, name string) error {
	_, err := v.certs.DeleteCertificate(ctx, name, nil)
	var re *azcore.ResponseError
	if err == nil || errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
		return nil
	}
	return vaultError("delete", v.URL, name, err)
}

package vault

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tegata-project/tegata/internal/certkit"
	"github.com/tegata-project/tegata/internal/store"
)

// versionMeta is what the vault keeps, as JSON in store.Version.Meta, about one
// version of a secret or certificate. The value itself is sealed separately.
type versionMeta struct {
	ContentType string            `json:"contentType,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Enabled     bool              `json:"enabled"`
	NotBefore   int64             `json:"nbf,omitempty"`
	Expires     int64             `json:"exp,omitempty"`
	Created     int64             `json:"created"`
	Updated     int64             `json:"updated"`
	// Managed marks the secret behind a certificate.
	Managed         bool   `json:"managed,omitempty"`
	PreviousVersion string `json:"previousVersion,omitempty"`

	// Certificates only: the leaf's DER and the rest of the chain, in the
	// order served.
	Cer           []byte   `json:"cer,omitempty"`
	Chain         [][]byte `json:"chain,omitempty"`
	PreserveOrder bool     `json:"preserveCertOrder,omitempty"`
}

// objectMeta is what the vault keeps per name, as JSON in store.Object.Meta.
type objectMeta struct {
	// Managed marks a secret object owned by the certificate of the same name.
	Managed bool `json:"managed,omitempty"`
	// Policy and Pending belong to certificates.
	Policy  *certkit.Policy `json:"policy,omitempty"`
	Pending *operation      `json:"pending,omitempty"`
}

// operation is a certificate's pending (or last) operation record, A.10.
type operation struct {
	RequestID             string          `json:"request_id"`
	Issuer                string          `json:"issuer"`
	CSR                   []byte          `json:"csr,omitempty"`
	CancellationRequested bool            `json:"cancellation_requested"`
	Status                string          `json:"status"`
	StatusDetails         string          `json:"status_details,omitempty"`
	Version               string          `json:"version"` // the version the merge creates
	Tags                  json.RawMessage `json:"tags,omitempty"`
	Attributes            *attributesIn   `json:"attributes,omitempty"`
	PreserveOrder         bool            `json:"preserveCertOrder,omitempty"`
	ErrorCode             string          `json:"error_code,omitempty"`
	ErrorMessage          string          `json:"error_message,omitempty"`
}

// attributesIn is what a request may set: enabled, nbf and exp.
type attributesIn struct {
	Enabled   *bool  `json:"enabled,omitempty"`
	NotBefore *int64 `json:"nbf,omitempty"`
	Expires   *int64 `json:"exp,omitempty"`
}

// attributesOut is what every bundle carries.
type attributesOut struct {
	Enabled         bool   `json:"enabled"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoveryLevel   string `json:"recoveryLevel"`
	RecoverableDays *int   `json:"recoverableDays,omitempty"`
}

func (v *Vault) attributes(m *versionMeta) attributesOut {
	a := attributesOut{Enabled: m.Enabled, Created: m.Created, Updated: m.Updated, RecoveryLevel: v.recoveryLevel()}
	if m.NotBefore != 0 {
		a.NotBefore = &m.NotBefore
	}
	if m.Expires != 0 {
		a.Expires = &m.Expires
	}
	if v.opts.RecoverableDays > 0 {
		d := v.opts.RecoverableDays
		a.RecoverableDays = &d
	}
	return a
}

// apply sets the request's attributes on m and validates them.
func (in *attributesIn) apply(m *versionMeta) *kvError {
	if in == nil {
		return nil
	}
	if in.Enabled != nil {
		m.Enabled = *in.Enabled
	}
	if in.NotBefore != nil {
		m.NotBefore = *in.NotBefore
	}
	if in.Expires != nil {
		m.Expires = *in.Expires
	}
	if m.NotBefore != 0 && m.Expires != 0 && m.Expires < m.NotBefore {
		return badParameter("attributes.exp (%d) is before attributes.nbf (%d)", m.Expires, m.NotBefore)
	}
	return nil
}

// Limits from A.13.
const (
	maxSecretValue = 25 * 1024
	maxTags        = 15
	maxTagName     = 512
	maxTagValue    = 256
	maxContentType = 255
	maxNameLength  = 127
	maxPageSize    = 25
)

func checkTags(tags map[string]string) *kvError {
	if len(tags) > maxTags {
		return badParameter("%d tags given; an object carries at most %d", len(tags), maxTags)
	}
	for k, v := range tags {
		if len(k) == 0 || len(k) > maxTagName {
			return badParameter("tag name %.40q is %d characters; tag names are 1 to %d characters", k, len(k), maxTagName)
		}
		if len(v) > maxTagValue {
			return badParameter("tag %.40q has a value of %d characters; tag values are at most %d characters", k, len(v), maxTagValue)
		}
	}
	return nil
}

// validName reports whether s is a valid object name: 1-127 of [0-9A-Za-z-].
func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}

func nameError(kind, name string) *kvError {
	return badParameter("The %s name %.140q is invalid: use 1 to 127 characters, letters, digits and hyphens only", kind, name)
}

// validVersion reports whether s looks like a version id (32 hex digits).
func validVersion(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func decodeVersionMeta(v store.Version) (versionMeta, error) {
	var m versionMeta
	if err := json.Unmarshal(v.Meta, &m); err != nil {
		return m, fmt.Errorf("vault: version %s/%s of %s: stored metadata is unreadable: %w", v.Kind, v.Name, v.ID, err)
	}
	return m, nil
}

func decodeObjectMeta(o store.Object) (objectMeta, error) {
	var m objectMeta
	if len(o.Meta) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(o.Meta, &m); err != nil {
		return m, fmt.Errorf("vault: object %s/%s: stored metadata is unreadable: %w", o.Kind, o.Name, err)
	}
	return m, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own types are marshalled
	}
	return b
}

func unix(t time.Time) int64 { return t.Unix() }

var zeroTime time.Time

func lowerName(s string) string { return strings.ToLower(s) }

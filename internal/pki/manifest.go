package pki

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// ManifestEntry describes one CA certificate in the manifest (reference §6.7).
type ManifestEntry struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"` // root, cross or sub
	Subject   string    `json:"subject"`
	SHA256    string    `json:"sha256"`
	SHA1      string    `json:"sha1"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// Status is planned (published, not signing yet), active, retiring (no longer
	// signing, still valid: documents it signed still verify) or retired (expired).
	Status string `json:"status"`
	URL    string `json:"url"`
	// FirstUse is when a Sub CA starts signing.
	FirstUse *time.Time `json:"first_use,omitempty"`
}

// Manifest is the JSON list of every CA certificate the PKI has published, with its
// fingerprints, validity, status and download URL. It is informational: verifiers check
// the certificates themselves against their roots. AIAHandler serves it as
// manifest.json next to the certificates.
type Manifest struct {
	Version      int             `json:"version"`
	Generated    time.Time       `json:"generated"`
	Certificates []ManifestEntry `json:"certificates"`
}

// Manifest returns the manifest at the Authority's clock.
func (a *Authority) Manifest() Manifest {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.clock()
	_ = a.sync(now)
	m := Manifest{Version: 1, Generated: now.UTC(), Certificates: []ManifestEntry{}}
	active, _ := a.active(now)
	for _, e := range a.published(now, true) {
		s256, s1 := sha256.Sum256(e.cert.Raw), sha1.Sum(e.cert.Raw)
		entry := ManifestEntry{
			Name: e.name, Role: e.role, Subject: e.cert.Subject.String(),
			SHA256: hex.EncodeToString(s256[:]), SHA1: hex.EncodeToString(s1[:]),
			NotBefore: e.cert.NotBefore.UTC(), NotAfter: e.cert.NotAfter.UTC(),
			URL: a.plan.aiaURL(e.name),
		}
		switch {
		case now.After(e.cert.NotAfter):
			entry.Status = "retired"
		case e.role != "sub":
			entry.Status = "active"
		case active != nil && active.cert == e.cert:
			entry.Status = "active"
		default:
			entry.Status = "retiring"
			if sc := a.subs[e.name]; sc != nil && now.Before(sc.spec.activate) {
				entry.Status = "planned"
			}
		}
		if sc := a.subs[e.name]; sc != nil && !sc.spec.activate.IsZero() {
			first := sc.spec.activate.UTC()
			entry.FirstUse = &first
		}
		m.Certificates = append(m.Certificates, entry)
	}
	return m
}

// manifestJSON is Manifest as served.
func (a *Authority) manifestJSON() []byte {
	b, _ := json.MarshalIndent(a.Manifest(), "", "  ")
	return b
}

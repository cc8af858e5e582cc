package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	iofs "io/fs"
	"sync"
	"time"
)

// An Authority is the CA hierarchy kept in one Storage. It is safe for
// concurrent use by one process; two processes must not share a Storage.
type Authority struct {
	fs    Storage
	plan  Plan
	clock func() time.Time
	ks    keyStore

	mu    sync.Mutex
	st    state
	roots []*rootCA // index i matches the plan's root i
	subs  map[string]*subCA
	leaf  *leafCert
}

type rootCA struct {
	spec  rootSpec
	cert  *x509.Certificate
	key   crypto.Signer
	xsign *x509.Certificate // issued by the previous root, when planned
}

type subCA struct {
	spec caSpec
	cert *x509.Certificate
	key  crypto.Signer
}

type leafCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// state is what the plan alone cannot say: when the schedule started and
// which unplanned rotations happened.
type state struct {
	Version   int        `json:"version"`
	KeyID     string     `json:"master_key_id"`
	Start     time.Time  `json:"start"`
	Rotations []rotation `json:"rotations,omitempty"`
}

type rotation struct {
	Seq int       `json:"seq"`
	At  time.Time `json:"at"`
}

const leafName = "leaf"

// Open loads the hierarchy kept in the directory dir, or creates it on first
// use; see OpenStorage.
func Open(dir string, master MasterKey, plan Plan, clock func() time.Time) (*Authority, error) {
	store, err := DirStorage(dir)
	if err != nil {
		return nil, err
	}
	return OpenStorage(store, master, plan, clock)
}

// OpenStorage loads the hierarchy kept in fs, or creates it on first use, and
// creates whatever the plan has introduced by clock(). Keys are encrypted
// under master; records written under another master key fail with
// ErrWrongMasterKey. Nothing that exists is regenerated. clock nil means
// time.Now.
func OpenStorage(store Storage, master MasterKey, plan Plan, clock func() time.Time) (*Authority, error) {
	if !master.valid() {
		return nil, fmt.Errorf("%w: the master key is empty; load one with LoadMasterKey", ErrBadMasterKey)
	}
	if clock == nil {
		clock = time.Now
	}
	plan = plan.WithDefaults()
	if err := plan.Validate(); err != nil {
		return nil, err
	}
	a := &Authority{fs: store, plan: plan, clock: clock, ks: keyStore{fs: store, master: master}, subs: map[string]*subCA{}}
	statePath := store.Describe("state.json")
	data, err := store.Read("state.json")
	switch {
	case errors.Is(err, iofs.ErrNotExist):
		a.st = state{Version: 1, KeyID: master.ID(), Start: plan.Start.UTC()}
		if a.st.Start.IsZero() {
			a.st.Start = clock().UTC()
		}
		if err := a.saveState(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("pki: reading %s: %w", statePath, err)
	default:
		if err := json.Unmarshal(data, &a.st); err != nil || a.st.Version != 1 {
			return nil, fmt.Errorf("%w: %s is not version 1 PKI state; restore it from backup", ErrCorruptStore, statePath)
		}
		if a.st.KeyID != master.ID() {
			return nil, fmt.Errorf("%w: %s was created under master key %s, but key %s was given; supply the original key (file or $%s)",
				ErrWrongMasterKey, statePath, a.st.KeyID, master.ID(), MasterKeyEnv)
		}
		if !plan.Start.IsZero() && !plan.Start.Equal(a.st.Start) {
			return nil, fmt.Errorf("%w: pki.start %s differs from %s recorded in %s; existing CAs follow the recorded start, so remove pki.start or set it to the recorded value",
				ErrInvalidPlan, plan.Start.Format(time.RFC3339), a.st.Start.Format(time.RFC3339), statePath)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.loadLeaf(); err != nil {
		return nil, err
	}
	if err := a.sync(clock()); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *Authority) saveState() error {
	data, err := json.MarshalIndent(a.st, "", "  ")
	if err != nil {
		return err
	}
	return a.fs.Write("state.json", data)
}

// specs returns the roots and the merged Sub CA schedule up to until.
func (a *Authority) specs(until time.Time) ([]rootSpec, []caSpec) {
	roots := a.plan.rootSpecs(a.st.Start)
	planned := a.plan.subCASpecs(a.st.Start, until, roots)
	var unplanned []caSpec
	for _, r := range a.st.Rotations {
		if r.At.After(until) {
			continue
		}
		s := caSpec{name: fmt.Sprintf("issuing-ca-r%02d", r.Seq), cn: fmt.Sprintf("%s Issuing CA R%02d", a.plan.Organization, r.Seq),
			introduce: r.At.UTC(), activate: r.At.UTC(), notAfter: r.At.Add(a.plan.SubCAValidity).UTC(), unplanned: true}
		s.root = rootAt(roots, s.introduce)
		if ra := roots[s.root].notAfter; s.notAfter.After(ra) {
			s.notAfter = ra
		}
		unplanned = append(unplanned, s)
	}
	return roots, schedule(planned, unplanned)
}

// Sync creates every root, cross-certificate and Sub CA that the plan has
// introduced by now and that has not expired, so they are published before
// they sign. Signer and Rotate call it; a server may also call it on a timer.
func (a *Authority) Sync(now time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sync(now)
}

func (a *Authority) sync(now time.Time) error {
	roots, subs := a.specs(now)
	for i, rs := range roots {
		if i < len(a.roots) {
			a.roots[i].spec = rs
			continue
		}
		if rs.notBefore.After(now) {
			break // later roots do not exist yet
		}
		r, err := a.ensureRoot(roots, i, now)
		if err != nil {
			return err
		}
		a.roots = append(a.roots, r)
	}
	for _, s := range subs {
		if cur, ok := a.subs[s.name]; ok {
			cur.spec = s // retire times move when rotations are added
			continue
		}
		if s.root >= len(a.roots) {
			continue
		}
		sc, err := a.ensureSub(s, now)
		if err != nil {
			return err
		}
		if sc != nil {
			a.subs[s.name] = sc
		}
	}
	return nil
}

// loadPair loads name's certificate and key; cert is nil when the
// certificate was never written. A key without a certificate is an
// interrupted creation that nobody has seen, so the caller may replace it.
func (a *Authority) loadPair(name string) (*x509.Certificate, crypto.Signer, error) {
	cert, err := a.ks.loadCert(name)
	if err != nil || cert == nil {
		return nil, nil, err
	}
	key, err := a.ks.loadKey(name)
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: %s exists without its key %s; restore the key from backup", ErrCorruptStore, a.ks.certPath(name), a.ks.keyPath(name))
		}
		return nil, nil, err
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pk, ok := key.Public().(equaler); !ok || !pk.Equal(cert.PublicKey) {
		return nil, nil, fmt.Errorf("%w: key %s does not match certificate %s; restore both from the same backup", ErrCorruptStore, a.ks.keyPath(name), a.ks.certPath(name))
	}
	return cert, key, nil
}

// newPair generates a key, persists it, issues the certificate and
// persists it; key first, so a stored certificate always has its key.
func (a *Authority) newPair(name, alg string, issue func(key crypto.Signer) (*x509.Certificate, error)) (*x509.Certificate, crypto.Signer, error) {
	key, err := generateKey(alg)
	if err != nil {
		return nil, nil, err
	}
	if err := a.ks.saveKey(name, key); err != nil {
		return nil, nil, err
	}
	cert, err := issue(key)
	if err != nil {
		return nil, nil, err
	}
	if err := a.ks.saveCert(name, cert); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func (a *Authority) ensureRoot(roots []rootSpec, i int, now time.Time) (*rootCA, error) {
	rs := roots[i]
	cert, key, err := a.loadPair(rs.name)
	if err != nil {
		return nil, err
	}
	if cert == nil {
		tmpl := a.plan.rootTemplate(rs)
		cert, key, err = a.newPair(rs.name, a.plan.CAKeyAlgorithm, func(key crypto.Signer) (*x509.Certificate, error) {
			// Self-signed: create fills SubjectKeyId, which the parent
			// (tmpl itself) then supplies as the AuthorityKeyId.
			return create(tmpl, tmpl, key.Public(), key)
		})
		if err != nil {
			return nil, err
		}
	}
	r := &rootCA{spec: rs, cert: cert, key: key}
	if rs.crossSign && i > 0 && i-1 < len(a.roots) {
		x, err := a.ks.loadCert(rs.xsignName())
		if err != nil {
			return nil, err
		}
		if x == nil {
			old := a.roots[i-1]
			if x, err = create(a.plan.crossTemplate(roots, i, cert), old.cert, cert.PublicKey, old.key); err != nil {
				return nil, err
			}
			if err := a.ks.saveCert(rs.xsignName(), x); err != nil {
				return nil, err
			}
		}
		r.xsign = x
	}
	return r, nil
}

func (a *Authority) ensureSub(s caSpec, now time.Time) (*subCA, error) {
	cert, key, err := a.loadPair(s.name)
	if err != nil {
		return nil, err
	}
	if cert == nil {
		if !s.notAfter.After(now) {
			return nil, nil // expired before it was ever needed: nothing to publish
		}
		root := a.roots[s.root]
		issuerName := root.spec.name
		if root.xsign != nil {
			issuerName = root.spec.xsignName()
		}
		cert, key, err = a.newPair(s.name, a.plan.CAKeyAlgorithm, func(key crypto.Signer) (*x509.Certificate, error) {
			return create(a.plan.subCATemplate(s, issuerName), root.cert, key.Public(), root.key)
		})
		if err != nil {
			return nil, err
		}
	}
	return &subCA{spec: s, cert: cert, key: key}, nil
}

func (a *Authority) loadLeaf() error {
	cert, err := a.ks.loadCert(leafName)
	if err != nil || cert == nil {
		return err
	}
	key, err := a.ks.loadKey(leafName)
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return nil // a new leaf will be issued
		}
		return err
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pk, ok := key.Public().(equaler); ok && pk.Equal(cert.PublicKey) {
		a.leaf = &leafCert{cert: cert, key: key}
	} // else: a crash between the new key and its certificate; reissue
	return nil
}

// active returns the Sub CA that signs at now: the latest activated one
// whose issuing window and validity include now.
func (a *Authority) active(now time.Time) (*subCA, error) {
	_, subs := a.specs(now)
	for i := len(subs) - 1; i >= 0; i-- {
		s := subs[i]
		if s.activate.After(now) {
			continue
		}
		sc := a.subs[s.name]
		if sc == nil || (!s.retire.IsZero() && !now.Before(s.retire)) || !now.Before(sc.cert.NotAfter) {
			break
		}
		return sc, nil
	}
	return nil, fmt.Errorf("%w at %s: every Sub CA is retired, expired or not yet activated; add a generation to pki.generations or run tegata pki rotate",
		ErrNoActiveCA, now.UTC().Format(time.RFC3339))
}

// Signer returns the key and certificate to sign attested documents with at
// now, issuing (and persisting) a new leaf from the active Sub CA when the
// current leaf is from another Sub CA, not yet valid, or within
// LeafRenewBefore of expiry. chain is what verifiers need above the leaf:
// the Sub CA, then the cross-certificate while the Sub CA's root has a valid
// one, and the self-signed root last. Embed chain[:len(chain)-1] with
// attest.SignOptions.Intermediates (§6.5: never embed the root).
func (a *Authority) Signer(now time.Time) (crypto.Signer, *x509.Certificate, []*x509.Certificate, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.sync(now); err != nil {
		return nil, nil, nil, err
	}
	sub, err := a.active(now)
	if err != nil {
		return nil, nil, nil, err
	}
	if l := a.leaf; l == nil || !bytes.Equal(l.cert.RawIssuer, sub.cert.RawSubject) || l.cert.CheckSignatureFrom(sub.cert) != nil ||
		now.Before(l.cert.NotBefore) || !now.Before(l.cert.NotAfter.Add(-a.plan.LeafRenewBefore)) {
		cert, key, err := a.newPair(leafName, a.plan.KeyAlgorithm, func(key crypto.Signer) (*x509.Certificate, error) {
			return create(a.plan.leafTemplate(sub.spec.name, sub.cert, now), sub.cert, key.Public(), sub.key)
		})
		if err != nil {
			return nil, nil, nil, err
		}
		a.leaf = &leafCert{cert: cert, key: key}
	}
	root := a.roots[sub.spec.root]
	chain := []*x509.Certificate{sub.cert}
	if root.xsign != nil && now.Before(root.xsign.NotAfter) {
		chain = append(chain, root.xsign)
	}
	chain = append(chain, root.cert)
	return a.leaf.key, a.leaf.cert, chain, nil
}

// Rotate makes an unplanned rotation at now: a new Sub CA is introduced and
// activated at once, the previous one retires (it stays published until it
// expires), and a leaf from the new Sub CA is issued. The rotation is
// recorded, so it survives restarts. It returns the new Sub CA.
func (a *Authority) Rotate(now time.Time) (*x509.Certificate, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.sync(now); err != nil {
		return nil, err
	}
	seq := len(a.st.Rotations) + 1
	a.st.Rotations = append(a.st.Rotations, rotation{Seq: seq, At: now.UTC()})
	if err := a.saveState(); err != nil {
		a.st.Rotations = a.st.Rotations[:seq-1]
		return nil, err
	}
	if err := a.sync(now); err != nil {
		return nil, err
	}
	a.leaf = nil // the next Signer call issues from the new Sub CA
	sc := a.subs[fmt.Sprintf("issuing-ca-r%02d", seq)]
	if sc == nil {
		return nil, fmt.Errorf("%w: rotation %d at %s produced no Sub CA", ErrNoActiveCA, seq, now.UTC().Format(time.RFC3339))
	}
	return sc.cert, nil
}

// Roots returns the self-signed roots that exist and have not expired at
// the Authority's clock, oldest first: the verifier's trust anchors.
func (a *Authority) Roots() []*x509.Certificate {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.clock()
	var out []*x509.Certificate
	for _, r := range a.roots {
		if now.Before(r.cert.NotAfter) {
			out = append(out, r.cert)
		}
	}
	return out
}

// Intermediates returns every unexpired Sub CA, current or announced, and
// every unexpired cross-certificate, at the Authority's clock: the
// verifier's intermediates bundle.
func (a *Authority) Intermediates() []*x509.Certificate {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*x509.Certificate
	for _, e := range a.published(a.clock(), false) {
		if e.role != "root" {
			out = append(out, e.cert)
		}
	}
	return out
}

type published struct {
	name, role string
	cert       *x509.Certificate
}

// published lists the CA certificates in a stable order (roots, their
// cross-certificates, Sub CAs by activation); all includes expired ones.
func (a *Authority) published(now time.Time, all bool) []published {
	var out []published
	live := func(c *x509.Certificate) bool { return all || now.Before(c.NotAfter) }
	for _, r := range a.roots {
		if live(r.cert) {
			out = append(out, published{r.spec.name, "root", r.cert})
		}
	}
	for _, r := range a.roots {
		if r.xsign != nil && live(r.xsign) {
			out = append(out, published{r.spec.xsignName(), "cross", r.xsign})
		}
	}
	_, subs := a.specs(now)
	seen := map[string]bool{}
	for _, s := range subs {
		if sc := a.subs[s.name]; sc != nil && live(sc.cert) {
			out = append(out, published{s.name, "sub", sc.cert})
			seen[s.name] = true
		}
	}
	if all { // Sub CAs introduced after now (clock behind the last Signer call)
		for name, sc := range a.subs {
			if !seen[name] {
				out = append(out, published{name, "sub", sc.cert})
			}
		}
	}
	return out
}

// Bundle returns the PEM of every unexpired root, cross-certificate and
// Sub CA, current or announced, at the Authority's clock, like Azure's CA
// details page. A comment line before each block names it.
func (a *Authority) Bundle() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.clock()
	// Publish what the plan has introduced by now even if nothing has signed since;
	// a failure here leaves the bundle as it was, and Signer reports the error.
	_ = a.sync(now)
	var b bytes.Buffer
	for _, e := range a.published(now, false) {
		fmt.Fprintf(&b, "# %s (%s): %s, valid %s to %s\n", e.name, e.role, e.cert.Subject.CommonName,
			e.cert.NotBefore.UTC().Format(time.RFC3339), e.cert.NotAfter.UTC().Format(time.RFC3339))
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: e.cert.Raw})
	}
	return b.Bytes()
}

// Timeline is Plan.Timeline for this hierarchy: its recorded start and the
// unplanned rotations included.
func (a *Authority) Timeline(now time.Time) []Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	until := now
	if a.st.Start.After(until) {
		until = a.st.Start
	}
	roots, subs := a.specs(until.Add(2 * a.plan.Cadence))
	return timeline(roots, subs)
}

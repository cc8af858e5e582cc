package pki

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/tegata-project/tegata/attest"
)

// Profiles select the signer's base domain, as Azure's clouds do (§2.8 of
// the attestation reference).
const (
	ProfilePublic  = "public"  // metadata.azure.com
	ProfileUSGov   = "usgov"   // metadata.azure.us
	ProfileChina   = "china"   // metadata.azure.cn
	ProfileGermany = "germany" // metadata.microsoftazure.de (closed in 2021; for old clients)
	ProfileCustom  = "custom"  // Plan.Domain, for private clouds
)

// Key algorithms accepted by Plan.KeyAlgorithm and Plan.CAKeyAlgorithm.
const (
	KeyRSA2048   = "rsa-2048"
	KeyRSA3072   = "rsa-3072"
	KeyRSA4096   = "rsa-4096"
	KeyECDSAP256 = "ecdsa-p256"
	KeyECDSAP384 = "ecdsa-p384"
)

const year = 365 * 24 * time.Hour

// A Plan describes the hierarchy and its rotation schedule. It is the pki
// section of tegata.yaml; zero fields take the defaults documented on each.
// Durations are Go durations ("72h", "8760h"); times are RFC 3339.
type Plan struct {
	// Profile is public (default), usgov, china, germany or custom.
	Profile string `yaml:"profile" json:"profile"`
	// Domain is the base domain of the custom profile, e.g.
	// metadata.cloud.example; it must be empty for the other profiles.
	Domain string `yaml:"domain" json:"domain"`
	// Region is the DNS label of the leaf's second SAN,
	// <region>.<base domain>; default eastus (usgovvirginia, chinaeast2 and
	// germanycentral for the sovereign profiles, local for custom).
	Region string `yaml:"region" json:"region"`
	// Organization is the O of every subject and the prefix of CA common
	// names; default "tegata".
	Organization string `yaml:"organization" json:"organization"`
	// KeyAlgorithm is the signing leaves' key: rsa-2048 (default, as Azure),
	// rsa-3072, ecdsa-p256 or ecdsa-p384.
	KeyAlgorithm string `yaml:"key_algorithm" json:"key_algorithm"`
	// CAKeyAlgorithm is the roots' and Sub CAs' key: rsa-4096 (default, as
	// Azure's CAs), rsa-3072 or ecdsa-p384.
	CAKeyAlgorithm string `yaml:"ca_key_algorithm" json:"ca_key_algorithm"`
	// Start anchors the schedule: the first root and Sub CA begin here.
	// Zero means the moment the hierarchy is first created, which Open
	// records so that restarts keep the same schedule.
	Start time.Time `yaml:"start" json:"start"`

	// RootValidity is each root's lifetime unless its RootPlan says
	// otherwise; default 20 years.
	RootValidity time.Duration `yaml:"root_validity" json:"root_validity"`
	// Roots lists the roots; default one root at Start. Every root after the
	// first needs an Introduce time; Sub CAs introduced from then on are
	// issued under it.
	Roots []RootPlan `yaml:"roots" json:"roots"`

	// SubCAValidity is each Sub CA's lifetime from its introduction; default
	// 3 years. It must cover Lead + Cadence + LeafValidity +
	// DocumentLifetime so the last leaf and document verify to the end.
	SubCAValidity time.Duration `yaml:"sub_ca_validity" json:"sub_ca_validity"`
	// Cadence is the time between planned Sub CA activations when
	// Generations is empty; default 1 year.
	Cadence time.Duration `yaml:"cadence" json:"cadence"`
	// Lead is how long a Sub CA is published before it signs; default 90
	// days (§6.6: publish before use).
	Lead time.Duration `yaml:"lead" json:"lead"`
	// Generations, when set, replaces the cadence with an explicit list.
	Generations []Generation `yaml:"generations" json:"generations"`

	// LeafValidity is a signing leaf's lifetime; default 72h.
	LeafValidity time.Duration `yaml:"leaf_validity" json:"leaf_validity"`
	// LeafRenewBefore: a leaf is replaced this long before it expires;
	// default a third of LeafValidity.
	LeafRenewBefore time.Duration `yaml:"leaf_renew_before" json:"leaf_renew_before"`
	// DocumentLifetime is the attested documents' lifetime, used to size
	// the overlap after a Sub CA retires; default 6h, as Azure.
	DocumentLifetime time.Duration `yaml:"document_lifetime" json:"document_lifetime"`

	// AIABaseURL is the http URL under which AIAHandler serves
	// <name>.crt and bundle.pem; default http://127.0.0.1:8255/pki. It is
	// written into every certificate, so changing it later only affects
	// certificates issued afterwards.
	AIABaseURL string `yaml:"aia_base_url" json:"aia_base_url"`
}

// A RootPlan is one root CA.
type RootPlan struct {
	// Introduce is when the root is created; zero only for the first root
	// (Plan.Start).
	Introduce time.Time `yaml:"introduce" json:"introduce"`
	// Validity overrides Plan.RootValidity.
	Validity time.Duration `yaml:"validity" json:"validity"`
	// CrossSign has the previous root issue a cross-certificate for this
	// one, so that verifiers anchored on the old root keep working.
	CrossSign bool `yaml:"cross_sign" json:"cross_sign"`
}

// A Generation is one planned Sub CA.
type Generation struct {
	// Introduce is when it is created and published; zero means Activate
	// minus Plan.Lead (not before Plan.Start).
	Introduce time.Time `yaml:"introduce" json:"introduce"`
	// Activate is when signing switches to it. Required.
	Activate time.Time `yaml:"activate" json:"activate"`
	// Retire is when it stops signing; zero means when the next generation
	// activates (or never, for the last one).
	Retire time.Time `yaml:"retire" json:"retire"`
}

// EventKind names a step in a CA's life.
type EventKind string

// Event kinds, in the order they sort at the same instant.
const (
	EventIntroduce EventKind = "introduce" // created and published (AIA, bundle)
	EventCrossSign EventKind = "cross-sign"
	EventActivate  EventKind = "activate" // signing leaves are issued from it
	EventRetire    EventKind = "retire"   // no more leaves; still published
	EventExpire    EventKind = "expire"   // NotAfter; dropped from the bundle
)

var kindOrder = map[EventKind]int{EventIntroduce: 0, EventCrossSign: 1, EventActivate: 2, EventRetire: 3, EventExpire: 4}

// An Event is one line of the timeline that `tegata pki plan` prints.
type Event struct {
	Time time.Time
	Kind EventKind
	// CA is the certificate's name, as in <AIABaseURL>/<CA>.crt.
	CA string
	// Subject is the CA's common name.
	Subject string
	// Role is root, cross or sub.
	Role string
	// Unplanned marks Sub CAs made by Authority.Rotate.
	Unplanned bool
}

// String formats the event as one timeline line.
func (e Event) String() string {
	s := fmt.Sprintf("%s  %-10s %-5s %s (%s)", e.Time.UTC().Format(time.RFC3339), e.Kind, e.Role, e.CA, e.Subject)
	if e.Unplanned {
		s += " [unplanned]"
	}
	return s
}

var labelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// BaseDomain returns the signer's base domain for the plan's profile.
func (p Plan) BaseDomain() string {
	switch p.Profile {
	case ProfileUSGov:
		return attest.CloudUSGov
	case ProfileChina:
		return attest.CloudChina
	case ProfileGermany:
		return attest.CloudGermany
	case ProfileCustom:
		return strings.ToLower(strings.TrimSuffix(p.Domain, "."))
	default:
		return attest.CloudPublic
	}
}

// WithDefaults returns p with every zero field set to its default.
func (p Plan) WithDefaults() Plan {
	if p.Profile == "" {
		p.Profile = ProfilePublic
	}
	if p.Region == "" {
		p.Region = map[string]string{ProfileUSGov: "usgovvirginia", ProfileChina: "chinaeast2", ProfileGermany: "germanycentral", ProfileCustom: "local"}[p.Profile]
		if p.Region == "" {
			p.Region = "eastus"
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if p.Organization == "" {
		p.Organization = "tegata"
	}
	if p.KeyAlgorithm == "" {
		p.KeyAlgorithm = KeyRSA2048
	}
	if p.CAKeyAlgorithm == "" {
		p.CAKeyAlgorithm = KeyRSA4096
	}
	def(&p.RootValidity, 20*year)
	def(&p.SubCAValidity, 3*year)
	def(&p.Cadence, year)
	def(&p.Lead, 90*24*time.Hour)
	def(&p.LeafValidity, 72*time.Hour)
	def(&p.LeafRenewBefore, p.LeafValidity/3)
	def(&p.DocumentLifetime, 6*time.Hour)
	if p.AIABaseURL == "" {
		p.AIABaseURL = "http://127.0.0.1:8255/pki"
	}
	p.AIABaseURL = strings.TrimSuffix(p.AIABaseURL, "/")
	return p
}

// Validate reports the first problem of a plan that has had WithDefaults
// applied, naming the field and what to do.
func (p Plan) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: pki."+format, append([]any{ErrInvalidPlan}, a...)...)
	}
	switch p.Profile {
	case ProfilePublic, ProfileUSGov, ProfileChina, ProfileGermany:
		if p.Domain != "" {
			return bad("domain is set but profile is %q; set profile: custom to use your own domain", p.Profile)
		}
	case ProfileCustom:
		labels := strings.Split(p.BaseDomain(), ".")
		if len(labels) < 2 {
			return bad("domain %q: the custom profile needs a base domain with at least two labels, e.g. metadata.cloud.example", p.Domain)
		}
		for _, l := range labels {
			if !labelRE.MatchString(l) {
				return bad("domain %q: %q is not a DNS label", p.Domain, l)
			}
		}
	default:
		return bad("profile %q is unknown; use public, usgov, china, germany or custom", p.Profile)
	}
	if !labelRE.MatchString(p.Region) {
		return bad("region %q is not a lower-case DNS label such as eastus", p.Region)
	}
	switch p.KeyAlgorithm {
	case KeyRSA2048, KeyRSA3072, KeyRSA4096, KeyECDSAP256, KeyECDSAP384:
	default:
		return bad("key_algorithm %q is unknown; use rsa-2048, rsa-3072, ecdsa-p256 or ecdsa-p384", p.KeyAlgorithm)
	}
	switch p.CAKeyAlgorithm {
	case KeyRSA3072, KeyRSA4096, KeyECDSAP384:
	default:
		return bad("ca_key_algorithm %q is not allowed for a CA; use rsa-4096, rsa-3072 or ecdsa-p384", p.CAKeyAlgorithm)
	}
	for name, d := range map[string]time.Duration{"root_validity": p.RootValidity, "sub_ca_validity": p.SubCAValidity, "cadence": p.Cadence,
		"lead": p.Lead, "leaf_validity": p.LeafValidity, "leaf_renew_before": p.LeafRenewBefore, "document_lifetime": p.DocumentLifetime} {
		if d < 0 {
			return bad("%s is negative (%s)", name, d)
		}
	}
	if p.LeafValidity < time.Hour {
		return bad("leaf_validity %s is below 1h; attested documents live %s", p.LeafValidity, p.DocumentLifetime)
	}
	if p.LeafRenewBefore >= p.LeafValidity {
		return bad("leaf_renew_before %s must be shorter than leaf_validity %s", p.LeafRenewBefore, p.LeafValidity)
	}
	grace := p.LeafValidity + p.DocumentLifetime
	if len(p.Generations) == 0 && p.SubCAValidity < p.Lead+p.Cadence+grace {
		return bad("sub_ca_validity %s is shorter than lead + cadence + leaf_validity + document_lifetime (%s); lengthen it or shorten the cadence",
			p.SubCAValidity, p.Lead+p.Cadence+grace)
	}
	if p.SubCAValidity < 2*grace {
		return bad("sub_ca_validity %s is too short for leaf_validity %s", p.SubCAValidity, p.LeafValidity)
	}
	u, err := url.Parse(p.AIABaseURL)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return bad("aia_base_url %q must be a plain http URL such as http://127.0.0.1:8255/pki (CA Issuers URLs are http by rule, to avoid a TLS bootstrap loop)", p.AIABaseURL)
	}
	for i, r := range p.Roots {
		if i > 0 && r.Introduce.IsZero() {
			return bad("roots[%d].introduce is required for every root after the first", i)
		}
		if i > 0 && !r.Introduce.After(p.rootStart(i-1)) {
			return bad("roots[%d].introduce %s must be after roots[%d]'s", i, r.Introduce.Format(time.RFC3339), i-1)
		}
		if i == 0 && r.CrossSign {
			return bad("roots[0].cross_sign is set but there is no earlier root to cross-sign it")
		}
	}
	for i, g := range p.Generations {
		where := fmt.Sprintf("generations[%d]", i)
		if g.Activate.IsZero() {
			return bad("%s.activate is required", where)
		}
		if !g.Introduce.IsZero() && g.Introduce.After(g.Activate) {
			return bad("%s.introduce is after its activate; a Sub CA must be published before it signs", where)
		}
		if !g.Retire.IsZero() && !g.Retire.After(g.Activate) {
			return bad("%s.retire must be after its activate", where)
		}
		if i > 0 && !g.Activate.After(p.Generations[i-1].Activate) {
			return bad("%s.activate must be after generations[%d].activate; list generations in order", where, i-1)
		}
	}
	return nil
}

// rootStart is root i's NotBefore before Start is known (zero for root 0).
func (p Plan) rootStart(i int) time.Time { return p.Roots[i].Introduce }

// rootSpec and caSpec are the computed schedule of one certificate.
type rootSpec struct {
	name, cn            string
	notBefore, notAfter time.Time
	crossSign           bool // cross-signed by the previous root
}

type caSpec struct {
	name, cn                              string
	introduce, activate, retire, notAfter time.Time // retire zero: until superseded
	root                                  int       // index into the root specs
	unplanned                             bool
}

func (r rootSpec) xsignName() string { return r.name + "-xsign" }

// rootSpecs computes the roots for a plan whose schedule starts at start.
func (p Plan) rootSpecs(start time.Time) []rootSpec {
	roots := p.Roots
	if len(roots) == 0 {
		roots = []RootPlan{{}}
	}
	out := make([]rootSpec, len(roots))
	for i, r := range roots {
		nb := r.Introduce
		if i == 0 && (nb.IsZero() || nb.After(start)) {
			nb = start
		}
		v := r.Validity
		if v == 0 {
			v = p.RootValidity
		}
		out[i] = rootSpec{name: fmt.Sprintf("root-ca-%02d", i+1), cn: fmt.Sprintf("%s Root CA %02d", p.Organization, i+1),
			notBefore: nb.UTC(), notAfter: nb.Add(v).UTC(), crossSign: r.CrossSign}
	}
	return out
}

// rootAt returns the newest root created at or before t.
func rootAt(roots []rootSpec, t time.Time) int {
	idx := 0
	for i, r := range roots {
		if !r.notBefore.After(t) {
			idx = i
		}
	}
	return idx
}

// subCASpecs computes the planned Sub CAs introduced at or before until.
func (p Plan) subCASpecs(start, until time.Time, roots []rootSpec) []caSpec {
	var out []caSpec
	mk := func(i int, intro, act, ret time.Time) caSpec {
		if intro.Before(start) {
			intro = start
		}
		s := caSpec{name: fmt.Sprintf("issuing-ca-%02d", i+1), cn: fmt.Sprintf("%s Issuing CA %02d", p.Organization, i+1),
			introduce: intro.UTC(), activate: act.UTC(), notAfter: intro.Add(p.SubCAValidity).UTC()}
		if !ret.IsZero() {
			s.retire = ret.UTC()
		}
		s.root = rootAt(roots, s.introduce)
		if ra := roots[s.root].notAfter; s.notAfter.After(ra) {
			s.notAfter = ra // a Sub CA never outlives its root
		}
		return s
	}
	if len(p.Generations) > 0 {
		for i, g := range p.Generations {
			intro := g.Introduce
			if intro.IsZero() {
				intro = g.Activate.Add(-p.Lead)
			}
			if i == 0 && g.Activate.After(start) && intro.After(start) {
				intro = start // the first Sub CA exists from the start
			}
			if intro.After(until) {
				break
			}
			out = append(out, mk(i, intro, g.Activate, g.Retire))
		}
		return out
	}
	for i := 0; ; i++ {
		act := start.Add(time.Duration(i) * p.Cadence)
		intro := act.Add(-p.Lead)
		if intro.After(until) {
			return out
		}
		out = append(out, mk(i, intro, act, act.Add(p.Cadence)))
	}
}

// schedule merges planned and unplanned Sub CAs by activation and ends each
// one's issuing window at the next activation.
func schedule(planned, unplanned []caSpec) []caSpec {
	all := append(append([]caSpec(nil), planned...), unplanned...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].activate.Before(all[j].activate) })
	for i := range all {
		if i+1 < len(all) {
			next := all[i+1].activate
			if all[i].retire.IsZero() || next.Before(all[i].retire) {
				all[i].retire = next
			}
		}
	}
	return all
}

// Timeline lists the introduce, cross-sign, activate, retire and expire
// events of every root and planned Sub CA, in time order. With a cadence it
// covers Sub CAs introduced up to two cadences after now; a zero Start is
// taken as now. It reports nothing for an invalid plan.
func (p Plan) Timeline(now time.Time) []Event {
	p = p.WithDefaults()
	if p.Validate() != nil {
		return nil
	}
	start := p.Start
	if start.IsZero() {
		start = now
	}
	roots := p.rootSpecs(start)
	until := now
	if start.After(until) {
		until = start
	}
	return timeline(roots, schedule(p.subCASpecs(start, until.Add(2*p.Cadence), roots), nil))
}

func timeline(roots []rootSpec, subs []caSpec) []Event {
	var ev []Event
	for i, r := range roots {
		ev = append(ev, Event{Time: r.notBefore, Kind: EventIntroduce, CA: r.name, Subject: r.cn, Role: "root"},
			Event{Time: r.notAfter, Kind: EventExpire, CA: r.name, Subject: r.cn, Role: "root"})
		if r.crossSign && i > 0 {
			ev = append(ev, Event{Time: r.notBefore, Kind: EventCrossSign, CA: r.xsignName(), Subject: r.cn + " (by " + roots[i-1].cn + ")", Role: "cross"},
				Event{Time: xsignNotAfter(roots, i), Kind: EventExpire, CA: r.xsignName(), Subject: r.cn + " (by " + roots[i-1].cn + ")", Role: "cross"})
		}
	}
	for _, s := range subs {
		ev = append(ev, Event{Time: s.introduce, Kind: EventIntroduce, CA: s.name, Subject: s.cn, Role: "sub", Unplanned: s.unplanned},
			Event{Time: s.activate, Kind: EventActivate, CA: s.name, Subject: s.cn, Role: "sub", Unplanned: s.unplanned})
		if !s.retire.IsZero() {
			ev = append(ev, Event{Time: s.retire, Kind: EventRetire, CA: s.name, Subject: s.cn, Role: "sub", Unplanned: s.unplanned})
		}
		ev = append(ev, Event{Time: s.notAfter, Kind: EventExpire, CA: s.name, Subject: s.cn, Role: "sub", Unplanned: s.unplanned})
	}
	roleOrder := map[string]int{"root": 0, "cross": 1, "sub": 2}
	sort.SliceStable(ev, func(i, j int) bool {
		a, b := ev[i], ev[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if kindOrder[a.Kind] != kindOrder[b.Kind] {
			return kindOrder[a.Kind] < kindOrder[b.Kind]
		}
		if roleOrder[a.Role] != roleOrder[b.Role] {
			return roleOrder[a.Role] < roleOrder[b.Role]
		}
		return a.CA < b.CA
	})
	return ev
}

// xsignNotAfter is the cross-certificate's NotAfter: it covers the new
// root's life but cannot outlive the old root that signs it.
func xsignNotAfter(roots []rootSpec, i int) time.Time {
	na := roots[i].notAfter
	if old := roots[i-1].notAfter; old.Before(na) {
		na = old
	}
	return na
}

package mapaudit

import (
	"time"

	"github.com/tegata-project/tegata/mapping"
)

// The audit decides each pair today, in Compatibility mode and, for a DC
// whose patch level is assumed, at every phase date of reference 5.7: ten
// scenarios a DC. Deciding them all would cost ten verdicts a pair and DC.
// Instead every scenario of every DC goes into one table, keyed by what the
// decision procedure reads of a DC (mode, NTAuth mode, SAN URL support,
// strong-name policy, event IDs, compensation, whether the patch level is
// assumed), and a pair is decided once per distinct key. Which properties
// can change a pair's verdict depends on the certificate: the NTAuth mode
// only when its issuer is not known to be in NTAuth, SAN URL support only
// when the SAN URL is its SID source; the others are dropped from the key
// for it. Two DCs of different releases then usually share their verdicts.

// plan is one DC's scenarios, as indexes into the scenario table.
type plan struct {
	state         mapping.DCState
	today, compat int
	// timeline lists the phase dates and their scenarios for a DC whose
	// patch level is assumed; nil otherwise.
	timeline []timePoint
}

type timePoint struct {
	date time.Time
	text string // date in time.DateOnly form
	scen int
}

type scenarioKey struct {
	mode    mapping.Mode
	ntauth  mapping.NTAuthMode
	san     mapping.Tristate
	snp     bool
	assumed bool
	weakID  int
	comp    time.Duration
	// rules tells apart DCs with different strong-name rule lists.
	rules *mapping.StrongNameRule
}

// Relevance bits: which DC properties can change a certificate's verdict.
const (
	ntauthMatters = 1 << iota
	sanURLMatters
)

func relevance(c *mapping.Certificate) int {
	m := 0
	if c.NTAuth != mapping.NTAuthYes {
		// NTAuthNo changes outcomes; NTAuthUnknown changes labels.
		m |= ntauthMatters
	}
	if c.SIDExtension.State == mapping.SIDAbsent && c.SANURL.State != mapping.SIDAbsent && c.SANURL.State != mapping.SIDIgnored {
		m |= sanURLMatters
	}
	return m
}

// reduce drops the properties that cannot change a verdict under mask.
func (k scenarioKey) reduce(mask int) scenarioKey {
	if mask&ntauthMatters == 0 {
		k.ntauth = 0
	}
	if mask&sanURLMatters == 0 {
		k.san = 0
	}
	return k
}

// scenarios is the table of every DC's scenarios and a per-pair cache of
// their verdicts.
type scenarios struct {
	states []mapping.DCState
	keys   []scenarioKey
	// canon[mask][i] is the first scenario with i's reduced key; timeline
	// the same ignoring whether the patch level is assumed, which changes
	// labels only, and the timeline compares outcomes.
	canon, timeline [4][]int
	// The cache holds the verdicts of the current pair: briefs[i] is valid
	// when stamp[i] == gen.
	gen    uint32
	stamp  []uint32
	briefs []Brief
}

func (s *scenarios) add(st mapping.DCState) int {
	weak, _, _ := st.EventIDs()
	k := scenarioKey{mode: st.Mode(), ntauth: st.NTAuthMode(), san: st.SANURLSupported(),
		snp: len(st.StrongNameRules) > 0 && st.StrongNamePolicySupported(), weakID: weak, comp: st.Compensation()}
	_, k.assumed = st.PatchLevel()
	if len(st.StrongNameRules) > 0 {
		k.rules = &st.StrongNameRules[0]
	}
	s.states = append(s.states, st)
	s.keys = append(s.keys, k)
	return len(s.states) - 1
}

// plan adds a DC's scenarios to the table.
func (s *scenarios) plan(st mapping.DCState) *plan {
	p := &plan{state: st, today: s.add(st), compat: s.add(compatibilityState(st))}
	if st.LastUpdate.IsZero() {
		for _, d := range phaseDates {
			at := st
			at.AsOf = d
			p.timeline = append(p.timeline, timePoint{d, d.Format(time.DateOnly), s.add(at)})
		}
	}
	return p
}

// finish computes the canonical scenarios once every plan is added.
func (s *scenarios) finish() {
	for mask := range s.canon {
		s.canon[mask] = canonical(s.keys, func(k scenarioKey) scenarioKey { return k.reduce(mask) })
		s.timeline[mask] = canonical(s.keys, func(k scenarioKey) scenarioKey {
			k = k.reduce(mask)
			k.assumed = false
			return k
		})
	}
	s.stamp = make([]uint32, len(s.states))
	s.briefs = make([]Brief, len(s.states))
}

// canonical maps each key to the first one equal to it after reduce.
func canonical(keys []scenarioKey, reduce func(scenarioKey) scenarioKey) []int {
	first := map[scenarioKey]int{}
	c := make([]int, len(keys))
	for i, k := range keys {
		r := reduce(k)
		if j, ok := first[r]; ok {
			c[i] = j
			continue
		}
		first[r] = i
		c[i] = i
	}
	return c
}

// next starts a new pair: the cached verdicts are dropped.
func (s *scenarios) next() {
	s.gen++
	if s.gen == 0 {
		clear(s.stamp)
		s.gen = 1
	}
}

// decide returns the verdict of scenario i for the current pair; canon is
// s.canon[mask] or s.timeline[mask].
func (s *scenarios) decide(cert *mapping.Certificate, acct *mapping.Account, canon []int, i int) *Brief {
	k := canon[i]
	if s.stamp[k] != s.gen {
		v := mapping.DecideBrief(cert, acct, s.states[k])
		s.briefs[k] = brief(&v)
		s.stamp[k] = s.gen
	}
	return &s.briefs[k]
}

// evaluate decides the current pair under plan p; the changes are appended
// to changes[:0].
func (s *scenarios) evaluate(p *plan, cert *mapping.Certificate, acct *mapping.Account, changes []Change) (today, compat Brief, _ []Change) {
	changes = changes[:0]
	mask := relevance(cert)
	today = *s.decide(cert, acct, s.canon[mask], p.today)
	if stable(cert, &today) {
		compat = today
		compat.Mode = s.states[p.compat].Mode().String()
		return today, compat, changes
	}
	compat = *s.decide(cert, acct, s.canon[mask], p.compat)
	var prev *Brief
	for _, tp := range p.timeline {
		cur := s.decide(cert, acct, s.timeline[mask], tp.scen)
		if prev != nil && (cur.Outcome != prev.Outcome || cur.Path != prev.Path || cur.EventID != prev.EventID) {
			changes = append(changes, Change{Date: tp.text, Outcome: cur.Outcome,
				Path: cur.Path, EventID: cur.EventID, Future: !p.state.AsOf.IsZero() && tp.date.After(p.state.AsOf)})
		}
		prev = cur
	}
	return today, compat, changes
}

// stable reports whether today's verdict holds in every scenario: allowed
// without an event through a strong explicit mapping or key trust, or
// through a matching SID from the extension, with an issuer not known to
// be outside NTAuth. Such a pair needs no other scenario decided.
func stable(c *mapping.Certificate, b *Brief) bool {
	if b.Outcome != OutcomeAllowed || c.NTAuth == mapping.NTAuthNo {
		return false
	}
	switch b.Path {
	case mapping.PathStrongExplicit, mapping.PathKeyTrust:
		return true
	case mapping.PathSIDMatch:
		return c.SIDExtension.State == mapping.SIDValid
	}
	return false
}

package mapaudit

import (
	"bytes"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tegata-project/tegata/mapping"
)

var (
	corpusOnce sync.Once
	corpus100k *SyntheticCorpus
	corpusErr  error
)

// syntheticCorpus builds the 100,000-pair corpus once per test binary.
func syntheticCorpus(tb testing.TB) *SyntheticCorpus {
	tb.Helper()
	corpusOnce.Do(func() { corpus100k, corpusErr = NewSyntheticCorpus(100_000) })
	if corpusErr != nil {
		tb.Fatal(corpusErr)
	}
	return corpus100k
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var benchAsOf = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)

// auditCorpus parses the corpus's directory and certificates and audits
// every pair, returning the summary.
func auditCorpus(tb testing.TB, c *SyntheticCorpus, n int) *Summary {
	dir, err := ReadLDIFDirectory(bytes.NewReader(c.LDIF), "directory.ldf")
	if err != nil || len(dir.Problems) > 0 {
		tb.Fatalf("directory: %v %v", err, dir.Problems)
	}
	dcs, _ := ResolveDCs(dir.DomainControllers, nil, nil, benchAsOf)
	ins := make([]CertificateInput, 0, n)
	for _, der := range c.Certificates[:n] {
		cert, err := mapping.ParseCertificate(der)
		if err != nil {
			tb.Fatal(err)
		}
		ins = append(ins, CertificateInput{Cert: cert, Origin: "synthetic"})
	}
	a := NewAuditor(dir, Options{AsOf: benchAsOf, DCs: dcs})
	if probs := a.Run(ins, func(*Finding) {}); len(probs) > 0 {
		tb.Fatal(probs)
	}
	return a.Summary()
}

func TestSyntheticCorpusOutcomes(t *testing.T) {
	c, err := NewSyntheticCorpus(400)
	if err != nil {
		t.Fatal(err)
	}
	s := auditCorpus(t, c, 400)
	// Half the pairs are strong (explicit or SID), half weak: denied in Full
	// Enforcement, allowed with event 39 in Compatibility.
	if s.Pairs != 400 || s.Unmapped != 0 || s.ByOutcome[OutcomeAllowed] != 200 || s.ByOutcome[OutcomeDenied] != 200 {
		t.Fatalf("pairs %d unmapped %d outcomes %v", s.Pairs, s.Unmapped, s.ByOutcome)
	}
	if s.Compatibility[OutcomeLogged] != 200 {
		t.Errorf("compatibility outcomes %v, want 200 allowed with an event", s.Compatibility)
	}
	if s.Fixes != 400 {
		t.Errorf("fixes %d, want two values (<SR> and <SKI>) for each of the 200 weak pairs", s.Fixes)
	}
	if len(s.DCs) != 2 || s.DCs[0].ByEvent["39 (Error)"] != 200 {
		t.Errorf("per-DC summary %+v", s.DCs)
	}
}

// BenchmarkAudit100k audits 100,000 synthetic certificate/account pairs on
// two DCs (directory parsing, certificate parsing, pairing, verdicts today,
// in Compatibility mode and across the phase dates, fixes) and reports
// pairs per second for the audit stage and for the whole run.
func BenchmarkAudit100k(b *testing.B) {
	c := syntheticCorpus(b)
	const n = 100_000
	dir, err := ReadLDIFDirectory(bytes.NewReader(c.LDIF), "directory.ldf")
	if err != nil {
		b.Fatal(err)
	}
	dcs, _ := ResolveDCs(dir.DomainControllers, nil, nil, benchAsOf)
	var auditTime, totalTime, auditCPU time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		dir, _ := ReadLDIFDirectory(bytes.NewReader(c.LDIF), "directory.ldf")
		ins := make([]CertificateInput, n)
		for i, der := range c.Certificates {
			cert, err := mapping.ParseCertificate(der)
			if err != nil {
				b.Fatal(err)
			}
			ins[i] = CertificateInput{Cert: cert, Origin: "synthetic"}
		}
		auditStart, cpuStart := time.Now(), cpuTime()
		a := NewAuditor(dir, Options{AsOf: benchAsOf, DCs: dcs})
		a.Run(ins, func(*Finding) {})
		auditTime += time.Since(auditStart)
		auditCPU += cpuTime() - cpuStart
		totalTime += time.Since(start)
		if a.Summary().Pairs != n {
			b.Fatalf("pairs %d", a.Summary().Pairs)
		}
	}
	runs := float64(b.N)
	b.ReportMetric(runs*n/auditTime.Seconds(), "pairs/s")
	b.ReportMetric(runs*n*float64(len(dcs))/auditTime.Seconds(), "pair-verdicts/s")
	b.ReportMetric(runs*n/totalTime.Seconds(), "pairs/s-with-parsing")
	// The machine is shared: CPU time, garbage collection included, is the
	// measure per core that other loads do not distort.
	b.ReportMetric(runs*n/auditCPU.Seconds(), "pairs/cpu-s")
	b.ReportMetric(float64(runtime.GOMAXPROCS(0)), "procs")
}

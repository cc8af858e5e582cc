package cli

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tegata-project/tegata/internal/mapaudit"
)

// BenchmarkMappingAuditCommand runs `tegata mapping audit` in process on
// 100,000 certificate/account pairs from files (PEM bundles and an LDIF
// export), with each output format; the figure is pairs per second, which
// with -cpu 1 is pairs per second per core.
func BenchmarkMappingAuditCommand(b *testing.B) {
	dir := b.TempDir()
	c, err := mapaudit.NewSyntheticCorpus(100_000)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.WriteFiles(dir); err != nil {
		b.Fatal(err)
	}
	c = nil
	for _, format := range []string{"json", "table", "csv"} {
		b.Run(format, func(b *testing.B) {
			cpu0 := processCPU()
			for b.Loop() {
				root := newRoot()
				root.SetOut(discard{})
				root.SetErr(discard{})
				root.SetArgs([]string{"mapping", "audit", "--certs", filepath.Join(dir, "certs"), "--ldif", filepath.Join(dir, "directory.ldf"),
					"--as-of", "2026-01-15", "--fail-on", "never", "-o", format, "--progress=false"})
				if err := root.Execute(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(100_000*b.N)/b.Elapsed().Seconds(), "pairs/s")
			// CPU time of the whole process, garbage collection included:
			// with -cpu 1 it is the figure per core.
			b.ReportMetric(float64(100_000*b.N)/(processCPU()-cpu0).Seconds(), "pairs/cpu-s")
		})
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

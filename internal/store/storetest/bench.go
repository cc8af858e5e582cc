package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/tegata-project/tegata/internal/store"
)

// benchObjects and benchVersions size the data the benchmarks read: a vault
// with benchObjects certificates of benchVersions versions each, with Meta
// and Sealed of typical sizes (a JSON attribute record and a sealed PEM
// bundle).
const (
	benchObjects  = 200
	benchVersions = 5
)

// seedBench writes the benchmark data into s and returns the keys and, for
// each, the ID of its first version.
func seedBench(b *testing.B, s store.Store) ([]store.ObjectKey, []string) {
	b.Helper()
	ctx := context.Background()
	meta := make([]byte, 300)
	sealed := make([]byte, 3000)
	keys := make([]store.ObjectKey, benchObjects)
	first := make([]string, benchObjects)
	err := s.Update(ctx, func(tx store.Tx) error {
		for i := range keys {
			keys[i] = key("bench", store.KindCertificate, fmt.Sprintf("Cert-%04d", i))
			if err := tx.PutObject(ctx, store.Object{ObjectKey: keys[i], Meta: meta, Updated: base}); err != nil {
				return err
			}
			for j := range benchVersions {
				id := hexID(i*benchVersions + j)
				if j == 0 {
					first[i] = id
				}
				v := store.Version{ObjectKey: keys[i], ID: id, Created: base, Meta: meta, Sealed: sealed}
				if _, err := tx.PutVersion(ctx, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("seeding the benchmark data: %v", err)
	}
	return keys, first
}

// BenchLatestVersion measures View + LatestVersion of one of many objects
// from parallel goroutines (b.RunParallel): the read behind a GET of a
// secret or certificate without a version. s must be empty.
func BenchLatestVersion(b *testing.B, s store.Store) {
	keys, _ := seedBench(b, s)
	benchReads(b, s, func(ctx context.Context, tx store.Tx, i int) error {
		_, err := tx.LatestVersion(ctx, keys[i%len(keys)])
		return err
	})
}

// BenchVersion measures View + Version (by ID) from parallel goroutines:
// the read behind a GET of one version. s must be empty.
func BenchVersion(b *testing.B, s store.Store) {
	keys, first := seedBench(b, s)
	benchReads(b, s, func(ctx context.Context, tx store.Tx, i int) error {
		_, err := tx.Version(ctx, keys[i%len(keys)], first[i%len(keys)])
		return err
	})
}

// BenchObject measures View + Object from parallel goroutines. s must be
// empty.
func BenchObject(b *testing.B, s store.Store) {
	keys, _ := seedBench(b, s)
	benchReads(b, s, func(ctx context.Context, tx store.Tx, i int) error {
		_, err := tx.Object(ctx, keys[i%len(keys)])
		return err
	})
}

// benchReads runs read in a View per iteration, with a cancellable context
// as an HTTP handler has, and reports reads/s.
func benchReads(b *testing.B, s store.Store, read func(ctx context.Context, tx store.Tx, i int) error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i += 7
			err := s.View(ctx, func(tx store.Tx) error { return read(ctx, tx, i) })
			if err != nil {
				b.Errorf("read: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
}

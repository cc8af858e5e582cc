package instance

import (
	"bytes"
	"runtime"
	"testing"
)

// BenchmarkTreeJSON measures serving /metadata/instance from a VM's cached trees.
func BenchmarkTreeJSON(b *testing.B) {
	in := Generated(testVMID)
	b.Run("newest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			in.Tree("2025-04-07", false).JSON()
		}
	})
	b.Run("2021-08-01-extended", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			in.Tree("2021-08-01", true).JSON()
		}
	})
	b.Run("newest-AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 8192)
		for b.Loop() {
			buf = in.Tree("2025-04-07", false).AppendJSON(buf[:0])
		}
	})
	b.Run("route-network", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n, _ := in.Tree("2021-08-01", false).Get("network")
			n.JSON()
		}
	})
	b.Run("route-leaf-text", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, _ := in.Tree("2021-08-01", false).Get("compute")
			v, _ := c.Get("vmId")
			v.Text()
		}
	})
	b.Run("first-build", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var fresh Instance
			fresh.Name, fresh.Compute, fresh.Network = in.Name, in.Compute, in.Network
			fresh.Tree("2021-08-01", true)
		}
	})
}

// BenchmarkParse measures loading an inventory of 1,000 generated VMs.
func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	if err := Generate(1000, 1).WriteYAML(&buf); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := Parse("bench.yaml", buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFleetMemory loads 10,000 generated VMs, serves each at two api-versions (one
// with extended=true) and reports the live heap per VM and in total.
func BenchmarkFleetMemory(b *testing.B) {
	const n = 10_000
	var buf bytes.Buffer
	if err := Generate(n, 1).WriteYAML(&buf); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for b.Loop() {
		b.StopTimer()
		before := heap()
		b.StartTimer()
		inv, err := Parse("fleet.yaml", data)
		if err != nil {
			b.Fatal(err)
		}
		loaded := heap()
		for _, in := range inv.All() {
			in.Tree("2021-08-01", true).JSON()
			in.Tree("2025-04-07", false).JSON()
		}
		served := heap()
		b.ReportMetric(float64(loaded-before)/n, "loaded-B/VM")
		b.ReportMetric(float64(served-before)/n, "served-B/VM")
		b.ReportMetric(float64(served-before)/(1<<20), "served-MiB")
		runtime.KeepAlive(inv)
	}
}

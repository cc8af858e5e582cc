// Package gctune sets the garbage collector's target so that a server with a
// small live heap does not collect many times a second. With Go's default
// (GOGC=100) the heap may grow by as much as is live before the next cycle: a
// metadata service holding 2 MB and answering 60,000 requests a second collects
// about thirty times a second, and spends some 4 % of its CPU on it. Giving such
// a heap a fixed headroom instead (32 MB by default) makes collections rare while
// costing a few tens of megabytes at most; a large heap keeps GOGC=100, so the
// memory a big inventory needs is not multiplied.
package gctune

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// DefaultHeadroom is the least the heap may grow between two collections.
const DefaultHeadroom = 32 << 20

// maxPercent bounds the GOGC value set, whatever the live heap: an almost empty
// heap must not get an unbounded percentage.
const maxPercent = 2000

// setGCPercent is debug.SetGCPercent, replaced in tests.
var setGCPercent = debug.SetGCPercent

// Percent returns the GOGC percentage that gives a heap of live bytes at least
// headroom bytes of growth, and never less than Go's default of 100.
func Percent(live, headroom uint64) int {
	if live == 0 {
		return maxPercent
	}
	p := headroom * 100 / live
	switch {
	case p < 100:
		return 100
	case p > maxPercent:
		return maxPercent
	}
	return int(p)
}

// Run adjusts the collector's percentage every interval from the live heap until
// ctx ends. It does nothing when GOGC is set in the environment: the operator's
// choice wins.
func Run(ctx context.Context, headroom uint64, interval time.Duration) {
	if _, set := os.LookupEnv("GOGC"); set {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(interval)
	defer t.Stop()
	last := -1
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if p := Percent(sample[0].Value.Uint64(), headroom); p != last {
				setGCPercent(p)
				last = p
			}
		}
		select {
		case <-ctx.Done():
			setGCPercent(100)
			return
		case <-t.C:
		}
	}
}

// BatchHeadroom is the headroom for a command that reads a large input once,
// such as an audit of 100,000 certificates: collecting less often costs a
// few hundred megabytes at most and saves about a sixth of its CPU.
const BatchHeadroom = 256 << 20

// Start runs Run in the background and returns a function that stops it and
// waits until GOGC is back to Go's default.
func Start(headroom uint64, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, headroom, interval)
	}()
	return func() {
		cancel()
		<-done
	}
}

package gctune

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	tests := []struct {
		live, headroom uint64
		want           int
	}{
		{0, 32 << 20, maxPercent},
		{1 << 10, 32 << 20, maxPercent}, // tiny heaps are bounded
		{2 << 20, 32 << 20, 1600},       // 2 MB live: 32 MB of growth
		{16 << 20, 32 << 20, 200},
		{32 << 20, 32 << 20, 100},
		{120 << 20, 32 << 20, 100}, // large heaps keep Go's default
	}
	for _, tt := range tests {
		if got := Percent(tt.live, tt.headroom); got != tt.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", tt.live, tt.headroom, got, tt.want)
		}
	}
}

// recordSets replaces setGCPercent for the test and returns what was set.
func recordSets(t *testing.T) func() []int {
	var mu sync.Mutex
	var sets []int
	setGCPercent = func(p int) int {
		mu.Lock()
		sets = append(sets, p)
		mu.Unlock()
		return 100
	}
	orig := setGCPercent
	t.Cleanup(func() { setGCPercent = orig })
	return func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), sets...)
	}
}

func TestRunSetsAndRestores(t *testing.T) {
	if v, ok := os.LookupEnv("GOGC"); ok {
		t.Setenv("GOGC", v) // restored after the test
		os.Unsetenv("GOGC")
	}
	sets := recordSets(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, 1<<40, time.Hour); close(done) }() // a huge headroom: the cap applies
	for i := 0; i < 200 && len(sets()) == 0; i++ {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if got := sets(); len(got) != 2 || got[0] != maxPercent || got[1] != 100 {
		t.Errorf("GOGC set to %v, want [%d 100]: the cap while running, Go's default after", got, maxPercent)
	}
}

func TestRunLeavesOperatorsGOGC(t *testing.T) {
	t.Setenv("GOGC", "150")
	sets := recordSets(t)
	Run(context.Background(), 1<<40, time.Hour) // returns at once
	if got := sets(); len(got) != 0 {
		t.Errorf("GOGC set to %v although the operator set GOGC", got)
	}
}

func TestStartStops(t *testing.T) {
	sets := recordSets(t)
	stop := Start(1<<40, time.Hour)
	stop()
	if got := sets(); len(got) != 2 || got[1] != 100 {
		t.Errorf("GOGC set to %v, want the cap then Go's default once stopped", got)
	}
}

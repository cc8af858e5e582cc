package events

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRegistry(t *testing.T) {
	clk := newFakeClock(t0)
	r, err := NewRegistry(clk.Now, Fast(), 3)
	if err != nil {
		t.Fatal(err)
	}
	a, err := r.Book("vm-a")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := r.Book("vm-a"); again != a {
		t.Error("Book returned a new book for a known VM")
	}
	if other, _ := r.Book("VM-A"); other == a {
		t.Error("VM names matched without regard to case")
	}
	if a.Name() != "vm-a" {
		t.Errorf("Name = %q", a.Name())
	}

	// Books share the registry's clock and timing.
	e, err := a.Add(Spec{Type: Freeze})
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(Fast().Freeze.Notice); !e.NotBefore.Equal(want) {
		t.Errorf("NotBefore = %v, want %v from the Fast timing", e.NotBefore, want)
	}
	clk.Set(e.NotBefore)
	if got := a.Events()[0].Status; got != Started {
		t.Errorf("status = %s, want Started from the shared clock", got)
	}

	if _, err := r.Book("vm-c"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Book("vm-d"); !errors.Is(err, ErrTooManyBooks) {
		t.Errorf("fourth VM: error %v, want ErrTooManyBooks", err)
	}
	if _, err := r.Book("vm-a"); err != nil {
		t.Errorf("known VM at the bound: %v", err)
	}
}

func TestRegistryInvalid(t *testing.T) {
	if _, err := NewRegistry(nil, Timing{}, 0); err == nil {
		t.Error("NewRegistry accepted a zero Timing")
	}
	if _, err := NewRegistry(nil, Realistic(), -1); err == nil || !strings.Contains(err.Error(), "maxBooks is -1") {
		t.Errorf("NewRegistry(-1) error = %v", err)
	}
	r, err := NewRegistry(nil, Realistic(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.maxBooks != DefaultMaxBooks {
		t.Errorf("maxBooks = %d, want DefaultMaxBooks", r.maxBooks)
	}
	if _, err := r.Book(""); err == nil {
		t.Error("Book accepted an empty VM name")
	}
	if len(r.books) != 0 {
		t.Error("a refused name was stored")
	}
}

func TestRegistryConcurrent(t *testing.T) {
	clk := newFakeClock(t0)
	r, err := NewRegistry(clk.Now, Fast(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				b, err := r.Book(fmt.Sprintf("vm%d", i%5))
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := b.Add(Spec{Type: Reboot}); err != nil {
					t.Error(err)
				}
				clk.Advance(time.Second)
				b.Document("2020-07-01")
			}
		}()
	}
	wg.Wait()
	if len(r.books) != 5 {
		t.Errorf("%d books, want 5", len(r.books))
	}
}

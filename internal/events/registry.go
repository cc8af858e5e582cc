package events

import (
	"fmt"
	"sync"
)

// DefaultMaxBooks is the number of VMs a [Registry] holds when NewRegistry is given 0.
const DefaultMaxBooks = 10000

// Registry holds the books of many VMs, created on first use and sharing one clock and
// one timing. It is safe for concurrent use. Books are never dropped, so a VM's events
// and incarnation survive however long it goes without polling; the bound given to
// NewRegistry caps the memory this takes.
type Registry struct {
	clock    Clock
	timing   Timing
	maxBooks int

	mu    sync.Mutex
	books map[string]*Book
}

// NewRegistry returns an empty registry whose books read clock (nil means time.Now)
// and follow timing. maxBooks bounds the number of VMs; 0 means [DefaultMaxBooks].
func NewRegistry(clock Clock, timing Timing, maxBooks int) (*Registry, error) {
	if err := timing.Validate(); err != nil {
		return nil, err
	}
	if maxBooks < 0 {
		return nil, fmt.Errorf("events: maxBooks is %d: give a positive bound, or 0 for %d", maxBooks, DefaultMaxBooks)
	}
	if maxBooks == 0 {
		maxBooks = DefaultMaxBooks
	}
	return &Registry{clock: clock.orNow(), timing: timing, maxBooks: maxBooks, books: make(map[string]*Book)}, nil
}

// Book returns the book of the VM named vmName, creating an empty one on first use.
// Names are case-sensitive. It fails when vmName is not a valid name (empty, too long,
// not printable UTF-8), or with [ErrTooManyBooks] when a new book would exceed the bound.
func (r *Registry) Book(vmName string) (*Book, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.books[vmName]; ok {
		return b, nil
	}
	if len(r.books) >= r.maxBooks {
		return nil, fmt.Errorf("%w: the registry already holds %d VMs, its bound: raise the bound or use fewer VM names", ErrTooManyBooks, r.maxBooks)
	}
	b, err := NewBook(vmName, r.clock, r.timing)
	if err != nil {
		return nil, err
	}
	r.books[vmName] = b
	return b, nil
}

package imds

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is an injected failure, so users can prove their clients' retry logic
// (docs/imds.md §7.3). A request matches when its path starts with PathPrefix; it is
// then hit with probability Rate, by at most Count requests, until Until.
type Fault struct {
	ID string `json:"id"`
	// PathPrefix selects requests, e.g. /metadata/instance. Default /metadata/.
	PathPrefix string `json:"path_prefix"`
	// Instance limits the fault to one VM by name; empty means every VM.
	Instance string `json:"instance,omitempty"`
	// Status is the answer: 404, 410, 429, 500 or 503 (Azure's error bodies), 403 (Docker
	// Desktop's "unreachable network"), or 0 for none (a pure delay).
	Status int `json:"status,omitempty"`
	// Delay is added before answering; with Status 0 the request is then served.
	Delay Duration `json:"delay,omitempty"`
	// Reset closes the connection without an answer.
	Reset bool `json:"reset,omitempty"`
	// Rate is the probability of hitting a matching request, in (0,1]. Default 1.
	Rate float64 `json:"rate,omitempty"`
	// Count is how many more requests to hit; 0 means unlimited.
	Count int64 `json:"count,omitempty"`
	// Until ends the fault; zero means never.
	Until time.Time `json:"until,omitzero"`
	// IncludeProbe also hits DefaultAzureCredential's header-less identity probe, which
	// must otherwise be answered within 1 s (docs/imds.md §6.1).
	IncludeProbe bool `json:"include_probe,omitempty"`

	remaining atomic.Int64
}

const (
	maxFaults     = 64
	maxFaultDelay = 5 * time.Minute
)

// Validate reports the first field that cannot work and what to do.
func (f *Fault) Validate() error {
	if f.PathPrefix == "" {
		f.PathPrefix = "/metadata/"
	}
	if !strings.HasPrefix(f.PathPrefix, "/") {
		return fmt.Errorf("fault path_prefix %q: must start with / (for example /metadata/instance)", f.PathPrefix)
	}
	switch f.Status {
	case 0, 403, 404, 410, 429, 500, 503:
	default:
		return fmt.Errorf("fault status %d: use 403, 404, 410, 429, 500 or 503 (or 0 with a delay)", f.Status)
	}
	if f.Delay < 0 || time.Duration(f.Delay) > maxFaultDelay {
		return fmt.Errorf("fault delay %s: must be between 0 and %s", f.Delay, maxFaultDelay)
	}
	if f.Status == 0 && f.Delay == 0 && !f.Reset {
		return fmt.Errorf("fault does nothing: give a status, a delay or reset")
	}
	if f.Reset && f.Status != 0 {
		return fmt.Errorf("fault: reset and status exclude each other: a reset connection has no status")
	}
	if f.Rate == 0 {
		f.Rate = 1
	}
	if f.Rate < 0 || f.Rate > 1 {
		return fmt.Errorf("fault rate %g: must be in (0, 1]", f.Rate)
	}
	if f.Count < 0 {
		return fmt.Errorf("fault count %d: must be 0 (unlimited) or positive", f.Count)
	}
	return nil
}

// faultSet is the list of active faults. Requests read it without a lock; an empty
// set costs one atomic load.
type faultSet struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*Fault]
}

func (fs *faultSet) active() bool {
	p := fs.list.Load()
	return p != nil && len(*p) > 0
}

func (fs *faultSet) snapshot() []*Fault {
	if p := fs.list.Load(); p != nil {
		return *p
	}
	return nil
}

// add validates f, gives it an ID and activates it.
func (fs *faultSet) add(f *Fault) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if f.ID == "" {
		var b [6]byte
		rand.Read(b[:])
		f.ID = "fault-" + hex.EncodeToString(b[:])
	}
	f.remaining.Store(f.Count)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	cur := fs.snapshot()
	if len(cur) >= maxFaults {
		return fmt.Errorf("too many faults (%d): remove some first", maxFaults)
	}
	next := append(append([]*Fault(nil), cur...), f)
	fs.list.Store(&next)
	return nil
}

// remove deletes the fault with id, or every fault when id is empty. It reports
// whether anything was removed.
func (fs *faultSet) remove(id string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	cur := fs.snapshot()
	var next []*Fault
	for _, f := range cur {
		if id != "" && f.ID != id {
			next = append(next, f)
		}
	}
	fs.list.Store(&next)
	return len(next) != len(cur)
}

// applyFault hits x with the first matching fault. It reports whether the request was
// answered (or dropped); false means serve it normally, possibly after a delay.
func (s *Server) applyFault(x *exchange) bool {
	now := s.clock()
	probe := x.cat == catIdentity && len(x.r.Header["Metadata"]) == 0
	for _, f := range s.faults.snapshot() {
		if !strings.HasPrefix(x.r.URL.Path, f.PathPrefix) ||
			(f.Instance != "" && f.Instance != x.inst.Name) ||
			(probe && !f.IncludeProbe) ||
			(!f.Until.IsZero() && now.After(f.Until)) ||
			(f.Rate < 1 && mrand.Float64() >= f.Rate) {
			continue
		}
		if f.Count > 0 && f.remaining.Add(-1) < 0 {
			continue
		}
		if f.Delay > 0 && !sleepCtx(x.r, time.Duration(f.Delay)) {
			x.status = 499 // the client gave up first
			return true
		}
		switch {
		case f.Reset:
			x.status = 0
			panic(http.ErrAbortHandler)
		case f.Status != 0:
			s.fail(x, faultError(f.Status, x.cat == catIdentity))
			return true
		}
		return false
	}
	return false
}

// Duration is a time.Duration written in JSON as text ("1.5s"), as people type it.
type Duration time.Duration

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

// UnmarshalJSON reads a duration string ("250ms", "2s").
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: write it as a string such as \"2s\" or \"250ms\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: write it like \"2s\" or \"250ms\"", s)
	}
	*d = Duration(v)
	return nil
}

func faultError(status int, identity bool) ErrorID {
	switch status {
	case 403:
		return ErrUnreachable
	case 404:
		return ErrNotFound
	case 410:
		return ErrGone
	case 429:
		if identity {
			return ErrIdentityThrottled
		}
		return ErrThrottled
	case 503:
		return ErrUnavailable
	}
	if identity {
		return ErrIdentityFailure
	}
	return ErrInternal
}

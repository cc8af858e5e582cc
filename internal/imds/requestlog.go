package imds

import (
	"sync"
	"time"
)

// RequestRecord is one answered metadata request, kept so a test can assert what its
// client sent (docs/imds.md §7.3). It holds no bodies and no header values other than
// the ones listed.
type RequestRecord struct {
	Time       time.Time `json:"time"`
	Instance   string    `json:"instance"`
	Remote     string    `json:"remote"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Query      string    `json:"query"`
	Status     int       `json:"status"`
	Metadata   string    `json:"metadata_header"`
	UserAgent  string    `json:"user_agent"`
	DurationUS int64     `json:"duration_us"`
}

// requestLog is a bounded ring of the latest requests. A nil *requestLog keeps nothing.
type requestLog struct {
	mu   sync.Mutex
	ring []RequestRecord
	next int
	full bool
}

const maxLoggedField = 256

func newRequestLog(n int) *requestLog {
	if n == 0 {
		return nil
	}
	return &requestLog{ring: make([]RequestRecord, n)}
}

func clip(s string) string {
	if len(s) > maxLoggedField {
		return s[:maxLoggedField]
	}
	return s
}

// first returns the first value of a header, by its canonical name, without the
// canonicalisation Header.Get pays for.
func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (l *requestLog) add(x *exchange, took time.Duration) {
	if l == nil {
		return
	}
	rec := RequestRecord{
		Time:       x.start,
		Remote:     x.r.RemoteAddr,
		Method:     x.r.Method,
		Path:       clip(x.r.URL.Path),
		Query:      clip(x.r.URL.RawQuery),
		Status:     x.status,
		Metadata:   clip(first(x.r.Header["Metadata"])),
		UserAgent:  clip(first(x.r.Header["User-Agent"])),
		DurationUS: took.Microseconds(),
	}
	if x.inst != nil {
		rec.Instance = x.inst.Name
	}
	l.mu.Lock()
	l.ring[l.next] = rec
	l.next = (l.next + 1) % len(l.ring)
	if l.next == 0 {
		l.full = true
	}
	l.mu.Unlock()
}

// list returns the records, oldest first.
func (l *requestLog) list() []RequestRecord {
	if l == nil {
		return []RequestRecord{}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.full {
		return append([]RequestRecord(nil), l.ring[:l.next]...)
	}
	return append(append([]RequestRecord(nil), l.ring[l.next:]...), l.ring[:l.next]...)
}

package imds

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Serve serves srv on ln. The header and idle time limits set on srv (NewHTTPServer
// sets them) are enforced by a guard that checks every connection twice a second,
// instead of by net/http, which moves each connection's read deadline three times
// per request: on a metadata service answering small GETs on keep-alive
// connections, those deadline updates cost more than tegata's handler. The limits
// mean the same: a request's headers must arrive within ReadHeaderTimeout of its
// first byte (slowloris), and a connection waiting for a request is closed after
// IdleTimeout; a connection is closed no earlier than its limit and at most two
// ticks (one second) after it.
func Serve(srv *http.Server, ln net.Listener) error {
	if srv.ReadTimeout != 0 || (srv.ReadHeaderTimeout <= 0 && srv.IdleTimeout <= 0) {
		// With ReadTimeout set, net/http moves the deadlines anyway.
		return srv.Serve(ln)
	}
	g := &connGuard{
		header: srv.ReadHeaderTimeout,
		idle:   srv.IdleTimeout,
		conns:  make(map[*guardedConn]struct{}),
		done:   make(chan struct{}),
	}
	srv.ReadHeaderTimeout, srv.IdleTimeout = 0, 0
	next := srv.ConnState
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		g.connState(c, s)
		if next != nil {
			next(c, s)
		}
	}
	g.now.Store(time.Now().UnixNano())
	go g.watch()
	return srv.Serve(&guardedListener{Listener: ln, guard: g})
}

// guardTick is how often the guard looks at the connections.
const guardTick = 500 * time.Millisecond

// Connection phases, as the guard sees them.
const (
	phaseWaiting int32 = iota // no byte of the next request yet: the idle limit
	phaseHeader               // reading a request's headers: the header limit
	phaseActive               // net/http is handling a request: no limit here
)

type connGuard struct {
	header, idle time.Duration
	// now is the guard's coarse clock (Unix ns), advanced every tick, so that a
	// read need not ask the system for the time.
	now atomic.Int64

	mu    sync.Mutex
	conns map[*guardedConn]struct{}

	closeOnce sync.Once
	done      chan struct{}
}

type guardedConn struct {
	net.Conn
	guard *connGuard
	phase atomic.Int32
	since atomic.Int64 // guard clock when the phase began
}

// Read notes the first byte of a request, which starts the header limit.
func (c *guardedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.phase.Load() == phaseWaiting {
		c.since.Store(c.guard.now.Load())
		c.phase.Store(phaseHeader)
	}
	return n, err
}

type guardedListener struct {
	net.Listener
	guard *connGuard
}

func (l *guardedListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	// A new connection is held to the header limit from the start, as net/http
	// holds it: a client that connects and sends nothing is a slowloris too.
	c := &guardedConn{Conn: nc, guard: l.guard}
	c.phase.Store(phaseHeader)
	c.since.Store(l.guard.now.Load())
	l.guard.mu.Lock()
	l.guard.conns[c] = struct{}{}
	l.guard.mu.Unlock()
	return c, nil
}

func (l *guardedListener) Close() error {
	l.guard.closeOnce.Do(func() { close(l.guard.done) })
	return l.Listener.Close()
}

func (g *connGuard) connState(nc net.Conn, s http.ConnState) {
	c, ok := nc.(*guardedConn)
	if !ok {
		return
	}
	switch s {
	case http.StateActive:
		c.phase.Store(phaseActive)
	case http.StateIdle:
		c.since.Store(g.now.Load())
		c.phase.Store(phaseWaiting)
	case http.StateClosed, http.StateHijacked:
		g.mu.Lock()
		delete(g.conns, c)
		g.mu.Unlock()
	}
}

// watch advances the clock and closes the connections past their limit until the
// listener is closed.
func (g *connGuard) watch() {
	t := time.NewTicker(guardTick)
	defer t.Stop()
	var expired []*guardedConn
	for {
		select {
		case <-g.done:
			return
		case now := <-t.C:
			g.now.Store(now.UnixNano())
			expired = g.expired(now.UnixNano(), expired[:0])
			for _, c := range expired {
				c.Conn.Close()
			}
		}
	}
}

func (g *connGuard) expired(now int64, out []*guardedConn) []*guardedConn {
	g.mu.Lock()
	defer g.mu.Unlock()
	for c := range g.conns {
		var limit time.Duration
		switch c.phase.Load() {
		case phaseWaiting:
			limit = g.idle
		case phaseHeader:
			limit = g.header
		default:
			continue
		}
		// since is read from the coarse clock, up to a tick early: adding a tick
		// means a connection is never closed before its limit, at most two ticks
		// after it.
		if limit > 0 && now-c.since.Load() > int64(limit+guardTick) {
			out = append(out, c)
			delete(g.conns, c)
		}
	}
	return out
}

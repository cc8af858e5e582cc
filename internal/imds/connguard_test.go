package imds

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startGuarded serves h through Serve with the given limits and returns its address.
func startGuarded(t *testing.T, header, idle time.Duration, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: header, IdleTimeout: idle}
	done := make(chan error, 1)
	go func() { done <- Serve(srv, ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return ln.Addr().String()
}

// closedWithin reports how long the server took to close c, failing after max.
func closedWithin(t *testing.T, c net.Conn, max time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(max))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", max)
	}
	return time.Since(start)
}

func TestServeClosesSilentConnection(t *testing.T) {
	addr := startGuarded(t, time.Second, time.Minute, http.NotFoundHandler())
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if took := closedWithin(t, c, 5*time.Second); took < 900*time.Millisecond {
		t.Errorf("closed after %v, before the 1 s header limit", took)
	}
}

func TestServeClosesSlowHeaders(t *testing.T) {
	addr := startGuarded(t, time.Second, time.Minute, http.NotFoundHandler())
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A byte every 300 ms keeps the connection busy but never finishes the headers.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for _, b := range []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") {
			select {
			case <-stop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	closedWithin(t, c, 5*time.Second)
}

func TestServeKeepsBusyAndIdleWithinLimits(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(1500 * time.Millisecond) // longer than the header limit
		}
		io.WriteString(w, "ok")
	})
	addr := startGuarded(t, time.Second, 3*time.Second, h)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := func(path string) {
		t.Helper()
		if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "ok" {
			t.Fatalf("GET %s: body %q", path, body)
		}
	}
	get("/slow")                        // a handler may take longer than the header limit
	time.Sleep(1500 * time.Millisecond) // idle longer than the header limit, within the idle one
	get("/")
	// Then the idle limit closes it.
	if took := closedWithin(t, c, 6*time.Second); took < 2500*time.Millisecond {
		t.Errorf("idle connection closed after %v, before the 3 s idle limit", took)
	}
}

func TestServeWithReadTimeoutLeavesNetHTTPInCharge(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: time.Second, ReadTimeout: 2 * time.Second}
	go Serve(srv, ln)
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(line, "404") {
		t.Fatalf("answer %q, %v", line, err)
	}
	if srv.ReadHeaderTimeout != time.Second {
		t.Errorf("ReadHeaderTimeout changed to %v although net/http keeps the deadlines", srv.ReadHeaderTimeout)
	}
}

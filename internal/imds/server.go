package imds

import (
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/tegata-project/tegata/internal/events"
	"github.com/tegata-project/tegata/internal/identity"
	"github.com/tegata-project/tegata/internal/instance"
)

// Options builds a Server.
type Options struct {
	Config Config
	// Inventory is served until the first reload. Required.
	Inventory *instance.Inventory
	// Reload, when set, reads the inventory again (from Config.Inventory); the admin
	// API, SIGHUP and the file watch call it. Nil: the inventory is fixed.
	Reload func() (*instance.Inventory, error)
	// Clock drives scheduled events and fault expiry. Nil: time.Now.
	Clock func() time.Time
	// Logger receives reloads and errors; never request contents. Nil: slog.Default().
	Logger *slog.Logger
	// Metrics receives the imds_* series. Nil: no metrics.
	Metrics *Metrics
	// Attested signs /metadata/attested/document. Nil: the document does not exist for
	// any VM (404), as before a PKI is configured.
	Attested Attester
	// Tokens issues managed-identity tokens. Nil: every VM answers as one without a
	// managed identity (I2).
	Tokens TokenIssuer
}

// TokenIssuer mints the body of /metadata/identity/oauth2/token for an identity the
// request selected; internal/identity implements it.
type TokenIssuer interface {
	Token(in *instance.Instance, p identity.Principal, resource string, bypassCache bool) ([]byte, error)
}

// Attester makes the body of /metadata/attested/document for a VM; internal/attested
// implements it.
type Attester interface {
	Response(in *instance.Instance, apiVersion, nonce string) ([]byte, error)
}

// Server is the IMDS front end. Its ServeHTTP is the metadata listener's handler;
// AdminHandler is the control API's.
type Server struct {
	cfg     Config
	log     *slog.Logger
	clock   func() time.Time
	reload  func() (*instance.Inventory, error)
	metrics *Metrics
	attest  Attester
	tokens  TokenIssuer

	inventory atomic.Pointer[instance.Inventory]
	events    *events.Registry
	versions  *catalog
	errors    errorTable
	limits    *limiter
	faults    faultSet
	// eventsCalled remembers which VMs have read their scheduled events, for
	// Config.Events.FirstCallDelay.
	eventsCalled sync.Map
	requests     *requestLog

	serverHeader    []string
	textContentType []string
}

var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	htmlContentType = []string{"text/html"}
	iisServer       = []string{"Microsoft-IIS/10.0"}
)

// maxEventBooks bounds the VMs with scheduled events: the inventory's own bound.
const maxEventBooks = 100_000

// New validates o.Config and returns a Server.
func New(o Options) (*Server, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Inventory == nil {
		return nil, fmt.Errorf("imds: no inventory: give an inventory file or use the generated instance")
	}
	s := &Server{
		cfg:             o.Config,
		log:             o.Logger,
		clock:           o.Clock,
		reload:          o.Reload,
		metrics:         o.Metrics,
		attest:          o.Attested,
		tokens:          o.Tokens,
		serverHeader:    []string{o.Config.Compat.ServerHeader},
		textContentType: []string{o.Config.Compat.TextContentType},
		requests:        newRequestLog(o.Config.RequestLog),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	timing := events.Realistic()
	if o.Config.Events.Timing == "fast" {
		timing = events.Fast()
	}
	var err error
	if s.events, err = events.NewRegistry(s.clock, timing, maxEventBooks); err != nil {
		return nil, err
	}
	s.versions = newCatalog(o.Config.Compat.APIVersions, events.Accepts)
	if s.errors, err = newErrorTable(o.Config.Errors, s.versions.newest); err != nil {
		return nil, err
	}
	if o.Config.RateLimit.Enabled {
		s.limits = newLimiter(o.Config.RateLimit)
	}
	s.inventory.Store(o.Inventory)
	return s, nil
}

// Inventory returns the inventory being served.
func (s *Server) Inventory() *instance.Inventory { return s.inventory.Load() }

// Events returns the scheduled-events registry.
func (s *Server) Events() *events.Registry { return s.events }

// Reload reads the inventory again. On error the old inventory keeps serving and the
// error (naming file, line and field) is returned.
func (s *Server) Reload() error {
	if s.reload == nil {
		return fmt.Errorf("imds: the inventory is generated, not read from a file: there is nothing to reload (set imds.inventory)")
	}
	inv, err := s.reload()
	if err != nil {
		s.log.Error("inventory reload failed; the previous inventory keeps serving", "err", err)
		s.metrics.reload(false)
		return err
	}
	s.inventory.Store(inv)
	s.log.Info("inventory reloaded", "instances", inv.Len())
	s.metrics.reload(true)
	return nil
}

// category is the first path segment under /metadata/, used for routing, limits and
// metrics.
type category uint8

const (
	catOther category = iota
	catInstance
	catVersions
	catScheduledEvents
	catLoadBalancer
	catAttested
	catIdentity
	catOutside
	numCategories
)

var categoryNames = [numCategories]string{"other", "instance", "versions", "scheduledevents", "loadbalancer", "attested", "identity", "outside"}

func categorize(path string) (category, string) {
	rest, ok := strings.CutPrefix(path, "/metadata/")
	if !ok {
		if path == "/metadata" {
			return catOther, ""
		}
		return catOutside, ""
	}
	name, sub := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		name, sub = rest[:i], rest[i:]
	}
	switch name {
	case "instance":
		return catInstance, sub
	case "versions":
		return catVersions, sub
	case "scheduledevents":
		return catScheduledEvents, sub
	case "loadbalancer":
		return catLoadBalancer, sub
	case "attested":
		return catAttested, sub
	case "identity":
		return catIdentity, sub
	}
	return catOther, sub
}

// exchange is one request in flight: what the gate learned, handed to the endpoint.
type exchange struct {
	w      http.ResponseWriter
	r      *http.Request
	cat    category
	sub    string // path below the category, "" or starting with "/"
	inst   *instance.Instance
	q      query
	status int
	start  time.Time
}

// ServeHTTP runs the gate in the order of docs/imds.md §2, then the endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := exchanges.Get().(*exchange)
	*x = exchange{w: w, r: r, start: time.Now()}
	x.cat, x.sub = categorize(r.URL.Path)
	s.serve(x)
	took := time.Since(x.start)
	s.metrics.observe(x.cat, x.status, took)
	s.requests.add(x, took)
	*x = exchange{}
	exchanges.Put(x)
}

// exchanges recycles exchange records: each holds a query with room for its
// parameters, and the hot path should not allocate one per request.
var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func (s *Server) serve(x *exchange) {
	if x.cat == catOutside {
		h := x.w.Header()
		h["Content-Type"] = htmlContentType
		h["Server"] = iisServer
		x.status = http.StatusNotFound
		x.w.WriteHeader(x.status)
		x.w.Write(iisNotFound)
		return
	}
	inv := s.inventory.Load()
	inst, ok := inv.Only()
	if !ok {
		inst, ok = inv.Lookup(remoteAddr(x.r))
	}
	if !ok {
		s.fail(x, ErrUnknownCaller)
		return
	}
	x.inst = inst
	if s.faults.active() && s.applyFault(x) {
		return
	}
	if s.limits != nil {
		release, ok := s.limits.admit(inst.Name, x.cat == catIdentity, s.clock())
		if !ok {
			if x.cat == catIdentity {
				s.fail(x, ErrIdentityThrottled)
			} else {
				s.fail(x, ErrThrottled)
			}
			return
		}
		defer release()
	}
	if _, xff := x.r.Header["X-Forwarded-For"]; xff && !s.cfg.Compat.TrustForwardedFor {
		s.fail(x, ErrForwardedFor)
		return
	}
	if !s.hasMetadataHeader(x) {
		if x.cat == catIdentity {
			s.fail(x, ErrIdentityMissingHeader)
		} else {
			s.fail(x, ErrMissingHeader)
		}
		return
	}
	if err := parseQuery(x.r.URL.RawQuery, &x.q); err != nil {
		if err == errDuplicateParam {
			s.fail(x, ErrDuplicateParameter)
		} else {
			s.fail(x, ErrBadRequest)
		}
		return
	}
	s.route(x)
}

// hasMetadataHeader applies §2.1: "true" in any case (WALinuxAgent sends "True"),
// surrounding whitespace trimmed; identity may be made strict.
func (s *Server) hasMetadataHeader(x *exchange) bool {
	if x.cat == catVersions && !s.cfg.Compat.VersionsRequireHeader {
		return true
	}
	vals := x.r.Header["Metadata"]
	if len(vals) == 0 {
		return false
	}
	v := strings.TrimSpace(vals[0])
	if v == "true" {
		return true
	}
	if x.cat == catIdentity && s.cfg.Compat.StrictIdentityMetadataHeader {
		return false
	}
	return strings.EqualFold(v, "true")
}

// remoteAddr is the caller's address; the inventory maps it to an instance.
func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// writeCommon sets the headers every IMDS answer carries.
func (s *Server) writeCommon(x *exchange, contentType []string, n int) http.Header {
	h := x.w.Header()
	h["Content-Type"] = contentType
	h["Server"] = s.serverHeader
	h["x-ms-request-id"] = requestIDHeader()
	if n >= autoLengthBelow || x.r.Method == http.MethodHead {
		h["Content-Length"] = []string{strconv.Itoa(n)}
	}
	if s.cfg.Compat.EchoClientRequestID {
		if id := x.r.Header.Get("X-Ms-Client-Request-Id"); id != "" && len(id) <= 128 {
			h["x-ms-client-request-id"] = []string{id}
		}
	}
	return h
}

// reply writes a successful (or endpoint-specific) answer.
func (s *Server) reply(x *exchange, status int, contentType []string, body []byte) {
	s.writeCommon(x, contentType, len(body))
	x.status = status
	x.w.WriteHeader(status)
	if x.r.Method != http.MethodHead {
		x.w.Write(body)
	}
}

// replyText writes a format=text leaf without copying it.
func (s *Server) replyText(x *exchange, body string) {
	s.writeCommon(x, s.textContentType, len(body))
	x.status = http.StatusOK
	x.w.WriteHeader(http.StatusOK)
	if x.r.Method != http.MethodHead {
		io.WriteString(x.w, body)
	}
}

// fail writes row id of the error table.
func (s *Server) fail(x *exchange, id ErrorID) {
	e := s.errors[id]
	ct := jsonContentType
	if id == ErrUnreachable {
		ct = s.textContentType
	}
	s.reply(x, e.status, ct, e.body)
}

// failMessage writes a load-balancer style error: a message wrapped as { "error": ... }.
func (s *Server) failMessage(x *exchange, status int, msg string) {
	b := append([]byte(`{ "error": `), instance.AppendJSONString(nil, msg)...)
	s.reply(x, status, jsonContentType, append(b, " }"...))
}

// requestIDHeader returns a one-element header value holding a random lower-case
// hyphenated UUID (version 4), as Azure sends in x-ms-request-id. IDs are made a batch
// at a time, so a request pays for a share of one allocation rather than its own. They
// need to be unique, not secret: math/rand/v2's generator (ChaCha8, seeded by the
// runtime) serves without the system call crypto/rand makes.
func requestIDHeader() []string {
	b := idBatches.Get().(*idBatch)
	if b.next == len(b.vals) {
		b = newIDBatch()
	}
	v := b.vals[b.next][:]
	b.next++
	idBatches.Put(b)
	return v
}

// idBatch is a run of ready request IDs; a header keeps its batch alive only until the
// response is written.
type idBatch struct {
	vals [64][1]string
	buf  [64 * 36]byte
	next int
}

var idBatches = sync.Pool{New: func() any { return newIDBatch() }}

func newIDBatch() *idBatch {
	b := new(idBatch)
	for n := range b.vals {
		var u [16]byte
		binary.LittleEndian.PutUint64(u[:8], mrand.Uint64())
		binary.LittleEndian.PutUint64(u[8:], mrand.Uint64())
		u[6] = u[6]&0x0f | 0x40 // version 4
		u[8] = u[8]&0x3f | 0x80 // variant 10
		id := b.buf[n*36 : n*36+36]
		j := 0
		for i, c := range u {
			if i == 4 || i == 6 || i == 8 || i == 10 {
				id[j] = '-'
				j++
			}
			copy(id[j:j+2], hexPairs[2*int(c):2*int(c)+2])
			j += 2
		}
		b.vals[n][0] = unsafe.String(&id[0], len(id))
	}
	return b
}

// hexPairs is the lower-case hex of every byte value, two characters each.
var hexPairs = func() string {
	b := make([]byte, 0, 512)
	for i := range 256 {
		b = append(b, hexDigits[i>>4], hexDigits[i&0xf])
	}
	return string(b)
}()

const hexDigits = "0123456789abcdef"

// autoLengthBelow is the body size below which net/http writes Content-Length itself
// (it buffers that much before it would switch to chunked encoding); leaving such
// answers' length to it saves a header entry to clone and sort on every request.
const autoLengthBelow = 2048

// NewHTTPServer returns an http.Server for the metadata listener. Headers must arrive
// within 5 s (slowloris) and idle keep-alive connections close after 2 min. There is no
// whole-request read or write timeout: a GET has no body and every answer fits in the
// socket buffer, and such deadlines would cost every request two timer updates. The one
// request with a body, the scheduled-events POST, sets its own read deadline.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
	}
}

// NewAdminHTTPServer returns an http.Server for the control API, with a timeout on
// every phase.
func NewAdminHTTPServer(addr string, h http.Handler) *http.Server {
	srv := NewHTTPServer(addr, h)
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 60 * time.Second
	return srv
}

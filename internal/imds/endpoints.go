package imds

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tegata-project/tegata/internal/events"
	"github.com/tegata-project/tegata/internal/identity"
	"github.com/tegata-project/tegata/internal/instance"
)

// maxPostBody and postReadTimeout bound the scheduled-events approval body.
const (
	maxPostBody     = 64 << 10
	postReadTimeout = 10 * time.Second
)

// serveScheduledEvents answers GET with the VM's events document and POST with an
// approval (docs/imds.md §4.5).
func (s *Server) serveScheduledEvents(x *exchange, v string) {
	if !s.jsonOnly(x) {
		return
	}
	book, err := s.events.Book(x.inst.Name)
	if err != nil {
		s.fail(x, ErrInternal)
		return
	}
	if x.r.Method != http.MethodPost {
		if d := s.cfg.Events.FirstCallDelay; d > 0 {
			if _, seen := s.eventsCalled.LoadOrStore(x.inst.Name, true); !seen && !sleepCtx(x.r, d) {
				x.status = 499 // the client gave up first
				return
			}
		}
		s.reply(x, http.StatusOK, jsonContentType, book.Document(v))
		return
	}
	// The metadata listener has no whole-request read timeout (see NewHTTPServer).
	http.NewResponseController(x.w).SetReadDeadline(time.Now().Add(postReadTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(x.w, x.r.Body, maxPostBody))
	if err != nil {
		s.fail(x, ErrBadRequest)
		return
	}
	ids, err := events.ParseStartRequests(body)
	if err != nil {
		s.fail(x, ErrBadRequest)
		return
	}
	if err := book.Approve(ids); err != nil {
		s.fail(x, ErrBadRequest)
		return
	}
	s.approveListedVMs(book, ids)
	s.reply(x, http.StatusOK, jsonContentType, nil)
}

// sleepCtx waits d, or until the request is abandoned; it reports whether d passed.
func sleepCtx(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// Load balancer messages (docs/imds.md §4.6.3), in the current wording.
const (
	lbNotFound     = "No load balancer metadata is found. Check if your virtual machine is using any nonbasic SKU load balancer and retry later."
	lbBadParameter = "Unexpected request. Check the query parameters and retry."
)

// serveLoadBalancer renders the VM's Standard Load Balancer frontends and rules in the
// documentation's key order; ports are JSON numbers.
func (s *Server) serveLoadBalancer(x *exchange) {
	if f, _ := x.q.get("format"); f != "" && f != "json" {
		s.failMessage(x, http.StatusBadRequest, lbBadParameter)
		return
	}
	lb := x.inst.LoadBalancer
	if lb == nil {
		s.failMessage(x, http.StatusNotFound, lbNotFound)
		return
	}
	s.reply(x, http.StatusOK, jsonContentType, loadBalancerJSON(lb))
}

func loadBalancerJSON(lb *instance.LoadBalancer) []byte {
	b := []byte(`{"loadbalancer":{"publicIpAddresses":[`)
	for i, p := range lb.PublicIPAddresses {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendPair(b, `{"frontendIpAddress":`, p.FrontendIPAddress, `,"privateIpAddress":`, p.PrivateIPAddress)
		b = append(b, '}')
	}
	b = append(b, `],"inboundRules":[`...)
	for i, r := range lb.InboundRules {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendPair(b, `{"frontendIpAddress":`, r.FrontendIPAddress, `,"protocol":`, r.Protocol)
		b = append(b, `,"frontendPort":`...)
		b = strconv.AppendInt(b, int64(r.FrontendPort), 10)
		b = append(b, `,"backendPort":`...)
		b = strconv.AppendInt(b, int64(r.BackendPort), 10)
		b = append(b, `,"privateIpAddress":`...)
		b = instance.AppendJSONString(b, r.PrivateIPAddress)
		b = append(b, '}')
	}
	b = append(b, `],"outboundRules":[`...)
	for i, o := range lb.OutboundRules {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendPair(b, `{"frontendIpAddress":`, o.FrontendIPAddress, `,"privateIpAddress":`, o.PrivateIPAddress)
		b = append(b, '}')
	}
	return append(b, "]}}"...)
}

func appendPair(b []byte, k1, v1, k2, v2 string) []byte {
	b = append(b, k1...)
	b = instance.AppendJSONString(b, v1)
	b = append(b, k2...)
	return instance.AppendJSONString(b, v2)
}

// validNonce applies the attested nonce rule (docs/imds.md §4.3.1): 1-32 characters of
// [A-Za-z0-9_-].
func validNonce(n string) bool {
	if n == "" || len(n) > 32 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// serveAttested validates the request (nonce: docs/imds.md §4.3.1) and answers with the
// signed document, or, with no PKI configured, as if it did not exist.
func (s *Server) serveAttested(x *exchange) {
	if !s.jsonOnly(x) {
		return
	}
	n, ok := x.q.get("nonce")
	if ok && !validNonce(n) {
		s.fail(x, ErrBadRequest)
		return
	}
	if s.attest == nil {
		s.fail(x, ErrNotFound)
		return
	}
	v, _ := x.q.get("api-version")
	body, err := s.attest.Response(x.inst, v, n)
	if err != nil {
		s.log.Error("attested document not signed", "instance", x.inst.Name, "err", err)
		s.fail(x, ErrInternal)
		return
	}
	s.reply(x, http.StatusOK, jsonContentType, body)
}

// serveIdentity answers /identity/info from the instance model, and token requests
// with a token for the identity they select (docs/imds.md §4.4), or, with no issuer
// configured, as a VM without a managed identity does (I2).
func (s *Server) serveIdentity(x *exchange) {
	if f, _ := x.q.get("format"); f != "" && f != "json" {
		s.fail(x, ErrBadRequest)
		return
	}
	id := &x.inst.Identity
	if x.sub == "/info" {
		if !id.SystemAssigned.Enabled {
			s.fail(x, ErrIdentityNotFound)
			return
		}
		b := append([]byte(`{"tenantId":`), instance.AppendJSONString(nil, id.SystemAssigned.TenantID)...)
		s.reply(x, http.StatusOK, jsonContentType, append(b, '}'))
		return
	}
	if r, ok := x.q.get("resource"); !ok || r == "" {
		s.fail(x, ErrIdentityMissingResource)
		return
	}
	n := 0
	for _, sel := range []string{"client_id", "object_id", "msi_res_id", "mi_res_id"} {
		if _, ok := x.q.get(sel); ok {
			n++
		}
	}
	if n > 1 {
		s.fail(x, ErrIdentityConflict)
		return
	}
	if s.tokens == nil {
		s.fail(x, ErrIdentityNotFound)
		return
	}
	var sel identity.Selector
	sel.ClientID, _ = x.q.get("client_id")
	sel.ObjectID, _ = x.q.get("object_id")
	if sel.ResourceID, _ = x.q.get("msi_res_id"); sel.ResourceID == "" {
		sel.ResourceID, _ = x.q.get("mi_res_id") // App Service's spelling
	}
	p, err := identity.Select(x.inst, sel)
	switch {
	case errors.Is(err, identity.ErrMultiple):
		s.fail(x, ErrIdentityMultiple)
		return
	case err != nil:
		s.fail(x, ErrIdentityNotFound)
		return
	}
	resource, _ := x.q.get("resource")
	bypass, _ := x.q.get("bypass_cache")
	body, err := s.tokens.Token(x.inst, p, resource, bypass == "true")
	if err != nil {
		s.log.Error("token not issued", "instance", x.inst.Name, "err", err)
		s.fail(x, ErrIdentityFailure)
		return
	}
	s.reply(x, http.StatusOK, jsonContentType, body)
}

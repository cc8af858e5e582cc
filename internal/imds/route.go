package imds

import (
	"net/http"
	"strings"

	"github.com/tegata-project/tegata/internal/instance"
)

// route resolves the endpoint, checks the method and the api-version, and runs it
// (docs/imds.md §2 steps 6-8).
func (s *Server) route(x *exchange) {
	post := false
	switch x.cat {
	case catInstance:
	case catVersions:
		if x.sub != "" || !s.cfg.Compat.VersionsEndpoint {
			s.fail(x, ErrNotFound)
			return
		}
	case catScheduledEvents:
		if x.sub != "" && x.sub != "/" {
			s.fail(x, ErrNotFound)
			return
		}
		post = true
	case catLoadBalancer:
		if x.sub != "" && x.sub != "/" {
			s.fail(x, ErrNotFound)
			return
		}
	case catAttested:
		if x.sub != "/document" {
			s.fail(x, ErrNotFound)
			return
		}
	case catIdentity:
		switch x.sub {
		case "/oauth2/token", "/info":
		default:
			s.fail(x, ErrNotFound)
			return
		}
	default:
		s.fail(x, ErrNotFound)
		return
	}
	if !s.methodAllowed(x.r.Method, post) {
		s.fail(x, ErrMethodNotAllowed)
		return
	}
	if x.cat == catVersions {
		s.reply(x, http.StatusOK, jsonContentType, s.versions.ascending)
		return
	}
	v, _ := x.q.get("api-version")
	if !s.apiVersionAccepted(x.cat, v) {
		s.failVersion(x, v)
		return
	}
	switch x.cat {
	case catInstance:
		s.serveInstance(x, v)
	case catScheduledEvents:
		s.serveScheduledEvents(x, v)
	case catLoadBalancer:
		s.serveLoadBalancer(x)
	case catAttested:
		s.serveAttested(x)
	case catIdentity:
		s.serveIdentity(x)
	}
}

func (s *Server) methodAllowed(m string, post bool) bool {
	switch m {
	case http.MethodGet:
		return true
	case http.MethodHead:
		return s.cfg.Compat.AllowHEAD
	case http.MethodPost:
		return post
	}
	return false
}

func (s *Server) apiVersionAccepted(c category, v string) bool {
	switch c {
	case catInstance:
		return s.versions.accepts(v, minInstance)
	case catScheduledEvents:
		return s.versions.scheduledEvents(v)
	case catLoadBalancer:
		return s.versions.accepts(v, minLoadBalancer)
	case catAttested:
		return s.versions.accepts(v, minAttested)
	case catIdentity:
		return s.versions.accepts(v, minIdentity)
	}
	return false
}

// failVersion answers a missing or unacceptable api-version: E3, or in legacy mode E4
// for a version that was given but is unknown.
func (s *Server) failVersion(x *exchange, v string) {
	if v != "" && s.cfg.Compat.InvalidVersionMode == "legacy404" {
		s.fail(x, ErrLegacyVersion)
		return
	}
	s.fail(x, ErrBadAPIVersion)
}

// format reads the format parameter: "", "json" or "text". ok is false for any other
// value.
func format(q *query) (string, bool) {
	f, _ := q.get("format")
	return f, f == "" || f == "json" || f == "text"
}

// serveInstance walks the version's tree down the route parameters and renders the
// node per the leaf rule (docs/imds.md §2.7, §2.8).
func (s *Server) serveInstance(x *exchange, v string) {
	f, ok := format(&x.q)
	if !ok {
		s.fail(x, ErrBadRequest)
		return
	}
	ext, _ := x.q.get("extended")
	extended := ext == "true"
	if extended && s.cfg.Compat.RejectExtended {
		s.fail(x, ErrBadRequest)
		return
	}
	node := x.inst.Tree(v, extended)
	path := x.sub
	if path != "" {
		path = strings.TrimSuffix(path[1:], "/")
	}
	for path != "" {
		var seg string
		seg, path, _ = strings.Cut(path, "/")
		next, ok := node.Child(seg)
		if !ok && s.cfg.Compat.CaseInsensitiveKeys && node.Kind() == instance.KindObject {
			next, ok = childFold(node, seg)
		}
		if !ok {
			s.fail(x, ErrNotFound)
			return
		}
		node = next
	}
	switch {
	case f == "text" && node.IsLeaf():
		s.replyText(x, node.Value())
	case f == "text":
		s.reply(x, http.StatusOK, s.textContentType, node.Text())
	case node.IsLeaf():
		s.fail(x, ErrLeafNeedsText)
	default:
		s.reply(x, http.StatusOK, jsonContentType, node.JSON())
	}
}

func childFold(n *instance.Node, seg string) (*instance.Node, bool) {
	for _, k := range n.Keys() {
		if strings.EqualFold(k, seg) {
			return n.Get(k)
		}
	}
	return nil, false
}

// jsonOnly rejects format=text (and unknown formats) on endpoints without route
// filtering; format=json is accepted and ignored.
func (s *Server) jsonOnly(x *exchange) bool {
	if f, _ := x.q.get("format"); f != "" && f != "json" {
		s.fail(x, ErrBadRequest)
		return false
	}
	return true
}

package pki

import (
	"net/http"
	"net/url"
	"strings"
)

// maxAIAPath bounds the request paths AIAHandler looks at.
const maxAIAPath = 512

// AIAHandler serves the CA certificates at the "CA Issuers" URLs written
// into every certificate: GET or HEAD <AIABaseURL path>/<name>.crt answers
// the DER certificate as application/pkix-cert (every root,
// cross-certificate and Sub CA ever created, so old documents can still be
// audited), <AIABaseURL path>/bundle.pem answers Bundle and manifest.json the
// Manifest. Anything else
// is 404 (405 for other methods); there is no listing. Mount it on the path
// of Plan.AIABaseURL, e.g. mux.Handle("/pki/", a.AIAHandler()).
func (a *Authority) AIAHandler() http.Handler {
	base := "/"
	if u, err := url.Parse(a.plan.AIABaseURL); err == nil {
		base = strings.TrimSuffix(u.EscapedPath(), "/") + "/"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := r.URL.EscapedPath()
		if len(p) > maxAIAPath || !strings.HasPrefix(p, base) {
			http.NotFound(w, r)
			return
		}
		name := p[len(base):]
		if name == "manifest.json" {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "max-age=3600")
			_, _ = w.Write(a.manifestJSON())
			return
		}
		if name == "bundle.pem" {
			w.Header().Set("Content-Type", "application/x-pem-file")
			w.Header().Set("Cache-Control", "max-age=3600")
			_, _ = w.Write(a.Bundle())
			return
		}
		name, ok := strings.CutSuffix(name, ".crt")
		if !ok || name == "" || strings.ContainsAny(name, "/%") {
			http.NotFound(w, r)
			return
		}
		a.mu.Lock()
		now := a.clock()
		_ = a.sync(now) // publish what the plan has introduced by now, as Bundle does
		var der []byte
		for _, e := range a.published(now, true) {
			if e.name == name {
				der = e.cert.Raw
				break
			}
		}
		if der == nil && name == ClientCAName {
			// The client CA exists once a client certificate was issued; its
			// leaves point here, and the DCs fetch it to build their chains.
			if cert, err := a.ks.loadCert(ClientCAName); err == nil && cert != nil {
				der = cert.Raw
			}
		}
		a.mu.Unlock()
		if der == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Header().Set("Cache-Control", "max-age=86400")
		_, _ = w.Write(der)
	})
}

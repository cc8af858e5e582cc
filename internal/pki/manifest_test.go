package pki

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"
)

// TestManifest follows the statuses across a planned switch (30-day cadence, 10 days'
// lead): before the announcement, while the next Sub CA is planned, and after it
// activates; the manifest is served next to the certificates.
func TestManifest(t *testing.T) {
	clk := &fakeClock{t: testStart}
	a := openTest(t, t.TempDir(), testMaster(t, 1), testPlan("http://127.0.0.1:8255/pki"), clk)
	status := func() map[string]string {
		out := map[string]string{}
		for _, e := range a.Manifest().Certificates {
			out[e.Name] = e.Status
		}
		return out
	}
	if got := status(); got["root-ca-01"] != "active" || got["issuing-ca-01"] != "active" || len(got) != 2 {
		t.Fatalf("at the start: %v", got)
	}
	clk.Set(testStart.Add(25 * 24 * time.Hour)) // CA 02 announced on day 20, signs on day 30
	if got := status(); got["issuing-ca-02"] != "planned" || got["issuing-ca-01"] != "active" {
		t.Fatalf("while CA 02 is announced: %v", got)
	}
	clk.Set(testStart.Add(31 * 24 * time.Hour))
	if got := status(); got["issuing-ca-02"] != "active" || got["issuing-ca-01"] != "retiring" {
		t.Fatalf("after the switch: %v", got)
	}
	m := a.Manifest()
	for _, e := range m.Certificates {
		if e.Name != "issuing-ca-02" {
			continue
		}
		if e.FirstUse == nil || !e.FirstUse.Equal(testStart.Add(30*24*time.Hour)) || e.URL != "http://127.0.0.1:8255/pki/issuing-ca-02.crt" {
			t.Fatalf("entry %+v", e)
		}
		for _, c := range a.Intermediates() {
			if sum := sha256.Sum256(c.Raw); c.Subject.String() == e.Subject && hex.EncodeToString(sum[:]) != e.SHA256 {
				t.Fatalf("sha256 of %s does not match", e.Subject)
			}
		}
	}
	w := httptest.NewRecorder()
	a.AIAHandler().ServeHTTP(w, httptest.NewRequest("GET", "/pki/manifest.json", nil))
	var served Manifest
	if err := json.Unmarshal(w.Body.Bytes(), &served); err != nil || w.Code != 200 || served.Version != 1 || len(served.Certificates) != len(m.Certificates) {
		t.Fatalf("served manifest: %d %v", w.Code, err)
	}
}

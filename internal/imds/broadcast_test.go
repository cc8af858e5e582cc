package imds

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tegata-project/tegata/internal/instance"
)

const twoVMs = `instances:
  - name: vm-a
    network:
      interface:
        - macAddress: 000D3A000001
          ipv4:
            ipAddress:
              - privateIpAddress: 10.1.0.4
  - name: vm-b
    network:
      interface:
        - macAddress: 000D3A000002
          ipv4:
            ipAddress:
              - privateIpAddress: 10.1.0.5
`

// TestEventBroadcast checks Azure's availability-set behaviour: an event listing two VMs
// appears in both documents, and the approval of one VM starts it for both.
func TestEventBroadcast(t *testing.T) {
	inv, err := instance.Parse("inv.yaml", []byte(twoVMs))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Config: DefaultConfig(), Inventory: inv})
	if err != nil {
		t.Fatal(err)
	}
	admin := httptest.NewServer(s.AdminHandler(nil))
	defer admin.Close()
	resp, err := http.Post(admin.URL+"/admin/events", "application/json", strings.NewReader(`{"instance":"vm-a","type":"Reboot","resources":["vm-a","vm-b","vm-elsewhere"],"id":"EV-1"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("add: %d %s", resp.StatusCode, b)
	}
	docOf := func(addr string) string {
		r := httptest.NewRequest("GET", "/metadata/scheduledevents?api-version=2020-07-01", nil)
		r.RemoteAddr = addr + ":1"
		r.Header.Set("Metadata", "true")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w.Body.String()
	}
	for _, addr := range []string{"10.1.0.4", "10.1.0.5"} {
		if doc := docOf(addr); !strings.Contains(doc, `"EventId":"EV-1","EventStatus":"Scheduled"`) || !strings.Contains(doc, `"Resources":["vm-a","vm-b","vm-elsewhere"]`) {
			t.Fatalf("document of %s: %s", addr, doc)
		}
	}
	r := httptest.NewRequest("POST", "/metadata/scheduledevents?api-version=2020-07-01", strings.NewReader(`{"StartRequests":[{"EventId":"ev-1"}]}`))
	r.RemoteAddr = "10.1.0.5:1"
	r.Header.Set("Metadata", "true")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("approval from vm-b: %d %s", w.Code, w.Body.String())
	}
	for _, addr := range []string{"10.1.0.4", "10.1.0.5"} {
		if doc := docOf(addr); !strings.Contains(doc, `"EventId":"EV-1","EventStatus":"Started"`) {
			t.Fatalf("after vm-b approved, document of %s: %s", addr, doc)
		}
	}
}

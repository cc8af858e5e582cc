package imds

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"
	"time"

	"github.com/tegata-project/tegata/internal/events"
	"github.com/tegata-project/tegata/internal/instance"
)

// maxAdminBody bounds control API request bodies.
const maxAdminBody = 1 << 20

// AdminHandler returns the control API, served on its own listener (never the metadata
// one): health, metrics, inventory reload, scheduled-event injection and approval,
// fault injection and the request log. Every answer is JSON; errors are
// {"error": "..."} with what to do. metrics may be nil.
func (s *Server) AdminHandler(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "instances": s.Inventory().Len()})
	})
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	if s.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("GET /admin/instances", s.adminInstances)
	mux.HandleFunc("POST /admin/inventory/reload", s.adminReload)
	mux.HandleFunc("GET /admin/events", s.adminListEvents)
	mux.HandleFunc("POST /admin/events", s.adminAddEvent)
	mux.HandleFunc("POST /admin/events/approve", s.adminApproveEvents)
	mux.HandleFunc("DELETE /admin/events/{id}", s.adminCancelEvent)
	mux.HandleFunc("GET /admin/faults", s.adminListFaults)
	mux.HandleFunc("POST /admin/faults", s.adminAddFault)
	mux.HandleFunc("DELETE /admin/faults", s.adminClearFaults)
	mux.HandleFunc("DELETE /admin/faults/{id}", s.adminClearFaults)
	mux.HandleFunc("GET /admin/requests", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.requests.list())
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "request body: %v: send one JSON object (see docs/imds.md, control API)", err)
		return false
	}
	return true
}

// InstanceSummary is how the control API lists an instance.
type InstanceSummary struct {
	Name      string   `json:"name"`
	VMID      string   `json:"vmId"`
	Addresses []string `json:"addresses"`
	Default   bool     `json:"default,omitempty"`
}

func (s *Server) adminInstances(w http.ResponseWriter, r *http.Request) {
	inv := s.Inventory()
	def := inv.Default()
	out := []InstanceSummary{}
	for _, in := range inv.All() {
		sum := InstanceSummary{Name: in.Name, VMID: in.Compute.VMID, Default: in == def, Addresses: append([]string{}, in.Addresses...)}
		for _, nic := range in.Network.Interface {
			for _, a := range nic.IPv4.IPAddress {
				sum.Addresses = append(sum.Addresses, a.PrivateIPAddress)
			}
			for _, a := range nic.IPv6.IPAddress {
				sum.Addresses = append(sum.Addresses, a.PrivateIPAddress)
			}
		}
		out = append(out, sum)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) adminReload(w http.ResponseWriter, r *http.Request) {
	if err := s.Reload(); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "%v (the previous inventory keeps serving)", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"instances": s.Inventory().Len()})
}

// instanceFor resolves the ?instance= (or body) name, defaulting to the inventory's
// default instance, or its only one.
func (s *Server) instanceFor(name string) (*instance.Instance, error) {
	inv := s.Inventory()
	if name != "" {
		if in, ok := inv.ByName(name); ok {
			return in, nil
		}
		return nil, fmt.Errorf("no instance named %q in the inventory: list them with GET /admin/instances", name)
	}
	if d := inv.Default(); d != nil {
		return d, nil
	}
	if all := inv.All(); len(all) == 1 {
		return all[0], nil
	}
	return nil, errors.New("the inventory has several instances and no default: say which with instance=<name>")
}

// bookFor returns the scheduled events of the named instance (see instanceFor), or
// writes the error and reports false.
func (s *Server) bookFor(w http.ResponseWriter, name string) (*events.Book, bool) {
	in, err := s.instanceFor(name)
	if err != nil {
		writeError(w, http.StatusNotFound, "%v", err)
		return nil, false
	}
	book, err := s.events.Book(in.Name)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return nil, false
	}
	return book, true
}

func (s *Server) adminListEvents(w http.ResponseWriter, r *http.Request) {
	book, ok := s.bookFor(w, r.URL.Query().Get("instance"))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, book.Events())
}

// EventRequest is the body of POST /admin/events.
type EventRequest struct {
	Instance    string   `json:"instance,omitempty"`
	Type        string   `json:"type"`
	Resources   []string `json:"resources,omitempty"`
	NotBefore   string   `json:"not_before,omitempty"` // RFC 3339, or a delay such as 5m
	Description string   `json:"description,omitempty"`
	Source      string   `json:"source,omitempty"`
	Duration    *int     `json:"duration_seconds,omitempty"`
	Status      string   `json:"status,omitempty"`
	ID          string   `json:"id,omitempty"`
}

func (s *Server) adminAddEvent(w http.ResponseWriter, r *http.Request) {
	var req EventRequest
	if !readJSON(w, r, &req) {
		return
	}
	book, ok := s.bookFor(w, req.Instance)
	if !ok {
		return
	}
	spec, err := specFromRequest(req, s.clock())
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	ev, err := book.Add(spec)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	if failed := s.copyToListedVMs(book.Name(), ev, spec); len(failed) > 0 {
		writeError(w, http.StatusConflict, "event %s added to %s but not to every VM it lists: %s", ev.ID, book.Name(), strings.Join(failed, "; "))
		return
	}
	writeJSON(w, http.StatusCreated, ev)
}

// specFromRequest turns the control API's event into an events.Spec; not_before is an
// RFC 3339 time or a delay from now.
func specFromRequest(req EventRequest, now time.Time) (events.Spec, error) {
	spec := events.Spec{
		Type:        events.EventType(req.Type),
		Resources:   req.Resources,
		Description: req.Description,
		Source:      events.Source(req.Source),
		Status:      events.Status(req.Status),
		ID:          req.ID,
	}
	if req.Duration != nil {
		spec.DurationInSeconds = req.Duration
	}
	if req.NotBefore != "" {
		if t, err := time.Parse(time.RFC3339, req.NotBefore); err == nil {
			spec.NotBefore = t
		} else if d, err := time.ParseDuration(req.NotBefore); err == nil && d >= 0 {
			spec.NotBefore = now.Add(d)
		} else {
			return spec, fmt.Errorf("not_before %q: give an RFC 3339 time (2026-12-01T10:00:00Z) or a delay (5m)", req.NotBefore)
		}
	}
	return spec, nil
}

// ApproveRequest is the body of POST /admin/events/approve: what a VM would POST to
// /metadata/scheduledevents, sent on its behalf.
type ApproveRequest struct {
	Instance string   `json:"instance,omitempty"`
	IDs      []string `json:"ids"`
}

func (s *Server) adminApproveEvents(w http.ResponseWriter, r *http.Request) {
	var req ApproveRequest
	if !readJSON(w, r, &req) {
		return
	}
	book, ok := s.bookFor(w, req.Instance)
	if !ok {
		return
	}
	if err := book.Approve(req.IDs); err != nil {
		writeError(w, http.StatusNotFound, "%v: list the current events with GET /admin/events", err)
		return
	}
	s.approveListedVMs(book, req.IDs)
	writeJSON(w, http.StatusOK, book.Events())
}

func (s *Server) adminCancelEvent(w http.ResponseWriter, r *http.Request) {
	book, ok := s.bookFor(w, r.URL.Query().Get("instance"))
	if !ok {
		return
	}
	if err := book.Cancel(r.PathValue("id")); err != nil {
		writeError(w, http.StatusNotFound, "%v: list the current events with GET /admin/events", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminListFaults(w http.ResponseWriter, r *http.Request) {
	list := append([]*Fault{}, s.faults.snapshot()...)
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) adminAddFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if !readJSON(w, r, &f) {
		return
	}
	if err := s.AddFault(&f); err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, http.StatusCreated, &f)
}

func (s *Server) adminClearFaults(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !s.faults.remove(id) && id != "" {
		writeError(w, http.StatusNotFound, "no fault %q: list them with GET /admin/faults", id)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// AddFault validates and activates f.
func (s *Server) AddFault(f *Fault) error { return s.faults.add(f) }

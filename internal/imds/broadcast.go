package imds

import (
	"strings"

	"github.com/tegata-project/tegata/internal/events"
)

// Azure broadcasts an event to every VM it lists (an availability set or placement
// group), and an approval from any of them applies to all (docs/imds.md §4.5.4). Each
// VM keeps its own book, so the control API copies a new event into the books of the
// other listed VMs that the inventory knows, and an approval is passed on to them.

// copyToListedVMs adds ev, under the same EventId and NotBefore, to the book of every
// VM of ev.Resources other than origin that the inventory knows. It returns the names
// it could not add to, with why.
func (s *Server) copyToListedVMs(origin string, ev events.Event, spec events.Spec) []string {
	var failed []string
	inv := s.Inventory()
	spec.ID = ev.ID
	spec.Resources = ev.Resources
	if ev.Status == events.Scheduled {
		spec.NotBefore, spec.Delay = ev.NotBefore, 0
	}
	for _, name := range ev.Resources {
		if name == origin {
			continue
		}
		if _, ok := inv.ByName(name); !ok {
			continue // a VM this tegata does not serve: nothing to keep
		}
		book, err := s.events.Book(name)
		if err == nil {
			_, err = book.Add(spec)
		}
		if err != nil {
			failed = append(failed, name+": "+err.Error())
		}
	}
	return failed
}

// approveListedVMs passes an approval made in origin's book on to the books of the other
// VMs the approved events list. Those books may have lost the event already (it ended,
// or was cancelled there), which is no error.
func (s *Server) approveListedVMs(origin *events.Book, ids []string) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[strings.ToUpper(id)] = true
	}
	for _, ev := range origin.Events() {
		if !want[strings.ToUpper(ev.ID)] {
			continue
		}
		for _, name := range ev.Resources {
			if name == origin.Name() {
				continue
			}
			if _, ok := s.Inventory().ByName(name); !ok {
				continue
			}
			if book, err := s.events.Book(name); err == nil {
				book.Approve([]string{ev.ID})
			}
		}
	}
}

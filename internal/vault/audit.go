package vault

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tegata-project/tegata/internal/store"
)

// auditWriter batches audit entries so that an audited read costs a channel
// send, not a database write: entries are written in one transaction every
// auditFlush or when auditBatch accumulate. An entry is durable once flushed;
// a crash loses at most the last auditFlush of entries, never a vault write
// (those are in the store before they are acknowledged).
type auditWriter struct {
	st      store.Store
	log     *slog.Logger
	ch      chan store.AuditEntry
	done    chan struct{}
	once    sync.Once
	dropped atomic.Int64
}

const (
	auditBatch = 512
	auditFlush = 200 * time.Millisecond
	// auditQueue bounds memory: beyond it entries are counted and dropped with
	// a warning rather than slowing every request behind a stalled database.
	auditQueue = 64 << 10
)

func newAuditWriter(st store.Store, log *slog.Logger) *auditWriter {
	a := &auditWriter{st: st, log: log, ch: make(chan store.AuditEntry, auditQueue), done: make(chan struct{})}
	go a.run()
	return a
}

func (a *auditWriter) add(e store.AuditEntry) {
	select {
	case a.ch <- e:
	default:
		a.dropped.Add(1)
	}
}

func (a *auditWriter) run() {
	defer close(a.done)
	batch := make([]store.AuditEntry, 0, auditBatch)
	tick := time.NewTicker(auditFlush)
	defer tick.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.st.AppendAudit(ctx, batch); err != nil {
			a.log.Error("vault: writing the audit log failed", "entries", len(batch), "err", err)
		}
		cancel()
		batch = batch[:0]
	}
	for {
		select {
		case e, ok := <-a.ch:
			if !ok {
				flush()
				return
			}
			batch = append(batch, e)
			if len(batch) == auditBatch {
				flush()
			}
		case <-tick.C:
			flush()
			if n := a.dropped.Swap(0); n > 0 {
				a.log.Warn("vault: audit queue overflowed; entries dropped", "dropped", n)
			}
		}
	}
}

// close flushes what is queued and stops the writer; call it once the HTTP
// server has stopped handing requests to the vault.
func (a *auditWriter) close() error {
	a.once.Do(func() { close(a.ch) })
	<-a.done
	return nil
}

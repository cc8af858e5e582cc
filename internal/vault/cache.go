package vault

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tegata-project/tegata/internal/store"
)

// readCache keeps recently read secret versions (still sealed: the cache
// never holds a plaintext value) so that repeated GETs of the same secret skip
// the database. Every write this process makes through the vault clears it;
// entries also expire after readCacheTTL, which bounds how stale a read can be
// when another process writes the same store (a second replica, or `tegata
// vault rewrap` on the SQLite file). It is on only when Options.ReadCache is.
type readCache struct {
	mu      sync.RWMutex
	entries map[string]cachedRead
	gen     atomic.Uint64 // bumped by every write; an entry from an older generation is ignored
}

type cachedRead struct {
	gen     uint64
	expires time.Time
	obj     store.Object
	ver     store.Version
	meta    versionMeta
}

const (
	readCacheTTL = time.Second
	// readCacheMax bounds memory: at most this many versions (each a few KiB
	// at most: a sealed 25 KiB value is the largest) are kept.
	readCacheMax = 4096
)

func newReadCache() *readCache { return &readCache{entries: map[string]cachedRead{}} }

func cacheKey(vault, name, version string) string {
	return strings.ToLower(vault) + "\x00" + strings.ToLower(name) + "\x00" + version
}

func (c *readCache) get(key string, now time.Time) (cachedRead, bool) {
	if c == nil {
		return cachedRead{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok || e.gen != c.gen.Load() || now.After(e.expires) {
		return cachedRead{}, false
	}
	return e, true
}

// put stores an entry read during generation gen (taken before the read, so
// a write that raced with the read makes the entry stale at once).
func (c *readCache) put(key string, gen uint64, e cachedRead, now time.Time) {
	if c == nil {
		return
	}
	e.gen = gen
	e.expires = now.Add(readCacheTTL)
	c.mu.Lock()
	if len(c.entries) >= readCacheMax {
		clear(c.entries)
	}
	c.entries[key] = e
	c.mu.Unlock()
}

// invalidate drops every entry; the vault calls it after each write.
func (c *readCache) invalidate() {
	if c == nil {
		return
	}
	c.gen.Add(1)
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

func (c *readCache) generation() uint64 {
	if c == nil {
		return 0
	}
	return c.gen.Load()
}

package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// cache holds successful validations by the token's SHA-256. It is split into
// shards, each with its own lock, so concurrent requests seldom contend; a full
// shard drops its expired entries and then arbitrary ones until a quarter of
// it is free, so the cache never holds more than its size.
type cache struct {
	shards   []cacheShard
	mask     int // len(shards)-1; len(shards) is a power of two
	perShard int
}

type cacheShard struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]cacheEntry
	_  [48]byte // keep shards on separate cache lines
}

type cacheEntry struct {
	p     Principal
	nbf   time.Time // zero when the token has none
	until time.Time // served from the cache before this instant
}

// maxShards is the number of shards of a large cache.
const maxShards = 64

// newCache returns a cache of at most size entries (size > 0).
func newCache(size int) *cache {
	n := 1
	for n*2 <= maxShards && n*2 <= size {
		n *= 2
	}
	c := &cache{shards: make([]cacheShard, n), mask: n - 1, perShard: size / n}
	for i := range c.shards {
		c.shards[i].m = make(map[[sha256.Size]byte]cacheEntry)
	}
	return c
}

func (c *cache) shard(key [sha256.Size]byte) *cacheShard {
	return &c.shards[int(key[0])&c.mask]
}

// get returns the entry for key unless it is missing or its time is up at now.
func (c *cache) get(key [sha256.Size]byte, now time.Time) (cacheEntry, bool) {
	s := c.shard(key)
	s.mu.Lock()
	e, ok := s.m[key]
	if ok && !now.Before(e.until) {
		delete(s.m, key)
		ok = false
	}
	s.mu.Unlock()
	return e, ok
}

// put stores e under key, making room first when the shard is full.
func (c *cache) put(key [sha256.Size]byte, e cacheEntry, now time.Time) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok && len(s.m) >= c.perShard {
		for k, old := range s.m {
			if !now.Before(old.until) {
				delete(s.m, k)
			}
		}
		// Map iteration order is unspecified and varies, so this drops
		// arbitrary entries.
		keep := c.perShard - (c.perShard+3)/4
		for k := range s.m {
			if len(s.m) <= keep {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[key] = e
}

// len returns the number of entries, for tests.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

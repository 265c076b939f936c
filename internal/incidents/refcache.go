package incidents

import (
	"sync"
	"time"
)

// refCache remembers which workflow a short ID named, so `incident show|approve ID` after a
// start or a lookup does not ask visibility again. A short ID is 6 hex digits: two incidents
// can share one, and the visibility lookup says so (ambiguous). The cache must not hide
// that, so:
//   - it holds only what visibility answered with exactly one incident, or a start this
//     Service made (never a miss, never an ambiguous answer);
//   - a start (or a start prepared here, see preparing) whose short ID is already remembered for another incident turns the entry into
//     a tombstone: lookups of that short ID go to visibility, and are not remembered, until
//     it expires (by then visibility lists both and answers "ambiguous" on its own);
//   - an entry lives refCacheTTL: an incident that shares the short ID but was started by
//     another process (ingest, another quench server) is unseen here for at most that long,
//     as it is unseen by visibility until visibility catches up with its start.
type refCache struct {
	mu      sync.Mutex
	entries map[string]refEntry
	max     int
	ttl     time.Duration
	now     func() time.Time
}

type refEntry struct {
	id string // "" is a tombstone: the short ID names several incidents
	at time.Time
}

const (
	refCacheMax = 4096
	refCacheTTL = 5 * time.Minute
)

func newRefCache() *refCache {
	return &refCache{entries: map[string]refEntry{}, max: refCacheMax, ttl: refCacheTTL, now: time.Now}
}

// A nil cache remembers nothing (Service.RememberShortIDs off).

// get returns the incident short names, if remembered and unambiguous.
func (c *refCache) get(short string) (string, bool) {
	if c == nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[short]
	if !ok {
		return "", false
	}
	if c.now().Sub(e.at) >= c.ttl {
		delete(c.entries, short)
		return "", false
	}
	return e.id, e.id != ""
}

// started notes an incident this Service started (or found running under the same ID).
func (c *refCache) started(id string) {
	if c == nil {
		return
	}
	short := ShortID(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[short]; ok && c.now().Sub(e.at) < c.ttl && e.id != id {
		// Another incident has this short ID (or one already had): ask visibility,
		// which lists both once it has seen this start.
		c.entries[short] = refEntry{at: c.now()}
		return
	}
	c.put(short, id)
}

// preparing notes an incident about to be started, by Start or by a starter that only
// prepares here (ingest's dispatcher): it may never start, so it is not remembered, but a
// different incident remembered under its short ID is forgotten, tombstoned.
func (c *refCache) preparing(id string) {
	if c == nil {
		return
	}
	short := ShortID(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[short]; ok && c.now().Sub(e.at) < c.ttl && e.id != "" && e.id != id {
		c.entries[short] = refEntry{at: c.now()}
	}
}

// lookedUp notes visibility's one answer for short; an entry already there (a start of a
// colliding incident, a tombstone) wins, since visibility may not have seen that start yet.
func (c *refCache) lookedUp(short, id string) {
	if c == nil {
		return
	}
	if ShortID(id) != short { // a search attribute that disagrees with the ID is not trusted
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[short]; ok && c.now().Sub(e.at) < c.ttl {
		return
	}
	c.put(short, id)
}

// put stores an entry, making room first: expired entries go, then any one.
func (c *refCache) put(short, id string) {
	if _, ok := c.entries[short]; !ok && len(c.entries) >= c.max {
		now := c.now()
		for k, e := range c.entries {
			if now.Sub(e.at) >= c.ttl {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[short] = refEntry{id: id, at: c.now()}
}

package slackapp

import (
	"container/heap"
	"sync"
	"time"
)

// replayWindow is how long Slack's signature on a request is accepted (its timestamp may be
// this far off), and so how long a signature must be remembered to refuse its replay.
const replayWindow = 5 * time.Minute

// maxSeen bounds the replay cache. Only Slack can sign requests, so this many within five
// minutes means a flood; the entries expiring soonest then make room, and a replay of one
// of those could pass this cache (the incident workflow still decides only once, and a
// replayed /quench start still lands in the same incident through its key).
const maxSeen = 50_000

// seenCache remembers request identities (a signature, a Socket Mode envelope ID) until
// they expire. It is per process: a replay that reaches another quench server is not
// caught here, which is why /quench start also derives its incident from the request.
type seenCache struct {
	mu     sync.Mutex
	max    int
	expiry map[string]time.Time
	queue  expiryHeap
}

func newSeenCache(max int) *seenCache {
	return &seenCache{max: max, expiry: map[string]time.Time{}}
}

// firstTime records key until expires and reports whether it was not already there.
func (c *seenCache) firstTime(key string, expires, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.queue) > 0 && (!c.queue[0].at.After(now) || len(c.queue) >= c.max) {
		e := heap.Pop(&c.queue).(seenEntry)
		if c.expiry[e.key].Equal(e.at) {
			delete(c.expiry, e.key)
		}
	}
	if at, ok := c.expiry[key]; ok && at.After(now) {
		return false
	}
	c.expiry[key] = expires
	heap.Push(&c.queue, seenEntry{key: key, at: expires})
	return true
}

func (c *seenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.expiry)
}

type seenEntry struct {
	key string
	at  time.Time
}

type expiryHeap []seenEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(seenEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

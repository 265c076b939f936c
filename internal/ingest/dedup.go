package ingest

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"time"

	"github.com/quench-dev/quench/internal/alert"
)

// recentCommits remembers, per (incident, alert), the digest of the last alert committed to
// Temporal and when: an identical re-send within ttl is acknowledged without another
// signal, so a storm of re-sends does not grow the incident's history. Least recently
// committed entries go first past capacity. Not safe for concurrent use: the dispatcher
// holds its lock around it.
type recentCommits struct {
	ttl      time.Duration
	capacity int
	order    *list.List // of *commitMemo, most recent at the front
	byKey    map[string]*list.Element
}

type commitMemo struct {
	key    string
	digest string
	at     time.Time
}

func newRecentCommits(ttl time.Duration, capacity int) *recentCommits {
	return &recentCommits{ttl: ttl, capacity: capacity, order: list.New(), byKey: map[string]*list.Element{}}
}

// committed reports whether an alert with this key and digest was committed within ttl.
func (r *recentCommits) committed(key, digest string, now time.Time) bool {
	el, ok := r.byKey[key]
	if !ok {
		return false
	}
	m := el.Value.(*commitMemo)
	if now.Sub(m.at) > r.ttl {
		r.order.Remove(el)
		delete(r.byKey, key)
		return false
	}
	return m.digest == digest
}

// remember records a commit of the alert with this key and digest.
func (r *recentCommits) remember(key, digest string, now time.Time) {
	if el, ok := r.byKey[key]; ok {
		m := el.Value.(*commitMemo)
		m.digest, m.at = digest, now
		r.order.MoveToFront(el)
		return
	}
	r.byKey[key] = r.order.PushFront(&commitMemo{key: key, digest: digest, at: now})
	for r.order.Len() > r.capacity {
		oldest := r.order.Back()
		r.order.Remove(oldest)
		delete(r.byKey, oldest.Value.(*commitMemo).key)
	}
}

func (r *recentCommits) len() int { return r.order.Len() }

// alertKey identifies one alert of one incident: the incident's workflow ID and the alert's
// fingerprint (its group key when the source has no fingerprint).
func alertKey(workflowID string, a alert.Alert) string {
	id := a.Fingerprint
	if id == "" {
		id = a.Key
	}
	return workflowID + "\x00" + id
}

// alertDigest is what makes two sends of an alert identical: status, labels, annotations.
func alertDigest(a alert.Alert) string {
	h := sha256.New()
	h.Write([]byte(a.Status))
	for _, m := range []map[string]string{a.Labels, a.Annotations} {
		h.Write([]byte{0xff})
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			h.Write([]byte(k))
			h.Write([]byte{0})
			h.Write([]byte(m[k]))
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

package ingest

import (
	"container/list"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/quench-dev/quench/internal/alert"
)

// Unmatched store defaults.
const (
	// DefaultUnmatchedCapacity is how many distinct unmatched alerts are kept, newest first.
	DefaultUnmatchedCapacity = 500
	// maxAlertnames bounds the per-alertname counts (and the metric's alertname label):
	// past it new names are counted as otherAlertname.
	maxAlertnames  = 1000
	otherAlertname = "(other)"
)

// Reasons an alert is kept as unmatched.
const (
	ReasonNoRunbook = "no runbook matches"
)

// UnmatchedAlert is an alert quench accepted but that started nothing: no runbook's triggers
// match it, or its runbook could not start from it. Re-sends bump Count.
type UnmatchedAlert struct {
	Source      string            `json:"source"`
	Alertname   string            `json:"alertname,omitempty"`
	Key         string            `json:"key"`
	Fingerprint string            `json:"fingerprint,omitempty"`
	Status      string            `json:"status"`
	Title       string            `json:"title,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Reason      string            `json:"reason"`
	Count       int               `json:"count"`
	FirstSeen   time.Time         `json:"first_seen"`
	LastSeen    time.Time         `json:"last_seen"`
}

// AlertnameCount counts the unmatched alerts of one alertname from one source.
type AlertnameCount struct {
	Source    string `json:"source"`
	Alertname string `json:"alertname"`
	Count     int64  `json:"count"`
}

// UnmatchedReport answers GET /api/v1/alerts/unmatched.
type UnmatchedReport struct {
	Total       int64            `json:"total"`        // unmatched alerts since start
	ByAlertname []AlertnameCount `json:"by_alertname"` // most frequent first
	Alerts      []UnmatchedAlert `json:"alerts"`       // newest first
}

// UnmatchedStore keeps the newest unmatched alerts in memory, so an alert that started
// nothing is visible (API, metric, log) rather than dropped silently. Safe for concurrent use.
type UnmatchedStore struct {
	mu       sync.Mutex
	capacity int
	recent   *list.List               // of *UnmatchedAlert, newest at the front
	index    map[string]*list.Element // identity -> element of recent
	byName   map[[2]string]int64      // (source, alertname) -> count
	total    int64
}

// NewUnmatchedStore keeps up to capacity distinct alerts (DefaultUnmatchedCapacity if <= 0).
func NewUnmatchedStore(capacity int) *UnmatchedStore {
	if capacity <= 0 {
		capacity = DefaultUnmatchedCapacity
	}
	return &UnmatchedStore{capacity: capacity, recent: list.New(), index: map[string]*list.Element{}, byName: map[[2]string]int64{}}
}

// Record keeps a. It returns whether this alert (source, key, fingerprint, status) is new
// to the store, so callers log it once per storm, and the alertname to count it under.
func (s *UnmatchedStore) Record(a alert.Alert, reason string, now time.Time) (isNew bool, alertname string) {
	id := a.Source + "\x00" + a.Key + "\x00" + a.Fingerprint + "\x00" + a.Status + "\x00" + reason
	name := a.Labels["alertname"]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total++
	nameKey := [2]string{a.Source, name}
	if _, known := s.byName[nameKey]; !known && len(s.byName) >= maxAlertnames {
		nameKey[1] = otherAlertname
	}
	s.byName[nameKey]++
	if el, ok := s.index[id]; ok {
		u := el.Value.(*UnmatchedAlert)
		u.Count++
		u.LastSeen = now
		s.recent.MoveToFront(el)
		return false, nameKey[1]
	}
	s.index[id] = s.recent.PushFront(&UnmatchedAlert{
		Source: a.Source, Alertname: name, Key: a.Key, Fingerprint: a.Fingerprint, Status: a.Status,
		Title: a.Title, Labels: a.Labels, Reason: reason, Count: 1, FirstSeen: now, LastSeen: now,
	})
	if s.recent.Len() > s.capacity {
		oldest := s.recent.Back()
		s.recent.Remove(oldest)
		u := oldest.Value.(*UnmatchedAlert)
		delete(s.index, u.Source+"\x00"+u.Key+"\x00"+u.Fingerprint+"\x00"+u.Status+"\x00"+u.Reason)
	}
	return true, nameKey[1]
}

// Report returns the counts and the newest limit alerts (all kept if limit <= 0).
func (s *UnmatchedStore) Report(limit int) UnmatchedReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := UnmatchedReport{Total: s.total, ByAlertname: []AlertnameCount{}, Alerts: []UnmatchedAlert{}}
	for k, n := range s.byName {
		r.ByAlertname = append(r.ByAlertname, AlertnameCount{Source: k[0], Alertname: k[1], Count: n})
	}
	sort.Slice(r.ByAlertname, func(i, j int) bool {
		a, b := r.ByAlertname[i], r.ByAlertname[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Source+a.Alertname < b.Source+b.Alertname
	})
	for el := s.recent.Front(); el != nil && (limit <= 0 || len(r.Alerts) < limit); el = el.Next() {
		r.Alerts = append(r.Alerts, *el.Value.(*UnmatchedAlert))
	}
	return r
}

// Handler serves the report: GET /api/v1/alerts/unmatched[?limit=N].
func (s *UnmatchedStore) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := 0
		if v := r.URL.Query().Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				writeError(w, http.StatusBadRequest, "limit must be a non-negative number", "")
				return
			}
			limit = n
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Report(limit))
	})
}

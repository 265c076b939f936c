package langfusefake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// AddPromptVersion adds the next version of a prompt with labels (a label moves to it from
// any other version; every new version also gets "latest"). It sends no webhook: it is the
// test's setup, not a change under observation.
func (s *Server) AddPromptVersion(name, text string, createdAt time.Time, labels ...string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.addVersion(name, text, "", createdAt, labels)
	return v.Version
}

func (s *Server) addVersion(name, text, message string, at time.Time, labels []string) *PromptVersion {
	versions := s.prompts[name]
	v := &PromptVersion{Name: name, Version: len(versions) + 1, Prompt: text, Type: "text", Config: map[string]any{},
		Tags: []string{}, CommitMessage: message, CreatedAt: at.UTC(), UpdatedAt: at.UTC(), CreatedBy: "alice"}
	s.prompts[name] = append(versions, v)
	s.setLabels(name, v, append(slices.Clone(labels), "latest"))
	return v
}

// setLabels gives v exactly labels ("latest" is kept where Langfuse keeps it) and takes
// each of them away from the other versions; it returns the versions whose labels changed.
func (s *Server) setLabels(name string, v *PromptVersion, labels []string) []*PromptVersion {
	var changed []*PromptVersion
	want := []string{}
	for _, l := range labels {
		if !slices.Contains(want, l) {
			want = append(want, l)
		}
	}
	if slices.Contains(v.Labels, "latest") && !slices.Contains(want, "latest") {
		want = append(want, "latest")
	}
	for _, other := range s.prompts[name] {
		if other == v {
			continue
		}
		kept := other.Labels[:0:0]
		for _, l := range other.Labels {
			if !slices.Contains(want, l) {
				kept = append(kept, l)
			}
		}
		if len(kept) != len(other.Labels) {
			other.Labels = kept
			other.UpdatedAt = s.now()
			changed = append(changed, other)
		}
	}
	sort.Strings(want)
	old := slices.Clone(v.Labels)
	sort.Strings(old)
	if !slices.Equal(old, want) {
		v.Labels = want
		v.UpdatedAt = s.now()
		changed = append(changed, v)
	}
	return changed
}

// Labels returns a version's labels, sorted.
func (s *Server) Labels(name string, version int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.version(name, version); v != nil {
		out := slices.Clone(v.Labels)
		sort.Strings(out)
		return out
	}
	return nil
}

// LabelledVersion is the version carrying label (0: none).
func (s *Server) LabelledVersion(name, label string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.prompts[name] {
		if slices.Contains(v.Labels, label) {
			return v.Version
		}
	}
	return 0
}

func (s *Server) version(name string, n int) *PromptVersion {
	for _, v := range s.prompts[name] {
		if v.Version == n {
			return v
		}
	}
	return nil
}

// SetWebhook makes the fake POST prompt-version events to url, signed with secret, the
// way Langfuse's prompt automations do: asynchronously, in order, one at a time.
func (s *Server) SetWebhook(url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook.url, s.hook.secret = url, secret
	if s.hook.queue == nil {
		s.hook.queue = make(chan event, 1000)
		s.hook.idle = sync.NewCond(&s.mu)
		go s.deliverLoop(s.hook.queue)
	}
}

// AwaitDeliveries blocks until every webhook queued so far (and any queued while those
// were delivered) has been delivered.
func (s *Server) AwaitDeliveries() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.hook.pending > 0 {
		s.hook.idle.Wait()
	}
}

// Deliveries lists the webhooks sent so far.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.hook.deliveries)
}

// MoveLabel moves label to a version as someone in Langfuse's UI would, and queues the
// webhooks for it.
func (s *Server) MoveLabel(name string, version int, label string) {
	s.mu.Lock()
	v := s.version(name, version)
	var changed []*PromptVersion
	if v != nil {
		changed = s.setLabels(name, v, append(slices.Clone(v.Labels), label))
	}
	events := s.events("updated", changed)
	s.mu.Unlock()
	s.deliver(events)
}

type event struct {
	action, prompt string
	body           []byte
}

// events builds the webhook bodies for changed versions (under the lock).
func (s *Server) events(action string, changed []*PromptVersion) []event {
	if s.hook.url == "" {
		return nil
	}
	var out []event
	for _, v := range changed {
		body, _ := json.Marshal(map[string]any{
			"id": fmt.Sprintf("evt-%s-%d-%d", v.Name, v.Version, time.Now().UnixNano()), "timestamp": s.now().Format(time.RFC3339),
			"type": "prompt-version", "apiVersion": "v1", "action": action, "prompt": v,
		})
		out = append(out, event{action: action, prompt: v.Name, body: body})
	}
	return out
}

// deliver queues events; call it outside the lock.
func (s *Server) deliver(events []event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hook.queue == nil {
		return
	}
	for _, e := range events {
		s.hook.pending++
		s.hook.queue <- e
	}
}

func (s *Server) deliverLoop(queue chan event) {
	for e := range queue {
		s.mu.Lock()
		url, secret := s.hook.url, s.hook.secret
		s.mu.Unlock()
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(e.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "Langfuse/1.0")
		req.Header.Set("x-langfuse-signature", Sign(secret, e.body, time.Now()))
		code := 0
		if resp, err := http.DefaultClient.Do(req); err == nil {
			code = resp.StatusCode
			resp.Body.Close()
		}
		s.mu.Lock()
		s.hook.deliveries = append(s.hook.deliveries, Delivery{Action: e.action, Prompt: e.prompt, Code: code})
		s.hook.pending--
		s.hook.idle.Broadcast()
		s.mu.Unlock()
	}
}

// Sign is the x-langfuse-signature header for body: t=<unix seconds>,v1=<hex HMAC-SHA256
// of "<t>.<body>">.
func Sign(secret string, body []byte, at time.Time) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

func (s *Server) listPrompts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	if page <= 0 {
		page = 1
	}
	if limit <= 0 {
		limit = 50
	}
	from, _ := time.Parse(time.RFC3339Nano, q.Get("fromUpdatedAt"))
	to, _ := time.Parse(time.RFC3339Nano, q.Get("toUpdatedAt"))
	s.mu.Lock()
	names := make([]string, 0, len(s.prompts))
	for n := range s.prompts {
		if q.Get("name") == "" || q.Get("name") == n {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var metas []map[string]any
	for _, n := range names {
		var versions []int
		labels := []string{}
		var last time.Time
		for _, v := range s.prompts[n] {
			if (!from.IsZero() && v.UpdatedAt.Before(from)) || (!to.IsZero() && v.UpdatedAt.After(to)) {
				continue
			}
			versions = append(versions, v.Version)
			for _, l := range v.Labels {
				if !slices.Contains(labels, l) {
					labels = append(labels, l)
				}
			}
			if v.UpdatedAt.After(last) {
				last = v.UpdatedAt
			}
		}
		if len(versions) > 0 {
			metas = append(metas, map[string]any{"name": n, "versions": versions, "labels": labels, "tags": []string{}, "lastUpdatedAt": last})
		}
	}
	s.mu.Unlock()
	total := len(metas)
	start := min((page-1)*limit, total)
	end := min(start+limit, total)
	pages := (total + limit - 1) / limit
	writeJSON(w, http.StatusOK, map[string]any{"data": append([]map[string]any{}, metas[start:end]...),
		"meta": map[string]int{"page": page, "limit": limit, "totalItems": total, "totalPages": pages}})
}

func (s *Server) getPrompt(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	var found *PromptVersion
	for _, v := range s.prompts[name] {
		switch {
		case q.Get("version") != "":
			if strconv.Itoa(v.Version) == q.Get("version") {
				found = v
			}
		case slices.Contains(v.Labels, cmpOr(q.Get("label"), "production")):
			found = v
		}
	}
	if found == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Prompt not found"})
		return
	}
	writeJSON(w, http.StatusOK, found)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Server) createPrompt(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name          string   `json:"name"`
		Prompt        string   `json:"prompt"`
		Labels        []string `json:"labels"`
		CommitMessage string   `json:"commitMessage"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Name == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "name and prompt are required"})
		return
	}
	s.mu.Lock()
	before := map[*PromptVersion][]string{}
	for _, v := range s.prompts[body.Name] {
		before[v] = slices.Clone(v.Labels)
	}
	v := s.addVersion(body.Name, body.Prompt, body.CommitMessage, s.now(), body.Labels)
	var lost []*PromptVersion
	for old, labels := range before {
		if !slices.Equal(labels, old.Labels) {
			lost = append(lost, old)
		}
	}
	events := append(s.events("created", []*PromptVersion{v}), s.events("updated", lost)...)
	s.mu.Unlock()
	s.deliver(events)
	writeJSON(w, http.StatusCreated, v)
}

func (s *Server) patchLabels(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	n, _ := strconv.Atoi(r.PathValue("version"))
	var body struct {
		NewLabels []string `json:"newLabels"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "newLabels is required"})
		return
	}
	if slices.Contains(body.NewLabels, "latest") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "the latest label is reserved and managed by Langfuse"})
		return
	}
	s.mu.Lock()
	v := s.version(name, n)
	if v == nil {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Prompt version not found"})
		return
	}
	// As Langfuse does: the labels are added to the version's own (a label cannot be taken
	// off through this endpoint) and taken from every other version.
	events := s.events("updated", s.setLabels(name, v, append(slices.Clone(v.Labels), body.NewLabels...)))
	out := *v
	s.mu.Unlock()
	s.deliver(events)
	writeJSON(w, http.StatusOK, out)
}

// Package slackfake is a stateful fake of the parts of Slack's Web API quench uses, served
// over HTTP (httptest) so slack-go talks to it exactly as to Slack (slack.OptionAPIURL). It
// records every call, gives every message a unique ts, keeps messages with their metadata
// and threads, answers conversations.history/replies from them, accepts response_url posts,
// opens Socket Mode connections to its own websocket server, and injects failures: HTTP 429
// with Retry-After, HTTP 500 and Slack error codes.
package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// Call is one recorded API call.
type Call struct {
	Method string
	Form   url.Values     // form-encoded calls
	JSON   map[string]any // JSON calls (views.open, apps.connections.open)
	Token  string         // the bearer token or form token it carried
}

// Message is a posted message as the fake keeps it.
type Message struct {
	Channel   string
	TS        string
	ThreadTS  string // "" for a top-level message
	Text      string
	Blocks    string // JSON as posted
	Metadata  *slack.SlackMetadata
	Broadcast bool
	Updates   int // chat.update calls on it
}

// Ephemeral is a chat.postEphemeral.
type Ephemeral struct{ Channel, User, Text string }

// Response is a post to a response_url.
type Response struct {
	Path string
	Msg  slack.WebhookMessage
}

// Failure is an injected failure of the next call of a method.
type Failure struct {
	Status     int    // HTTP status (429, 500); 0 = 200 with a Slack error
	RetryAfter int    // seconds, for 429
	SlackError string // e.g. "channel_not_found"
}

// Fake is the fake Slack.
type Fake struct {
	srv *httptest.Server
	// Socket is the Socket Mode websocket server apps.connections.open points at.
	Socket *Socket

	mu         sync.Mutex
	calls      []Call
	messages   []*Message
	ephemerals []Ephemeral
	views      []slack.ModalViewRequest
	responses  []Response
	failures   map[string][]Failure
	groups     map[string][]string // user group ID -> user IDs
	seq        int64
	changed    chan struct{}
}

// New starts a fake; Close stops it.
func New() *Fake {
	f := &Fake{failures: map[string][]Failure{}, groups: map[string][]string{}, changed: make(chan struct{})}
	f.Socket = newSocket()
	mux := http.NewServeMux()
	mux.HandleFunc("/api/{method}", f.api)
	mux.HandleFunc("/response/{id}", f.response)
	mux.Handle("/socket", f.Socket)
	f.srv = httptest.NewServer(mux)
	f.Socket.url = "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/socket"
	return f
}

// Close stops the server.
func (f *Fake) Close() { f.Socket.close(); f.srv.Close() }

// APIURL is the base URL to give slack.OptionAPIURL.
func (f *Fake) APIURL() string { return f.srv.URL + "/api/" }

// ResponseURL is a fresh response_url for a slash command.
func (f *Fake) ResponseURL(id string) string { return f.srv.URL + "/response/" + id }

// SetGroup sets a user group's members (usergroups.users.list).
func (f *Fake) SetGroup(id string, users ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[id] = users
}

// Fail makes the next call of method fail as described; several queue up.
func (f *Fake) Fail(method string, fl Failure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[method] = append(f.failures[method], fl)
}

// Calls returns the recorded calls of method ("" = all).
func (f *Fake) Calls(method string) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Call
	for _, c := range f.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns copies of the messages posted to channel ("" = all), oldest first.
func (f *Fake) Messages(channel string) []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Message
	for _, m := range f.messages {
		if channel == "" || m.Channel == channel {
			out = append(out, *m)
		}
	}
	return out
}

// Ephemerals returns the ephemeral messages sent.
func (f *Fake) Ephemerals() []Ephemeral {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Ephemeral(nil), f.ephemerals...)
}

// Views returns the modals opened.
func (f *Fake) Views() []slack.ModalViewRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]slack.ModalViewRequest(nil), f.views...)
}

// Responses returns the response_url posts.
func (f *Fake) Responses() []Response {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Response(nil), f.responses...)
}

// WaitUntil blocks until cond holds (checked after every call the fake records) or the
// timeout passes; it reports whether cond held.
func (f *Fake) WaitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.After(timeout)
	for {
		f.mu.Lock()
		ch := f.changed
		f.mu.Unlock()
		if cond() {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return cond()
		}
	}
}

// notify wakes WaitUntil; callers hold f.mu.
func (f *Fake) notify() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *Fake) nextTS() string {
	f.seq++
	return fmt.Sprintf("1700000000.%06d", f.seq)
}

func (f *Fake) api(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	call := Call{Method: method, Token: strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")}
	body, _ := io.ReadAll(r.Body)
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(body, &call.JSON)
	} else {
		call.Form, _ = url.ParseQuery(string(body))
		for k, v := range r.URL.Query() {
			call.Form[k] = v
		}
		if t := call.Form.Get("token"); t != "" {
			call.Token = t
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	defer f.notify()
	if q := f.failures[method]; len(q) > 0 {
		fl := q[0]
		f.failures[method] = q[1:]
		switch {
		case fl.Status == http.StatusTooManyRequests:
			w.Header().Set("Retry-After", fmt.Sprint(fl.RetryAfter))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		case fl.Status != 0:
			w.WriteHeader(fl.Status)
			return
		default:
			writeJSON(w, map[string]any{"ok": false, "error": fl.SlackError})
			return
		}
	}
	if call.Token == "" {
		writeJSON(w, map[string]any{"ok": false, "error": "not_authed"})
		return
	}
	switch method {
	case "auth.test":
		writeJSON(w, map[string]any{"ok": true, "team": "fake", "user": "quench", "team_id": "T1", "user_id": "UBOT", "bot_id": "B1"})
	case "chat.postMessage":
		f.post(w, call.Form)
	case "chat.update":
		f.update(w, call.Form)
	case "chat.postEphemeral":
		f.ephemerals = append(f.ephemerals, Ephemeral{Channel: call.Form.Get("channel"), User: call.Form.Get("user"), Text: call.Form.Get("text")})
		writeJSON(w, map[string]any{"ok": true, "message_ts": f.nextTS()})
	case "views.open":
		raw, _ := json.Marshal(call.JSON["view"])
		var v slack.ModalViewRequest
		_ = json.Unmarshal(raw, &v)
		if call.JSON["trigger_id"] == "" || call.JSON["trigger_id"] == nil {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_trigger_id"})
			return
		}
		f.views = append(f.views, v)
		writeJSON(w, map[string]any{"ok": true, "view": map[string]any{"id": fmt.Sprintf("V%d", len(f.views))}})
	case "usergroups.users.list":
		users, ok := f.groups[call.Form.Get("usergroup")]
		if !ok {
			writeJSON(w, map[string]any{"ok": false, "error": "no_such_subteam"})
			return
		}
		writeJSON(w, map[string]any{"ok": true, "users": users})
	case "conversations.history":
		f.history(w, call.Form)
	case "conversations.replies":
		f.replies(w, call.Form)
	case "apps.connections.open":
		writeJSON(w, map[string]any{"ok": true, "url": f.Socket.url})
	default:
		writeJSON(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func (f *Fake) post(w http.ResponseWriter, form url.Values) {
	channel := form.Get("channel")
	if channel == "" || strings.HasPrefix(channel, "#") {
		writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	m := &Message{Channel: channel, TS: f.nextTS(), ThreadTS: form.Get("thread_ts"), Text: form.Get("text"),
		Blocks: form.Get("blocks"), Broadcast: truthy(form.Get("reply_broadcast"))}
	if md := form.Get("metadata"); md != "" {
		m.Metadata = &slack.SlackMetadata{}
		_ = json.Unmarshal([]byte(md), m.Metadata)
	}
	f.messages = append(f.messages, m)
	writeJSON(w, map[string]any{"ok": true, "channel": channel, "ts": m.TS, "message": f.wire(m)})
}

func (f *Fake) update(w http.ResponseWriter, form url.Values) {
	m := f.find(form.Get("channel"), form.Get("ts"))
	if m == nil {
		writeJSON(w, map[string]any{"ok": false, "error": "message_not_found"})
		return
	}
	m.Text, m.Blocks = form.Get("text"), form.Get("blocks")
	if md := form.Get("metadata"); md != "" {
		m.Metadata = &slack.SlackMetadata{}
		_ = json.Unmarshal([]byte(md), m.Metadata)
	}
	m.Updates++
	writeJSON(w, map[string]any{"ok": true, "channel": m.Channel, "ts": m.TS, "text": m.Text})
}

func (f *Fake) find(channel, ts string) *Message {
	for _, m := range f.messages {
		if m.Channel == channel && m.TS == ts {
			return m
		}
	}
	return nil
}

// history: top-level messages (and broadcast replies), newest first, as Slack orders them.
func (f *Fake) history(w http.ResponseWriter, form url.Values) {
	channel := form.Get("channel")
	var out []map[string]any
	for i := len(f.messages) - 1; i >= 0; i-- {
		m := f.messages[i]
		if m.Channel == channel && (m.ThreadTS == "" || m.Broadcast) {
			out = append(out, f.wireMeta(m, truthy(form.Get("include_all_metadata"))))
		}
	}
	writeJSON(w, map[string]any{"ok": true, "messages": out, "has_more": false})
}

// replies: the parent, then its replies, oldest first.
func (f *Fake) replies(w http.ResponseWriter, form url.Values) {
	channel, ts := form.Get("channel"), form.Get("ts")
	parent := f.find(channel, ts)
	if parent == nil {
		writeJSON(w, map[string]any{"ok": false, "error": "thread_not_found"})
		return
	}
	meta := truthy(form.Get("include_all_metadata"))
	out := []map[string]any{f.wireMeta(parent, meta)}
	for _, m := range f.messages {
		if m.Channel == channel && m.ThreadTS == ts {
			out = append(out, f.wireMeta(m, meta))
		}
	}
	writeJSON(w, map[string]any{"ok": true, "messages": out, "has_more": false})
}

func (f *Fake) wire(m *Message) map[string]any { return f.wireMeta(m, true) }

func (f *Fake) wireMeta(m *Message, withMeta bool) map[string]any {
	out := map[string]any{"type": "message", "ts": m.TS, "text": m.Text, "channel": m.Channel}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if withMeta && m.Metadata != nil {
		out["metadata"] = m.Metadata
	}
	return out
}

func (f *Fake) response(w http.ResponseWriter, r *http.Request) {
	var msg slack.WebhookMessage
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.responses = append(f.responses, Response{Path: r.URL.Path, Msg: msg})
	f.notify()
	w.WriteHeader(http.StatusOK)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// truthy reads a Slack boolean parameter ("true" or "1").
func truthy(v string) bool { return v == "true" || v == "1" }

package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/incidents/incidentsfake"
	"github.com/quench-dev/quench/workflows"
)

// refusalCase is a hostile request against an incident action.
type refusalCase struct {
	name    string
	path    string
	body    string
	headers map[string]string // "" removes a default header; "Host" sets the Host
	actAs   bool
	code    int
	line    []string // substrings of the one line it must leave
	secrets []string // strings the line must not contain
}

const abortPath = "/api/v1/incidents/1a2b3c/abort"

func refusalCases() []refusalCase {
	long := strings.Repeat("x", 500)
	return []refusalCase{
		{name: "cross-origin", path: abortPath, headers: map[string]string{"Origin": "https://evil.example"}, code: 403,
			line: []string{`refused a cross-origin POST /api/v1/incidents/1a2b3c/abort from Origin "https://evil.example" (403)`}},
		{name: "cross-site fetch", path: abortPath, headers: map[string]string{"Sec-Fetch-Site": "cross-site"}, code: 403,
			line: []string{`refused a cross-site POST /api/v1/incidents/1a2b3c/abort (Sec-Fetch-Site "cross-site") (403)`}},
		{name: "origin with a password", path: abortPath, headers: map[string]string{"Origin": "https://mallory:hunter2@evil.example"}, code: 403,
			line: []string{"cross-origin", "evil.example"}, secrets: []string{"hunter2", "mallory"}},
		{name: "origin with control characters and a long tail", path: abortPath, headers: map[string]string{"Origin": "https://evil.example/\u202e" + long}, code: 403,
			line: []string{"cross-origin", "…"}, secrets: []string{"\u202e", long[:130]}},
		{name: "wrong Host", path: abortPath, headers: map[string]string{"Host": "evil.example"}, code: 421,
			line: []string{`refused a POST /api/v1/incidents/1a2b3c/abort sent to Host "evil.example", not a name of this quench (421)`}},
		{name: "no token", path: abortPath, headers: map[string]string{"Authorization": ""}, code: 401,
			line: []string{"without a bearer token (401)"}},
		{name: "basic auth", path: abortPath, headers: map[string]string{"Authorization": "Basic YWxpY2U6czNjcmV0"}, code: 401,
			line: []string{"without a bearer token (401)"}, secrets: []string{"YWxpY2U6czNjcmV0", "Basic"}},
		{name: "unknown token", path: abortPath, headers: map[string]string{"Authorization": "Bearer guessed-token-42"}, code: 401,
			line: []string{"with an unknown bearer token (401)"}, secrets: []string{"guessed-token-42"}},
		{name: "identity header", path: abortPath, headers: map[string]string{"X-Quench-User": "bob\x1b[31m"}, code: 400,
			line: []string{`X-Quench-User header ("bob[31m") (400)`}, secrets: []string{"\x1b"}},
		{name: "act_as without dev.allow_as", path: abortPath, body: `{"act_as":"bob"}`, code: 403,
			line: []string{`refused a POST /api/v1/incidents/1a2b3c/abort from "cli:alice" acting as "bob" (act_as is not allowed here) (403)`}},
		{name: "act_as by an api token", path: "/api/v1/incidents/1a2b3c/decisions", body: `{"verdict":"approve","digest":"aaaaaaaa","act_as":"bob"}`, actAs: true,
			headers: map[string]string{"Authorization": "Bearer " + botToken}, code: 403,
			line: []string{`from "api:ci-bot" acting as "bob"`}},
		{name: "act_as a look-alike name", path: abortPath, body: `{"act_as":"bob\u0000"}`, actAs: true, code: 400,
			line: []string{"(not a valid identity) (400)"}},
		{name: "no content type", path: abortPath, headers: map[string]string{"Content-Type": ""}, code: 415,
			line: []string{"with no Content-Type (only application/json is accepted) (415)"}},
		{name: "form post", path: "/api/v1/incidents/1a2b3c/notes", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, code: 415,
			line: []string{`POST /api/v1/incidents/1a2b3c/notes with Content-Type "application/x-www-form-urlencoded"`}},
		{name: "duplicate keys", path: "/api/v1/incidents/1a2b3c/decisions", body: `{"verdict":"reject","digest":"aaaaaaaa","verdict":"approve"}`, code: 400,
			line: []string{"with a malformed JSON body", "duplicate key"}},
		{name: "smuggled field", path: "/api/v1/incidents/1a2b3c/resolve", body: `{"by":"bob"}`, code: 400,
			line: []string{"with a malformed JSON body", "unknown field"}},
		{name: "full incident ID", path: "/api/v1/incidents/" + incID + "/abort", headers: map[string]string{"Origin": "https://evil.example"}, code: 403,
			line: []string{"POST /api/v1/incidents/" + incID + "/abort"}},
	}
}

// serveRefusal sends tc's request to api and waits for its timeline line to be sent.
func serveRefusal(t *testing.T, api http.Handler, tc refusalCase) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body))
	req.Header.Set("Authorization", "Bearer "+devToken)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range tc.headers {
		switch {
		case k == "Host":
			req.Host = v
		case v == "":
			req.Header.Del(k)
		default:
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	api.(*root).lines.wait()
	if rec.Code != tc.code {
		t.Fatalf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.code)
	}
	return rec
}

// refusalNotes returns the refusal lines the fake was sent.
func refusalNotes(f *incidentsfake.Fake) []workflows.Note {
	var out []workflows.Note
	for _, c := range f.Calls() {
		if n, ok := c.Arg.(workflows.Note); ok && c.Method == "Signal" {
			out = append(out, n)
		}
	}
	return out
}

// TestRefusalLeavesOneLine: each kind of hostile request on an existing incident is
// refused as before, leaves exactly one line by quench naming what and why (with no
// credential in it), changes nothing else, and the same refusal again within the window
// leaves none.
func TestRefusalLeavesOneLine(t *testing.T) {
	for _, tc := range refusalCases() {
		t.Run(tc.name, func(t *testing.T) {
			fake := incidentsfake.New(nil)
			before := waitingIncident()
			fake.Add(before)
			l := &logs{}
			api := New(options(fake, tc.actAs, l))
			serveRefusal(t, api, tc)

			notes := refusalNotes(fake)
			if len(notes) != 1 {
				t.Fatalf("%d refusal lines, want 1: %+v", len(notes), notes)
			}
			n := notes[0]
			if n.By != RefusalActor || !strings.HasPrefix(n.Text, "refused a ") {
				t.Errorf("line %+v: want a note by %s starting with 'refused a '", n, RefusalActor)
			}
			for _, want := range tc.line {
				if !strings.Contains(n.Text, want) {
					t.Errorf("line %q lacks %q", n.Text, want)
				}
			}
			for _, secret := range append(tc.secrets, devToken, botToken, "Bearer", "Authorization") {
				if strings.Contains(n.Text, secret) {
					t.Errorf("line %q contains %q", n.Text, secret)
				}
			}
			if len([]rune(n.Text)) > 400 {
				t.Errorf("line is %d characters long: outside strings must be cut", len([]rune(n.Text)))
			}
			for _, r := range n.Text {
				if r < 0x20 || r == 0x7f {
					t.Errorf("line %q has control character %U", n.Text, r)
				}
			}
			for _, c := range fake.Calls() {
				if c.Method == "Decide" || c.Method == "Signal" && c.Arg != any(n) {
					t.Errorf("a refused request did %s %+v", c.Method, c.Arg)
				}
			}
			st, _ := fake.Get(incID)
			if st.ClosedAt != nil || st.Resolved || len(st.Pending) != 1 || len(st.Timeline) != len(before.Timeline)+1 {
				t.Errorf("after the refusal: closed %v, resolved %v, %d pending, timeline %+v; want only the line added", st.ClosedAt, st.Resolved, len(st.Pending), st.Timeline)
			}
			if last := st.Timeline[len(st.Timeline)-1]; last.Kind != workflows.EventNote || last.Actor != RefusalActor {
				t.Errorf("last event %+v, want the refusal note", last)
			}

			serveRefusal(t, api, tc)
			if got := len(refusalNotes(fake)); got != 1 {
				t.Errorf("the same refusal again within the window: %d lines in all, want 1", got)
			}
			if got := l.maxLevel(); got > slog.LevelWarn {
				t.Errorf("logged at %v", got)
			}
		})
	}
}

// TestRefusalWindow: the limit holds per incident and reason, and lifts after the window.
func TestRefusalWindow(t *testing.T) {
	fake := incidentsfake.New(nil)
	fake.Add(waitingIncident())
	api := New(options(fake, false, &logs{}))
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	api.(*root).lines.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }

	cross := refusalCase{name: "cross-origin", path: abortPath, headers: map[string]string{"Origin": "https://evil.example"}, code: 403}
	serveRefusal(t, api, cross)
	resolves := count(fake, "Resolve")
	serveRefusal(t, api, cross)
	if got := count(fake, "Resolve"); got != resolves {
		t.Errorf("a repeated refusal looked the incident up again (%d lookups, want %d): a flood must cost Temporal nothing", got, resolves)
	}
	// The same incident by its full ID is the same incident.
	serveRefusal(t, api, refusalCase{name: "cross-origin by full ID", path: "/api/v1/incidents/" + incID + "/notes", headers: cross.headers, code: 403})
	if got := len(refusalNotes(fake)); got != 1 {
		t.Fatalf("two cross-origin refusals on one incident: %d lines, want 1", got)
	}
	serveRefusal(t, api, refusalCase{name: "no token", path: abortPath, headers: map[string]string{"Authorization": ""}, code: 401})
	if got := len(refusalNotes(fake)); got != 2 {
		t.Fatalf("another reason: %d lines in all, want 2", got)
	}
	mu.Lock()
	now = now.Add(refusalWindow)
	mu.Unlock()
	serveRefusal(t, api, cross)
	if got := len(refusalNotes(fake)); got != 3 {
		t.Fatalf("after the window: %d lines in all, want 3", got)
	}
}

// TestRefusalNoIncident: a refusal on an unknown or malformed incident ID, or on a path
// that acts on no incident, leaves no line anywhere.
func TestRefusalNoIncident(t *testing.T) {
	for _, path := range []string{
		"/api/v1/incidents/ffffff/abort",
		"/api/v1/incidents/inc-provider-outage-00000000ffffff/abort",
		"/api/v1/incidents/ZZZ%3Cscript%3E/abort",
		"/api/v1/incidents",
		"/api/v1/incidents/1a2b3c/nope",
	} {
		t.Run(path, func(t *testing.T) {
			fake := incidentsfake.New(nil)
			fake.Add(waitingIncident())
			api := New(options(fake, false, &logs{}))
			serveRefusal(t, api, refusalCase{name: path, path: path, headers: map[string]string{"Origin": "https://evil.example"}, code: 403})
			st, _ := fake.Get(incID)
			if len(st.Timeline) != 0 {
				t.Errorf("a refusal on another ID left %+v", st.Timeline)
			}
			for _, c := range fake.Calls() {
				if c.Method == "Signal" && c.Ref != "inc-provider-outage-00000000ffffff" {
					t.Errorf("signalled %s for a refusal on %s", c.Ref, path)
				}
			}
		})
	}
}

// TestRefusalTemporalDown: when the line cannot be sent, the refusal answers exactly the
// same and the failure is logged at WARN.
func TestRefusalTemporalDown(t *testing.T) {
	down := incidents.Unavailable(errors.New("cannot reach Temporal: connection refused"))
	for _, method := range []string{"Resolve", "Signal"} {
		for _, tc := range refusalCases() {
			t.Run(method+"/"+tc.name, func(t *testing.T) {
				fake := incidentsfake.New(nil)
				fake.Add(waitingIncident())
				want := serveRefusal(t, New(options(fake, tc.actAs, &logs{})), tc)

				fake = incidentsfake.New(nil)
				fake.Add(waitingIncident())
				fake.Fail(method, down)
				l := &logs{}
				got := serveRefusal(t, New(options(fake, tc.actAs, l)), tc)
				if got.Body.String() != want.Body.String() || fmt.Sprint(got.Header()) != fmt.Sprint(want.Header()) {
					t.Errorf("with Temporal down: %v %s, want %v %s", got.Header(), got.Body, want.Header(), want.Body)
				}
				if l.maxLevel() != slog.LevelWarn {
					t.Errorf("logged at most %v, want the failed line at WARN", l.maxLevel())
				}
				if st, _ := fake.Get(incID); len(st.Timeline) != 0 {
					t.Errorf("timeline %+v", st.Timeline)
				}
			})
		}
	}
}

// TestRefusalBehindGuard: quench's HTTP server puts Guard in front of a ServeMux that
// holds the API; a cross-origin request it refuses is noted on the timeline too.
func TestRefusalBehindGuard(t *testing.T) {
	fake := incidentsfake.New(nil)
	fake.Add(waitingIncident())
	l := &logs{}
	api := New(options(fake, false, l))
	mux := http.NewServeMux()
	mux.Handle("/", api)
	req := httptest.NewRequest("POST", abortPath, strings.NewReader(`{}`))
	req.Header.Set("Origin", "https://evil.example")
	rec := httptest.NewRecorder()
	Guard(mux, slog.New(l)).ServeHTTP(rec, req)
	api.(*root).lines.wait()
	if rec.Code != 403 {
		t.Fatalf("%d, want 403", rec.Code)
	}
	if notes := refusalNotes(fake); len(notes) != 1 || !strings.Contains(notes[0].Text, "cross-origin POST") {
		t.Fatalf("lines %+v, want one cross-origin line", notes)
	}
}

// TestRefusalKeysBounded: the limiter holds at most refusalKeys entries; once full of
// fresh ones it lets nothing through until they age out.
func TestRefusalKeysBounded(t *testing.T) {
	lines := newRefusalLines(nil, slog.New(&logs{}))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lines.now = func() time.Time { return now }
	for i := range refusalKeys {
		if !lines.allow(fmt.Sprint(i)) {
			t.Fatalf("key %d refused below the bound", i)
		}
	}
	if lines.allow("one more") {
		t.Fatal("a key past the bound was let through")
	}
	now = now.Add(refusalWindow)
	if !lines.allow("one more") || len(lines.last) != 1 {
		t.Fatalf("after the window: %d keys kept, want the old ones swept", len(lines.last))
	}
}

func TestQuoteOutside(t *testing.T) {
	for in, want := range map[string]string{
		"https://evil.example":             `"https://evil.example"`,
		"a\nb\r\x00c\u200bd\u202e":         `"abcd"`,
		`quote " and \ backslash`:          `"quote \" and \\ backslash"`,
		strings.Repeat("é", maxQuoted+1):   `"` + strings.Repeat("é", maxQuoted) + `…"`,
		"\xff\xfeinvalid":                  `"invalid"`,
		"<!channel> *bold* <http://x|y>":   `"<!channel> *bold* <http://x|y>"`,
		"https://u:p@evil.example/x@y\x00": `"https://u:p@evil.example/x@y"`,
	} {
		if got := quoteOutside(in); got != want {
			t.Errorf("quoteOutside(%q) = %s, want %s", in, got, want)
		}
	}
	if got := quoteOrigin("https://u:p@evil.example"); strings.Contains(got, "u:p") {
		t.Errorf("quoteOrigin kept the password: %s", got)
	}
}

func count(f *incidentsfake.Fake, method string) int {
	n := 0
	for _, m := range f.Methods() {
		if m == method {
			n++
		}
	}
	return n
}

// TestRefusalWithoutCredentials: a quench server with no API credentials refuses writes;
// one aimed at an incident is noted.
func TestRefusalWithoutCredentials(t *testing.T) {
	fake := incidentsfake.New(nil)
	fake.Add(waitingIncident())
	opts := options(fake, false, &logs{})
	opts.Tokens, opts.Dev = nil, nil
	serveRefusal(t, New(opts), refusalCase{name: "no credentials", path: abortPath, headers: map[string]string{"Authorization": ""}, code: 401})
	if notes := refusalNotes(fake); len(notes) != 1 || !strings.Contains(notes[0].Text, "without credentials") {
		t.Fatalf("lines %+v, want one saying the request came without credentials", notes)
	}
	if st, _ := fake.Get(incID); st.ClosedAt != nil {
		t.Fatal("the refused abort closed the incident")
	}
}

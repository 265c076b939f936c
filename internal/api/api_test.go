package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/api/serviceerror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/incidents/incidentsfake"
	"github.com/quench-dev/quench/workflows"
)

const (
	incID  = "inc-provider-outage-00000000001a2b3c"
	digest = "aaaaaaaa11111111111111111111111111111111111111111111111111111111"
)

// waitingIncident is an incident waiting for the fail-back approval.
func waitingIncident() workflows.Status {
	return workflows.Status{IncidentID: incID, Runbook: "provider-outage", State: workflows.StateAwaiting, Requester: "alice",
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Steps:     []workflows.StepState{{ID: "failback", Action: "gateway.restore", State: workflows.StepAwaiting}},
		Pending:   []workflows.PendingApproval{{StepID: "failback", Action: "gateway.restore", Digest: digest, Groups: []string{"sre"}, Quorum: 1}}}
}

const (
	devToken = "dev-token-0123456789"
	botToken = "s3cret"
)

// logs records what the API logged, to check levels.
type logs struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logs) Enabled(context.Context, slog.Level) bool { return true }
func (l *logs) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	return nil
}
func (l *logs) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logs) WithGroup(string) slog.Handler      { return l }

func (l *logs) maxLevel() slog.Level {
	l.mu.Lock()
	defer l.mu.Unlock()
	max := slog.Level(-100)
	for _, r := range l.recs {
		if r.Level > max {
			max = r.Level
		}
	}
	return max
}

func options(fake *incidentsfake.Fake, allowActAs bool, l *logs) Options {
	return Options{Incidents: fake, Registry: prometheus.NewRegistry(), Logger: slog.New(l),
		Tokens: map[string]string{"api:ci-bot": botToken},
		Dev:    &DevCredential{Token: devToken, Identity: "cli:alice", AllowActAs: allowActAs},
		Hosts:  Hosts{Names: []string{"example.com"}}} // httptest.NewRequest's Host
}

type apiCase struct {
	name    string
	method  string
	path    string
	body    string
	headers map[string]string // "" removes a default header (Authorization, Content-Type)
	actAs   bool              // run with dev.allow_as on
	setup   func(*incidentsfake.Fake)
	code    int
	want    []string // substrings of the response body
	// level is the highest level the request may log at (default: below ERROR).
	level slog.Level
	check func(t *testing.T, f *incidentsfake.Fake, body []byte)
}

func runAPICases(t *testing.T, cases []apiCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := incidentsfake.New(nil)
			fake.Add(waitingIncident())
			if tc.setup != nil {
				tc.setup(fake)
			}
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+devToken)
			if tc.method == "POST" {
				req.Header.Set("Content-Type", "application/json")
			}
			for k, v := range tc.headers {
				if k == "Host" {
					req.Host = v
				} else if v == "" {
					req.Header.Del(k)
				} else {
					req.Header.Set(k, v)
				}
			}
			rec := httptest.NewRecorder()
			l := &logs{}
			api := New(options(fake, tc.actAs, l))
			api.ServeHTTP(rec, req)
			api.(*root).lines.wait() // the timeline line of a refusal is sent after the answer
			if rec.Code != tc.code {
				t.Fatalf("%s %s: %d %s, want %d", tc.method, tc.path, rec.Code, rec.Body, tc.code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			for _, want := range tc.want {
				if !strings.Contains(rec.Body.String(), want) {
					t.Errorf("body lacks %q: %s", want, rec.Body)
				}
			}
			limit := tc.level
			if limit == 0 {
				limit = slog.LevelWarn
			}
			if got := l.maxLevel(); got > limit {
				t.Errorf("logged at %v, want at most %v", got, limit)
			}
			if tc.check != nil {
				tc.check(t, fake, rec.Body.Bytes())
			}
		})
	}
}

func noCall(method string) func(*testing.T, *incidentsfake.Fake, []byte) {
	return func(t *testing.T, f *incidentsfake.Fake, _ []byte) {
		for _, c := range f.Calls() {
			if n, ok := c.Arg.(workflows.Note); ok && n.By == RefusalActor {
				continue // the line that notes the refusal
			}
			if c.Method == method {
				t.Errorf("a refused request called %s: %v", method, f.Methods())
			}
		}
	}
}

var bot = map[string]string{"Authorization": "Bearer " + botToken}

func TestIncidentsAPI(t *testing.T) {
	runAPICases(t, []apiCase{
		{name: "list open", method: "GET", path: "/api/v1/incidents", code: 200, want: []string{`"short_id":"1a2b3c"`, `"runbook":"provider-outage"`},
			check: func(t *testing.T, f *incidentsfake.Fake, _ []byte) {
				if lf := f.Calls()[0].Arg.(incidents.ListFilter); !lf.Open {
					t.Errorf("filter %+v, want open only", lf)
				}
			}},
		{name: "list all of a runbook with a limit", method: "GET", path: "/api/v1/incidents?all=1&runbook=provider-outage&limit=5", code: 200,
			check: func(t *testing.T, f *incidentsfake.Fake, _ []byte) {
				if lf := f.Calls()[0].Arg.(incidents.ListFilter); lf.Open || lf.Runbook != "provider-outage" || lf.Limit != 5 {
					t.Errorf("filter %+v", lf)
				}
			}},
		{name: "list empty is an array", method: "GET", path: "/api/v1/incidents?runbook=cost-runaway", code: 200, want: []string{"[]"}},
		{name: "list bad limit", method: "GET", path: "/api/v1/incidents?limit=-1", code: 400, want: []string{"whole number from 1 to 1000"}, check: noCall("List")},
		{name: "list fails upstream", method: "GET", path: "/api/v1/incidents", setup: func(f *incidentsfake.Fake) { f.Fail("List", errors.New("disk on fire")) }, code: 500, want: []string{"disk on fire"}, level: slog.LevelError},

		{name: "start", method: "POST", path: "/api/v1/incidents", body: `{"runbook":"provider-outage","params":{"route":"chat"},"severity":"warning"}`, code: 201,
			want: []string{`"incident_id":"inc-provider-outage-`, `"runbook":"provider-outage"`},
			check: func(t *testing.T, f *incidentsfake.Fake, body []byte) {
				var s incidents.Started
				if err := json.Unmarshal(body, &s); err != nil {
					t.Fatal(err)
				}
				st, ok := f.Get(s.IncidentID)
				if !ok || st.Requester != "cli:alice" || st.Source != "cli" || st.Severity != "warning" {
					t.Errorf("stored %+v", st)
				}
			}},
		{name: "start without runbook", method: "POST", path: "/api/v1/incidents", body: `{}`, code: 400, want: []string{"runbook is required"}, check: noCall("Start")},
		{name: "start unknown runbook", method: "POST", path: "/api/v1/incidents", body: `{"runbook":"nope"}`, code: 400, want: []string{"nope"}},
		{name: "start bad severity", method: "POST", path: "/api/v1/incidents", body: `{"runbook":"provider-outage","severity":"urgent"}`, code: 400, want: []string{"critical, warning, info"}},
		{name: "start unknown route", method: "POST", path: "/api/v1/incidents", body: `{"runbook":"provider-outage","params":{"route":"nosuchroute"}}`,
			setup: func(f *incidentsfake.Fake) { f.Routes = incidents.StaticRoutes{"chat"} }, code: 400, want: []string{"nosuchroute", "known routes: chat"}},
		{name: "start unknown field", method: "POST", path: "/api/v1/incidents", body: `{"runbok":"x"}`, code: 400, want: []string{"malformed JSON", "runbok"}, check: noCall("Start")},
		{name: "start not JSON", method: "POST", path: "/api/v1/incidents", body: `x`, headers: map[string]string{"Content-Type": "text/plain"}, code: 415, check: noCall("Start")},
		{name: "start too big", method: "POST", path: "/api/v1/incidents", body: `{"runbook":"` + strings.Repeat("a", MaxBody) + `"}`, code: 413, check: noCall("Start")},

		{name: "show by short ID", method: "GET", path: "/api/v1/incidents/1a2b3c", code: 200, want: []string{`"incident_id":"` + incID, `"pending"`}},
		{name: "show unknown", method: "GET", path: "/api/v1/incidents/ffffff", code: 404, want: []string{"no incident with ID ffffff"}},
		{name: "show not an ID", method: "GET", path: "/api/v1/incidents/nope", code: 400, want: []string{"not an incident ID"}},
		{name: "show something shaped like a short ID", method: "GET", path: "/api/v1/incidents/zzzzzz", code: 404, want: []string{"no incident with ID zzzzzz"}, check: noCall("Status")},

		{name: "decide with a short digest", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", headers: bot,
			body: `{"verdict":"approve","digest":"aaaaaaaa11","reason":"healthy"}`, code: 200,
			want: []string{`"incident_id":"` + incID, `"short_id":"1a2b3c"`, `"outcome":"approved"`, `"approver":"api:ci-bot"`, `"step_id":"failback"`},
			check: func(t *testing.T, f *incidentsfake.Fake, _ []byte) {
				calls := f.Calls()
				if d := calls[len(calls)-1].Arg.(workflows.Decision); d.Approver != "api:ci-bot" || d.Via != "api" {
					t.Errorf("decision %+v, want the token's identity via api", d)
				}
			}},
		{name: "decide needs an identity", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", headers: map[string]string{"Authorization": ""},
			body: `{"verdict":"approve","digest":"aaaaaaaa"}`, code: 401, want: []string{"missing bearer token"}, check: noCall("Decide")},
		{name: "decide bad verdict", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", body: `{"verdict":"maybe","digest":"aaaaaaaa"}`, code: 400, check: noCall("Decide")},
		{name: "decide without digest", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", body: `{"verdict":"approve"}`, code: 400, want: []string{"digest is required"}, check: noCall("Decide")},
		{name: "decide stale digest", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", body: `{"verdict":"approve","digest":"0123456789ab"}`, code: 409, want: []string{"params changed"}},
		{name: "decide too short digest", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", body: `{"verdict":"approve","digest":"aaaa"}`, code: 400, want: []string{"too short"}},
		{name: "decide unknown incident", method: "POST", path: "/api/v1/incidents/ffffff/decisions", body: `{"verdict":"approve","digest":"aaaaaaaa"}`, code: 404, check: noCall("Decide")},

		{name: "resolve says what it waits for", method: "POST", path: "/api/v1/incidents/1a2b3c/resolve", body: `{"reason":"green"}`, code: 202,
			want: []string{`"signal":"resolve"`, `"closed":false`, `"waiting_for":[{"step_id":"failback"`, "quench incident approve 1a2b3c --step failback"}},
		{name: "resolve without body", method: "POST", path: "/api/v1/incidents/1a2b3c/resolve", code: 202},
		{name: "decide refused by policy", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", body: `{"verdict":"approve","digest":"aaaaaaaa"}`,
			setup: func(f *incidentsfake.Fake) {
				f.Fail("Decide", incidents.Refused(errors.New("approve refused: cli:alice may not decide on step failback: not a member of sre")))
			}, code: 403, want: []string{"not a member of sre"}},
		{name: "decide conflict", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", body: `{"verdict":"approve","digest":"aaaaaaaa"}`,
			setup: func(f *incidentsfake.Fake) {
				f.Fail("Decide", incidents.Conflict(errors.New("approve refused: step failback is already decided")))
			}, code: 409, want: []string{"already decided"}},
		{name: "abort closes", method: "POST", path: "/api/v1/incidents/1a2b3c/abort", code: 202, want: []string{`"closed":true`, `"state":"aborted"`}},
		{name: "signal to a closed incident", method: "POST", path: "/api/v1/incidents/1a2b3c/abort",
			setup: func(f *incidentsfake.Fake) { f.Close(incID, workflows.StateResolved) }, code: 409, want: []string{"closed"}},
		{name: "note", method: "POST", path: "/api/v1/incidents/1a2b3c/notes", body: `{"text":"status page red"}`, code: 202,
			check: func(t *testing.T, f *incidentsfake.Fake, _ []byte) {
				st, _ := f.Get(incID)
				last := st.Timeline[len(st.Timeline)-1]
				if last.Kind != workflows.EventNote || last.Actor != "cli:alice" || last.Text != "status page red" {
					t.Errorf("last event %+v", last)
				}
			}},
		{name: "note without text", method: "POST", path: "/api/v1/incidents/1a2b3c/notes", body: `{"text":" "}`, code: 400, check: noCall("Signal")},

		{name: "freeze", method: "GET", path: "/api/v1/freeze/prompts", setup: func(f *incidentsfake.Fake) {
			f.SetFreeze(workflows.FreezeState{Scope: "prompts", Frozen: true})
		}, code: 200, want: []string{`"frozen":true`}},
	})
}

func TestTokens(t *testing.T) {
	runAPICases(t, []apiCase{
		{name: "no token", method: "GET", path: "/api/v1/incidents", headers: map[string]string{"Authorization": ""}, code: 401, want: []string{"missing bearer token"}, check: noCall("List")},
		{name: "wrong token", method: "GET", path: "/api/v1/incidents", headers: map[string]string{"Authorization": "Bearer nope"}, code: 401, check: noCall("List")},
		{name: "basic auth is not a bearer token", method: "GET", path: "/api/v1/incidents", headers: map[string]string{"Authorization": "Basic " + devToken}, code: 401, check: noCall("List")},
		{name: "whoami with the dev credential", method: "GET", path: "/api/v1/whoami", code: 200, want: []string{`"identity":"cli:alice"`, `"via":"cli"`}},
		{name: "whoami with a token", method: "GET", path: "/api/v1/whoami", headers: bot, code: 200, want: []string{`"identity":"api:ci-bot"`, `"via":"api"`}},
		{name: "the token names the caller", method: "POST", path: "/api/v1/incidents", headers: bot,
			body: `{"runbook":"manual-investigation","params":{"reason":"x"}}`, code: 201,
			check: func(t *testing.T, f *incidentsfake.Fake, body []byte) {
				var s incidents.Started
				_ = json.Unmarshal(body, &s)
				if st, _ := f.Get(s.IncidentID); st.Requester != "api:ci-bot" || st.Source != "api" {
					t.Errorf("requester %q via %q, want the token's owner via api", st.Requester, st.Source)
				}
			}},
		{name: "act_as refused without dev.allow_as", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions",
			body: `{"verdict":"approve","digest":"aaaaaaaa","act_as":"bob"}`, code: 403, want: []string{"dev.allow_as"}, check: noCall("Decide")},
		{name: "act_as refused for an api token even with dev.allow_as", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", headers: bot, actAs: true,
			body: `{"verdict":"approve","digest":"aaaaaaaa","act_as":"bob"}`, code: 403, check: noCall("Decide")},
		{name: "act_as with dev.allow_as from the dev credential", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", actAs: true,
			body: `{"verdict":"approve","digest":"aaaaaaaa","act_as":"bob"}`, code: 200, want: []string{`"approver":"bob"`}},
		{name: "act_as must be a plain name", method: "POST", path: "/api/v1/incidents/1a2b3c/resolve", actAs: true,
			body: `{"act_as":"bob\u0000"}`, code: 400, check: noCall("Signal")},
	})
}

// TestRefusals covers what every /api/v1 request must be before a handler sees it.
func TestRefusals(t *testing.T) {
	decide := "/api/v1/incidents/1a2b3c/decisions"
	body := `{"verdict":"approve","digest":"aaaaaaaa"}`
	runAPICases(t, []apiCase{
		{name: "no content type", method: "POST", path: decide, body: body, headers: map[string]string{"Content-Type": ""}, code: 415, check: noCall("Decide")},
		{name: "text/plain", method: "POST", path: decide, body: body, headers: map[string]string{"Content-Type": "text/plain"}, code: 415, check: noCall("Decide")},
		{name: "form", method: "POST", path: "/api/v1/incidents/1a2b3c/abort", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, code: 415, check: noCall("Signal")},
		{name: "json with another charset", method: "POST", path: decide, body: body, headers: map[string]string{"Content-Type": "application/json; charset=latin1"}, code: 415},
		{name: "json with utf-8", method: "POST", path: decide, body: body, headers: map[string]string{"Content-Type": "application/json; charset=UTF-8"}, code: 200},
		{name: "cross-origin post", method: "POST", path: "/api/v1/incidents/1a2b3c/abort", headers: map[string]string{"Origin": "https://evil.example"}, code: 403, want: []string{"cross-origin"}, check: noCall("Signal")},
		{name: "cross-origin read", method: "GET", path: "/api/v1/incidents/1a2b3c", headers: map[string]string{"Origin": "http://evil.example"}, code: 403, check: noCall("Status")},
		{name: "null origin", method: "POST", path: "/api/v1/incidents/1a2b3c/abort", headers: map[string]string{"Origin": "null"}, code: 403, check: noCall("Signal")},
		{name: "same origin", method: "GET", path: "/api/v1/incidents/1a2b3c", headers: map[string]string{"Origin": "http://example.com"}, code: 200},
		{name: "Sec-Fetch-Site cross-site", method: "POST", path: "/api/v1/incidents/1a2b3c/abort", headers: map[string]string{"Sec-Fetch-Site": "cross-site"}, code: 403, check: noCall("Signal")},
		{name: "Sec-Fetch-Site same-site", method: "POST", path: "/api/v1/incidents/1a2b3c/abort", headers: map[string]string{"Sec-Fetch-Site": "same-site"}, code: 403, check: noCall("Signal")},
		{name: "cross-origin routes read", method: "GET", path: "/v1/routes", headers: map[string]string{"Sec-Fetch-Site": "cross-site"}, code: 403},
		{name: "wrong Host", method: "POST", path: "/api/v1/incidents/1a2b3c/abort", headers: map[string]string{"Host": "evil.example"}, code: 421, want: []string{"http.hosts"}, check: noCall("Signal")},
		{name: "X-Quench-User refused", method: "POST", path: decide, body: body, headers: map[string]string{"X-Quench-User": "bob"}, code: 400, want: []string{"X-Quench-User"}, check: noCall("Decide")},
		{name: "X-Quench-User without a token", method: "GET", path: "/api/v1/incidents", headers: map[string]string{"X-Quench-User": "bob", "Authorization": ""}, code: 400, check: noCall("List")},
		{name: "unknown incident", method: "GET", path: "/api/v1/incidents/ffffff", code: 404},
		{name: "decide on an unknown incident", method: "POST", path: "/api/v1/incidents/zzzzzz/decisions", body: body, code: 404, check: noCall("Decide")},
		{name: "malformed ID", method: "GET", path: "/api/v1/incidents/inc-%3Cscript%3E", code: 400, check: noCall("Status")},
		{name: "traversal", method: "GET", path: "/api/v1/incidents/../../etc/passwd", code: 400, check: noCall("Status")},
		{name: "encoded traversal", method: "GET", path: "/api/v1/incidents/..%2F..%2Fetc%2Fpasswd", code: 400, check: noCall("Status")},
		{name: "dot-encoded traversal", method: "GET", path: "/api/v1/incidents/%2e%2e", code: 400, check: noCall("Status")},
		{name: "duplicate keys", method: "POST", path: decide, body: `{"verdict":"reject","digest":"aaaaaaaa","verdict":"approve"}`, code: 400, want: []string{"duplicate key"}, check: noCall("Decide")},
		{name: "not an object", method: "POST", path: decide, body: `["approve"]`, code: 400, check: noCall("Decide")},
		{name: "unknown route", method: "GET", path: "/api/v1/nope", code: 404, want: []string{"no API route"}},
		{name: "bad freeze scope", method: "GET", path: "/api/v1/freeze/%3Cx%3E", code: 400},
		{name: "Temporal down", method: "GET", path: "/api/v1/incidents/1a2b3c",
			setup: func(f *incidentsfake.Fake) {
				f.Fail("Status", incidents.Unavailable(errors.New("cannot reach Temporal: connection refused")))
			}, code: 503, want: []string{"retry in 5 s"}},
		{name: "Temporal down as a raw gRPC error", method: "POST", path: decide, body: body,
			setup: func(f *incidentsfake.Fake) {
				f.Fail("Decide", status.Error(codes.Unavailable, "transport: connection refused"))
			}, code: 503},
		{name: "Temporal deadline", method: "GET", path: "/api/v1/incidents",
			setup: func(f *incidentsfake.Fake) {
				f.Fail("List", serviceerror.NewDeadlineExceeded("deadline exceeded"))
			}, code: 503},
	})
}

// TestRetryAfter checks the header a client waits by.
func TestRetryAfter(t *testing.T) {
	fake := incidentsfake.New(nil)
	fake.Fail("List", incidents.Unavailable(errors.New("connection refused")))
	req := httptest.NewRequest("GET", "/api/v1/incidents", nil)
	req.Header.Set("Authorization", "Bearer "+devToken)
	rec := httptest.NewRecorder()
	New(options(fake, false, &logs{})).ServeHTTP(rec, req)
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "5" {
		t.Fatalf("%d, Retry-After %q; want 503 with Retry-After 5", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// TestDefaultHosts runs the API on a real listener: the names it answers to without
// http.hosts are the loopback names and the address it listens on, at its port.
func TestDefaultHosts(t *testing.T) {
	fake := incidentsfake.New(nil)
	opts := options(fake, false, &logs{})
	opts.Hosts = Hosts{ListenHost: "127.0.0.1"}
	srv := httptest.NewServer(New(opts))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	for host, want := range map[string]int{
		"127.0.0.1:" + port: 200, "localhost:" + port: 200, "LOCALHOST:" + port: 200, "[::1]:" + port: 200,
		"localhost:1": 421, "evil.example:" + port: 421, "evil.example": 421, "127.0.0.1": 421,
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/incidents", nil)
		req.Host = host
		req.Header.Set("Authorization", "Bearer "+devToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
	// Health and routes answer any name: monitoring reaches them by address.
	req, _ := http.NewRequest("GET", srv.URL+"/healthz", nil)
	req.Host = "monitoring.internal"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz by another name: %d", resp.StatusCode)
	}
}

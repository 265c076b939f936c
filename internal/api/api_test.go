package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

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

func newAPI(t *testing.T, fake *incidentsfake.Fake, tokens map[string]string) http.Handler {
	t.Helper()
	return New(Options{Incidents: fake, Tokens: tokens, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

type apiCase struct {
	name    string
	method  string
	path    string
	body    string
	headers map[string]string
	setup   func(*incidentsfake.Fake)
	code    int
	want    []string // substrings of the response body
	check   func(t *testing.T, f *incidentsfake.Fake, body []byte)
}

func runAPICases(t *testing.T, tokens map[string]string, cases []apiCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := incidentsfake.New(nil)
			fake.Add(waitingIncident())
			if tc.setup != nil {
				tc.setup(fake)
			}
			req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			newAPI(t, fake, tokens).ServeHTTP(rec, req)
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
			if tc.check != nil {
				tc.check(t, fake, rec.Body.Bytes())
			}
		})
	}
}

func noCall(method string) func(*testing.T, *incidentsfake.Fake, []byte) {
	return func(t *testing.T, f *incidentsfake.Fake, _ []byte) {
		for _, m := range f.Methods() {
			if m == method {
				t.Errorf("a refused request called %s: %v", method, f.Methods())
			}
		}
	}
}

var alice = map[string]string{"X-Quench-User": "alice"}

func TestIncidentsAPI(t *testing.T) {
	runAPICases(t, nil, []apiCase{
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
		{name: "list bad limit", method: "GET", path: "/api/v1/incidents?limit=-1", code: 400, want: []string{"positive whole number"}, check: noCall("List")},
		{name: "list fails upstream", method: "GET", path: "/api/v1/incidents", setup: func(f *incidentsfake.Fake) { f.Fail("List", errors.New("temporal down")) }, code: 502, want: []string{"temporal down"}},

		{name: "start", method: "POST", path: "/api/v1/incidents", headers: alice, body: `{"runbook":"provider-outage","params":{"route":"chat"},"severity":"warning"}`, code: 201,
			want: []string{`"incident_id":"inc-provider-outage-`, `"runbook":"provider-outage"`},
			check: func(t *testing.T, f *incidentsfake.Fake, body []byte) {
				var s incidents.Started
				if err := json.Unmarshal(body, &s); err != nil {
					t.Fatal(err)
				}
				st, ok := f.Get(s.IncidentID)
				if !ok || st.Requester != "alice" || st.Source != "api" || st.Severity != "warning" {
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

		{name: "decide with a short digest", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", headers: map[string]string{"X-Quench-User": "bob"},
			body: `{"verdict":"approve","digest":"aaaaaaaa11","reason":"healthy"}`, code: 200,
			want: []string{`"incident_id":"` + incID, `"short_id":"1a2b3c"`, `"outcome":"approved"`, `"approver":"bob"`, `"step_id":"failback"`}},
		{name: "decide needs an identity", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", body: `{"verdict":"approve","digest":"aaaaaaaa"}`, code: 401, check: noCall("Decide")},
		{name: "decide bad verdict", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", headers: alice, body: `{"verdict":"maybe","digest":"aaaaaaaa"}`, code: 400, check: noCall("Decide")},
		{name: "decide without digest", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", headers: alice, body: `{"verdict":"approve"}`, code: 400, want: []string{"digest is required"}, check: noCall("Decide")},
		{name: "decide stale digest", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", headers: alice, body: `{"verdict":"approve","digest":"0123456789ab"}`, code: 409, want: []string{"params changed"}},
		{name: "decide too short digest", method: "POST", path: "/api/v1/incidents/1a2b3c/decisions", headers: alice, body: `{"verdict":"approve","digest":"aaaa"}`, code: 400, want: []string{"too short"}},
		{name: "decide unknown incident", method: "POST", path: "/api/v1/incidents/ffffff/decisions", headers: alice, body: `{"verdict":"approve","digest":"aaaaaaaa"}`, code: 404, check: noCall("Decide")},

		{name: "resolve says what it waits for", method: "POST", path: "/api/v1/incidents/1a2b3c/resolve", headers: alice, body: `{"reason":"green"}`, code: 202,
			want: []string{`"signal":"resolve"`, `"closed":false`, `"waiting_for":[{"step_id":"failback"`, "quench incident approve 1a2b3c --step failback"}},
		{name: "resolve without body", method: "POST", path: "/api/v1/incidents/1a2b3c/resolve", code: 202},
		{name: "abort closes", method: "POST", path: "/api/v1/incidents/1a2b3c/abort", headers: alice, code: 202, want: []string{`"closed":true`, `"state":"aborted"`}},
		{name: "signal to a closed incident", method: "POST", path: "/api/v1/incidents/1a2b3c/abort",
			setup: func(f *incidentsfake.Fake) { f.Close(incID, workflows.StateResolved) }, code: 409, want: []string{"closed"}},
		{name: "note", method: "POST", path: "/api/v1/incidents/1a2b3c/notes", headers: alice, body: `{"text":"status page red"}`, code: 202,
			check: func(t *testing.T, f *incidentsfake.Fake, _ []byte) {
				st, _ := f.Get(incID)
				last := st.Timeline[len(st.Timeline)-1]
				if last.Kind != workflows.EventNote || last.Actor != "alice" || last.Text != "status page red" {
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
	tokens := map[string]string{"ci-bot": "s3cret"}
	runAPICases(t, tokens, []apiCase{
		{name: "no token", method: "GET", path: "/api/v1/incidents", code: 401, want: []string{"missing bearer token"}, check: noCall("List")},
		{name: "wrong token", method: "GET", path: "/api/v1/incidents", headers: map[string]string{"Authorization": "Bearer nope"}, code: 401, check: noCall("List")},
		{name: "the token names the caller, not the header", method: "POST", path: "/api/v1/incidents",
			headers: map[string]string{"Authorization": "Bearer s3cret", "X-Quench-User": "mallory"}, body: `{"runbook":"manual-investigation","params":{"reason":"x"}}`, code: 201,
			check: func(t *testing.T, f *incidentsfake.Fake, body []byte) {
				var s incidents.Started
				_ = json.Unmarshal(body, &s)
				if st, _ := f.Get(s.IncidentID); st.Requester != "ci-bot" {
					t.Errorf("requester %q, want the token's owner", st.Requester)
				}
			}},
	})
}

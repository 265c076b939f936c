package apiclient_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quench-dev/quench/internal/api"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/incidents/apiclient"
	"github.com/quench-dev/quench/internal/incidents/incidentsfake"
	"github.com/quench-dev/quench/workflows"
)

const (
	incID   = "inc-provider-outage-00000000001a2b3c"
	digest  = "aaaaaaaa11111111111111111111111111111111111111111111111111111111"
	token   = "dev-token-for-tests"
	botTok  = "bot-token-for-tests"
	shortID = "1a2b3c"
)

func waiting() workflows.Status {
	return workflows.Status{IncidentID: incID, ShortID: shortID, Runbook: "provider-outage", State: workflows.StateAwaiting, Requester: "carol",
		StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Steps:     []workflows.StepState{{ID: "failback", Action: "gateway.restore", State: workflows.StepAwaiting}},
		Pending:   []workflows.PendingApproval{{StepID: "failback", Action: "gateway.restore", Digest: digest, Quorum: 1}},
		Timeline:  []workflows.Event{{Kind: workflows.EventStarted, Actor: "carol", Text: "started"}}}
}

// server runs the real API handler over a fake and returns a client holding the dev
// credential of cli:alice.
func server(t *testing.T, allowAs bool) (*incidentsfake.Fake, *apiclient.Client, *httptest.Server) {
	t.Helper()
	fake := incidentsfake.New(nil)
	fake.Add(waiting())
	srv := httptest.NewServer(api.New(api.Options{
		Incidents: fake, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Tokens: map[string]string{"api:deploy-bot": botTok},
		Dev:    &api.DevCredential{Token: token, Identity: "cli:alice", AllowActAs: allowAs},
		Hosts:  api.Hosts{ListenHost: "127.0.0.1"},
	}))
	t.Cleanup(srv.Close)
	return fake, apiclient.New(srv.URL, token), srv
}

func lastDecision(t *testing.T, f *incidentsfake.Fake) workflows.Decision {
	t.Helper()
	calls := f.Calls()
	for i := len(calls) - 1; i >= 0; i-- {
		if d, ok := calls[i].Arg.(workflows.Decision); ok {
			return d
		}
	}
	t.Fatal("no decision reached the fake")
	return workflows.Decision{}
}

func TestActsAsTheCredential(t *testing.T) {
	ctx := context.Background()
	fake, c, _ := server(t, false)

	who, err := c.Identity(ctx)
	if err != nil || who != "cli:alice" {
		t.Fatalf("identity %q %v", who, err)
	}
	started, err := c.Start(ctx, incidents.StartRequest{Runbook: "manual-investigation", Params: map[string]string{"reason": "x"}, Requester: "mallory", Source: "slack"})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := fake.Get(started.IncidentID); st.Requester != "cli:alice" || st.Source != "cli" {
		t.Errorf("started by %q via %q: the credential decides, not the request", st.Requester, st.Source)
	}

	// No digest: expanded from the status, as the Temporal client does.
	res, err := c.Decide(ctx, shortID, workflows.Decision{Approver: "mallory", Verdict: workflows.VerdictApprove, Via: "slack", Reason: "ok"})
	if err != nil || res.Outcome != "approved" || res.StepID != "failback" {
		t.Fatalf("decide: %+v %v", res, err)
	}
	if d := lastDecision(t, fake); d.Approver != "cli:alice" || d.Via != "cli" || d.Digest != digest {
		t.Errorf("decision %+v, want cli:alice via cli on the full digest", d)
	}

	id, err := c.Signal(ctx, shortID, workflows.SignalNote, workflows.Note{By: "mallory", Text: "hello"})
	if err != nil || id != incID {
		t.Fatalf("note: %q %v", id, err)
	}
	st, err := c.Status(ctx, shortID)
	if err != nil {
		t.Fatal(err)
	}
	if last := st.Timeline[len(st.Timeline)-1]; last.Actor != "cli:alice" || last.Text != "hello" {
		t.Errorf("note %+v", last)
	}

	rows, err := c.List(ctx, incidents.ListFilter{Runbook: "provider-outage", Limit: 5})
	if err != nil || len(rows) != 1 || rows[0].IncidentID != incID {
		t.Errorf("list %+v %v", rows, err)
	}
	if _, err := c.Signal(ctx, shortID, workflows.SignalAbort, workflows.Abort{Reason: "done"}); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	final, err := c.Watch(ctx, shortID, func(e workflows.Event, _ workflows.Status) { kinds = append(kinds, e.Kind) })
	if err != nil || final.ClosedAt == nil || len(kinds) != len(final.Timeline) {
		t.Errorf("watch of a closed incident: %v %v, events %v", final.State, err, kinds)
	}
	if _, err := c.FreezeState(ctx, "prompts"); err != nil {
		t.Errorf("freeze: %v", err)
	}
}

func TestActAs(t *testing.T) {
	ctx := context.Background()
	fake, c, _ := server(t, true)
	c.ActAs = "bob"
	if _, err := c.Decide(ctx, shortID, workflows.Decision{Verdict: workflows.VerdictApprove}); err != nil {
		t.Fatal(err)
	}
	if d := lastDecision(t, fake); d.Approver != "bob" {
		t.Errorf("approver %q, want bob (dev.allow_as on)", d.Approver)
	}

	fake, c, _ = server(t, false)
	c.ActAs = "bob"
	_, err := c.Decide(ctx, shortID, workflows.Decision{Verdict: workflows.VerdictApprove})
	if !errors.Is(err, incidents.ErrRefused) || !strings.Contains(err.Error(), "dev.allow_as") {
		t.Fatalf("act_as without dev.allow_as: %v, want a refusal naming dev.allow_as", err)
	}
	for _, m := range fake.Methods() {
		if m == "Decide" {
			t.Fatal("a refused act_as reached Decide")
		}
	}
}

func TestErrorsComeBackMarked(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(*incidentsfake.Fake)
		call  func(c *apiclient.Client) error
		kind  error
		msg   string
	}{
		{name: "unknown incident", call: func(c *apiclient.Client) error { _, err := c.Status(ctx, "ffffff"); return err },
			kind: incidents.ErrNotFound, msg: "no incident with ID ffffff"},
		{name: "not an ID", call: func(c *apiclient.Client) error { _, err := c.Status(ctx, "../etc"); return err },
			kind: incidents.ErrInvalid, msg: "not an incident ID"},
		{name: "unknown runbook", call: func(c *apiclient.Client) error {
			_, err := c.Start(ctx, incidents.StartRequest{Runbook: "nope"})
			return err
		}, kind: incidents.ErrInvalid, msg: "nope"},
		{name: "stale digest", call: func(c *apiclient.Client) error {
			_, err := c.Decide(ctx, shortID, workflows.Decision{Verdict: "approve", Digest: "0123456789ab"})
			return err
		}, kind: incidents.ErrConflict, msg: "params changed"},
		{name: "closed", setup: func(f *incidentsfake.Fake) { f.Close(incID, workflows.StateResolved) },
			call: func(c *apiclient.Client) error {
				_, err := c.Signal(ctx, incID, workflows.SignalResolve, workflows.Resolve{})
				return err
			}, kind: incidents.ErrConflict, msg: "closed"},
		{name: "refused by the policy", setup: func(f *incidentsfake.Fake) {
			f.Fail("Decide", incidents.Refused(errors.New("approve refused: cli:alice may not decide on step failback: not a member of sre")))
		}, call: func(c *apiclient.Client) error {
			_, err := c.Decide(ctx, incID, workflows.Decision{StepID: "failback", Digest: digest, Verdict: "approve"})
			return err
		}, kind: incidents.ErrRefused, msg: "not a member of sre"},
		{name: "Temporal down", setup: func(f *incidentsfake.Fake) {
			f.Fail("Status", incidents.Unavailable(errors.New("cannot reach Temporal")))
		}, call: func(c *apiclient.Client) error { _, err := c.Status(ctx, shortID); return err },
			kind: incidents.ErrUnavailable, msg: "retry in 5 seconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, c, _ := server(t, false)
			if tc.setup != nil {
				tc.setup(fake)
			}
			err := tc.call(c)
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("%v, want %v mentioning %q", err, tc.kind, tc.msg)
			}
		})
	}
}

func TestCredentialAndServerProblems(t *testing.T) {
	ctx := context.Background()
	_, c, srv := server(t, false)
	c.Token = "stale"
	if _, err := c.Status(ctx, shortID); err == nil || !strings.Contains(err.Error(), "refused the credential") {
		t.Errorf("stale token: %v", err)
	}
	bot := apiclient.New(srv.URL, botTok)
	if who, err := bot.Identity(ctx); err != nil || who != "api:deploy-bot" {
		t.Errorf("api token identity %q %v", who, err)
	}
	srv.Close()
	_, err := c.Status(ctx, shortID)
	if !errors.Is(err, incidents.ErrUnavailable) || !strings.Contains(err.Error(), "is `quench dev` running?") {
		t.Errorf("server gone: %v", err)
	}
}

// `incident approve SHORT` resolves the short ID, then decides: the status read to resolve
// also gives the pending approval, so the incident is read once, not twice. A status read
// for another incident is not used, nor the same one twice.
func TestApproveReadsTheIncidentOnce(t *testing.T) {
	ctx := context.Background()
	fake := incidentsfake.New(nil)
	fake.Add(waiting())
	other := waiting()
	other.IncidentID, other.ShortID = "inc-provider-outage-00000000009f8e7d", "9f8e7d"
	fake.Add(other)
	handler := api.New(api.Options{
		Incidents: fake, Registry: prometheus.NewRegistry(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Dev:   &api.DevCredential{Token: token, Identity: "cli:alice"},
		Hosts: api.Hosts{ListenHost: "127.0.0.1"},
	})
	var mu sync.Mutex
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.Method+" "+r.URL.Path)
		mu.Unlock()
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	took := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := requests
		requests = nil
		return out
	}

	c := apiclient.New(srv.URL, token)
	id, err := c.Resolve(ctx, shortID)
	if err != nil || id != incID {
		t.Fatalf("resolve: %q %v", id, err)
	}
	if _, err := c.Decide(ctx, id, workflows.Decision{Verdict: workflows.VerdictApprove}); err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /api/v1/incidents/" + shortID, "POST /api/v1/incidents/" + incID + "/decisions"}
	if got := took(); !slices.Equal(got, want) {
		t.Errorf("approve took %q, want %q", got, want)
	}
	if d := lastDecision(t, fake); d.StepID != "failback" || d.Digest != digest {
		t.Errorf("decision %+v, want the pending approval's step and digest", d)
	}

	// Resolved another incident: this one is read before deciding.
	if _, err := c.Resolve(ctx, "9f8e7d"); err != nil {
		t.Fatal(err)
	}
	took()
	if _, err := c.Decide(ctx, incID, workflows.Decision{Verdict: workflows.VerdictReject, Reason: "no"}); err == nil {
		t.Log("the fake let a second decision through") // the request count is what matters here
	}
	if got := took(); len(got) < 1 || got[0] != "GET /api/v1/incidents/"+incID {
		t.Errorf("deciding after resolving another incident took %q, want a fresh read of %s first", got, incID)
	}
}

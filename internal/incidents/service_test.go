package incidents

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/trust"
	"github.com/quench-dev/quench/runbooks"
	"github.com/quench-dev/quench/workflows"
)

func newService(t *testing.T) (*Service, *fakeTemporal) {
	t.Helper()
	lib, err := runbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	ft := newFakeTemporal()
	s := New(ft, lib, "default")
	s.LookupWait = time.Nanosecond // a missing short ID is reported on the first look
	s.Signer = testSigner(t)
	return s, ft
}

func testSigner(t *testing.T) *trust.Signer {
	t.Helper()
	signer, err := trust.NewSigner(bytes.Repeat([]byte{5}, ed25519.SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

type failingRoutes struct{}

func (failingRoutes) KnownRoutes(context.Context) ([]string, error) {
	return nil, errors.New("gateway down")
}

func TestStart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		req     StartRequest
		routes  RouteChecker
		wantErr string // "" = starts
		invalid bool
	}{
		{name: "defaults", req: StartRequest{Runbook: "provider-outage"}},
		{name: "known route", req: StartRequest{Runbook: "provider-outage", Params: map[string]string{"route": "chat"}}, routes: StaticRoutes{"chat", "search"}},
		{name: "unknown route", req: StartRequest{Runbook: "provider-outage", Params: map[string]string{"route": "nosuchroute"}}, routes: StaticRoutes{"chat", "search"},
			wantErr: `no route "nosuchroute" (step failover); known routes: chat, search`, invalid: true},
		{name: "no checker cannot tell", req: StartRequest{Runbook: "provider-outage", Params: map[string]string{"route": "nosuchroute"}}},
		{name: "failing checker cannot tell", req: StartRequest{Runbook: "provider-outage", Params: map[string]string{"route": "nosuchroute"}}, routes: failingRoutes{}},
		{name: "unknown runbook", req: StartRequest{Runbook: "no-such"}, wantErr: "no-such", invalid: true},
		{name: "unknown param", req: StartRequest{Runbook: "provider-outage", Params: map[string]string{"rout": "chat"}}, wantErr: `"rout"`, invalid: true},
		{name: "bad severity", req: StartRequest{Runbook: "provider-outage", Severity: "bogus"}, wantErr: "critical, warning, info", invalid: true},
		{name: "good severity", req: StartRequest{Runbook: "provider-outage", Severity: "info"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ft := newService(t)
			s.Routes = tc.routes
			got, err := s.Start(context.Background(), tc.req)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				if errors.Is(err, ErrInvalid) != tc.invalid {
					t.Errorf("errors.Is(err, ErrInvalid) = %v, want %v", !tc.invalid, tc.invalid)
				}
				if len(ft.started) != 0 {
					t.Fatalf("a refused start reached Temporal: %+v", ft.started)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ft.started) != 1 {
				t.Fatalf("%d starts, want 1", len(ft.started))
			}
			o, in := ft.started[0], ft.inputs[0]
			if o.ID != got.IncidentID || !strings.HasPrefix(o.ID, "inc-provider-outage-") || got.ShortID != ShortID(o.ID) || got.RunID != "run-1" {
				t.Errorf("started %+v with options %+v", got, o)
			}
			if o.TaskQueue != workflows.TaskQueue {
				t.Errorf("task queue %q", o.TaskQueue)
			}
			want := tc.req.Severity
			if want == "" {
				want = "critical" // the runbook's
			}
			if in.Severity != want {
				t.Errorf("severity %q, want %q", in.Severity, want)
			}
		})
	}
}

func TestStartWithKeyIsStable(t *testing.T) {
	s, ft := newService(t)
	req := StartRequest{Runbook: "provider-outage", Key: "ticket-1", Source: "cli"}
	a, err := s.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if a.IncidentID != b.IncidentID || len(ft.started) != 2 {
		t.Fatalf("same key, IDs %s and %s", a.IncidentID, b.IncidentID)
	}
}

// A key that names one request (a signed Slack command) never starts a second incident,
// even after the first closed; a plain key (an alert group, a ticket) may start again.
func TestStartKeyOnceRejectsDuplicates(t *testing.T) {
	s, ft := newService(t)
	for _, once := range []bool{false, true} {
		if _, err := s.Start(context.Background(), StartRequest{Runbook: "provider-outage", Key: "trig-1", Source: "slack", KeyOnce: once}); err != nil {
			t.Fatal(err)
		}
	}
	if got := ft.started[0].WorkflowIDReusePolicy; got != enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE {
		t.Errorf("plain key: reuse policy %v", got)
	}
	if got := ft.started[1].WorkflowIDReusePolicy; got != enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE {
		t.Errorf("KeyOnce: reuse policy %v, want REJECT_DUPLICATE", got)
	}
	if ft.started[0].ID != ft.started[1].ID {
		t.Errorf("the same key named two incidents: %s and %s", ft.started[0].ID, ft.started[1].ID)
	}
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ref      string
		listed   []string
		want     string
		wantErr  string
		notFound bool
		invalid  bool
		lists    int
	}{
		{name: "full ID is not looked up", ref: "inc-x-0123456789abcdef", want: "inc-x-0123456789abcdef"},
		{name: "short ID", ref: "abcdef", listed: []string{"inc-a-00000000000abcdef"}, want: "inc-a-00000000000abcdef", lists: 1},
		{name: "short ID of continued runs", ref: "abcdef", listed: []string{"inc-a-1abcdef", "inc-a-1abcdef"}, want: "inc-a-1abcdef", lists: 1},
		{name: "ambiguous", ref: "abcdef", listed: []string{"inc-a-1abcdef", "inc-b-2abcdef"}, wantErr: "ambiguous: use one of inc-a-1abcdef, inc-b-2abcdef", invalid: true, lists: 1},
		{name: "none", ref: "abcdef", wantErr: "no incident with ID abcdef", notFound: true, lists: 1},
		{name: "not hex", ref: "nope", wantErr: "not an incident ID", invalid: true},
		{name: "empty", ref: " ", wantErr: "give an incident ID", invalid: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ft := newService(t)
			ft.listed = tc.listed
			got, err := s.Resolve(context.Background(), tc.ref)
			if len(ft.listReqs) != tc.lists {
				t.Errorf("%d lookups, want %d", len(ft.listReqs), tc.lists)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				if errors.Is(err, ErrNotFound) != tc.notFound || errors.Is(err, ErrInvalid) != tc.invalid {
					t.Errorf("err %v: not found %v, invalid %v", err, errors.Is(err, ErrNotFound), errors.Is(err, ErrInvalid))
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			if tc.lists > 0 && !strings.Contains(ft.listReqs[0].Query, workflows.SearchShortID+" = '"+tc.ref+"'") {
				t.Errorf("query %q", ft.listReqs[0].Query)
			}
		})
	}
}

const (
	id      = "inc-provider-outage-00000000001a2b3c"
	digestA = "aaaaaaaa11111111111111111111111111111111111111111111111111111111"
	digestB = "bbbbbbbb22222222222222222222222222222222222222222222222222222222"
)

func waiting(pending ...workflows.PendingApproval) workflows.Status {
	return workflows.Status{IncidentID: id, ShortID: "1a2b3c", State: workflows.StateAwaiting, Pending: pending}
}

func TestDecide(t *testing.T) {
	closedAt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	one := waiting(workflows.PendingApproval{StepID: "failback", Digest: digestA})
	two := waiting(workflows.PendingApproval{StepID: "failback", Digest: digestA}, workflows.PendingApproval{StepID: "rollback", Digest: digestB})
	for _, tc := range []struct {
		name       string
		st         workflows.Status
		d          workflows.Decision
		wantStep   string
		wantDigest string
		wantErr    string
		queries    int
	}{
		{name: "nothing given, one pending", st: one, wantStep: "failback", wantDigest: digestA, queries: 1},
		{name: "short digest expanded", st: one, d: workflows.Decision{Digest: digestA[:12]}, wantStep: "failback", wantDigest: digestA, queries: 1},
		{name: "short digest picks among several", st: two, d: workflows.Decision{Digest: digestB[:8]}, wantStep: "rollback", wantDigest: digestB, queries: 1},
		{name: "full digest and step go straight to the workflow", st: one, d: workflows.Decision{StepID: "failback", Digest: digestA}, wantStep: "failback", wantDigest: digestA},
		{name: "stale digest", st: one, d: workflows.Decision{Digest: "0123456789ab"}, wantErr: "the params changed", queries: 1},
		{name: "too short digest", st: one, d: workflows.Decision{Digest: "aaaa"}, wantErr: "too short", queries: 1},
		{name: "several pending need a step", st: two, wantErr: "several approvals are pending (failback, rollback): pass --step", queries: 1},
		{name: "wrong step", st: one, d: workflows.Decision{StepID: "nope"}, wantErr: "step nope of incident 1a2b3c is not waiting for approval; waiting: failback", queries: 1},
		{name: "nothing pending", st: waiting(), wantErr: "has no approval pending", queries: 1},
		{name: "closed", st: workflows.Status{IncidentID: id, ShortID: "1a2b3c", State: workflows.StateResolved, ClosedAt: &closedAt}, wantErr: "is closed (resolved)", queries: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ft := newService(t)
			ft.statuses[id] = tc.st
			tc.d.Verdict, tc.d.Approver = workflows.VerdictApprove, "bob"
			res, err := s.Decide(context.Background(), id, tc.d)
			if len(ft.queries) != tc.queries {
				t.Errorf("%d status queries, want %d", len(ft.queries), tc.queries)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				if len(ft.updates) != 0 {
					t.Fatal("a refused decision reached the workflow")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sent := ft.updates[0].Args[0].(workflows.Decision)
			if sent.StepID != tc.wantStep || sent.Digest != tc.wantDigest || ft.updates[0].UpdateName != workflows.UpdateDecide || res.StepID != tc.wantStep {
				t.Fatalf("sent %+v to %s, result %+v", sent, ft.updates[0].UpdateName, res)
			}
		})
	}
}

func TestDecideExplainsWorkflowRefusal(t *testing.T) {
	s, ft := newService(t)
	ft.statuses[id] = waiting(workflows.PendingApproval{StepID: "failback", Digest: digestA})
	ft.updErr = errors.New("bob is not a member of sre")
	_, err := s.Decide(context.Background(), id, workflows.Decision{Verdict: workflows.VerdictApprove, Approver: "bob"})
	if err == nil || err.Error() != "approve refused: bob is not a member of sre" {
		t.Fatalf("err %v", err)
	}
}

func TestStatusAndSignalErrors(t *testing.T) {
	s, ft := newService(t)
	if _, err := s.Status(context.Background(), id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("status of a missing workflow: %v, want ErrNotFound", err)
	}
	closedAt := time.Now()
	ft.statuses[id] = workflows.Status{IncidentID: id, ClosedAt: &closedAt}
	if _, err := s.Signal(context.Background(), id, workflows.SignalResolve, workflows.Resolve{By: "a"}); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("signal to a closed incident: %v", err)
	}
	ft.queryErr = serviceerror.NewUnavailable("connection refused")
	if _, err := s.Status(context.Background(), id); err == nil || !strings.Contains(err.Error(), "quench dev") {
		t.Fatalf("unreachable Temporal: %v, want a hint to start quench dev", err)
	}
}

func TestListPagesDedupsAndLimits(t *testing.T) {
	s, ft := newService(t)
	ft.pages = [][]string{{"inc-a-1", "inc-a-2"}, {"inc-a-2", "inc-a-3"}, {"inc-a-4"}}
	rows, err := s.List(context.Background(), ListFilter{Open: true, Runbook: "provider-outage", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.IncidentID)
		if r.Runbook != "provider-outage" || r.ShortID == "" {
			t.Errorf("row %+v", r)
		}
	}
	if strings.Join(ids, ",") != "inc-a-1,inc-a-2,inc-a-3" {
		t.Fatalf("rows %v", ids)
	}
	q := ft.listReqs[0].Query
	for _, want := range []string{"ExecutionStatus = 'Running'", workflows.SearchRunbook + " = 'provider-outage'"} {
		if !strings.Contains(q, want) {
			t.Errorf("query %q lacks %q", q, want)
		}
	}
	if _, err := s.List(context.Background(), ListFilter{Runbook: "x' OR 1=1"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a runbook name that is not a slug must be refused: %v", err)
	}
}

func TestFreezeState(t *testing.T) {
	s, ft := newService(t)
	st, err := s.FreezeState(context.Background(), "prompts")
	if err != nil || st.Frozen || st.Scope != "prompts" {
		t.Fatalf("a scope never frozen: %+v, %v", st, err)
	}
	ft.freezes["prompts"] = workflows.FreezeState{Scope: "prompts", Frozen: true}
	if st, err = s.FreezeState(context.Background(), "prompts"); err != nil || !st.Frozen {
		t.Fatalf("frozen scope: %+v, %v", st, err)
	}
}

func TestConfigRoutes(t *testing.T) {
	cfg := &config.Config{}
	cfg.Gateway.Routes = map[string][]string{"search": {"a"}, "chat": {"a", "b"}}
	rc := ConfigRoutes(cfg)
	if rc == nil {
		t.Fatal("the embedded gateway's routes are known from the config")
	}
	got, _ := rc.KnownRoutes(context.Background())
	if strings.Join(got, ",") != "chat,search" {
		t.Fatalf("routes %v", got)
	}
	cfg.Gateway.Kind = config.GatewayLiteLLM
	if ConfigRoutes(cfg) != nil {
		t.Fatal("LiteLLM's routes are not in quench's config: cannot tell")
	}
}

// A status query no worker picked up in time is asked again; other errors are not, and a
// query that keeps finding no poller gives up with Temporal's answer.
func TestStatusAsksAgainWhenNoPollerPickedTheQueryUp(t *testing.T) {
	const id = "inc-provider-outage-0123456789abcdef"
	noPoller := serviceerror.NewFailedPrecondition("no poller seen for task queue recently, worker may be down")

	s, ft := newService(t)
	ft.statuses[id] = workflows.Status{IncidentID: id, State: workflows.StateAwaiting}
	ft.queryErrs = []error{noPoller, noPoller}
	st, err := s.Status(context.Background(), id)
	if err != nil || st.State != workflows.StateAwaiting || len(ft.queries) != 3 {
		t.Fatalf("status %+v, err %v after %d queries; want the status on the third", st, err, len(ft.queries))
	}

	s, ft = newService(t)
	ft.statuses[id] = workflows.Status{IncidentID: id}
	ft.queryErrs = []error{serviceerror.NewInternal("boom")}
	if _, err := s.Status(context.Background(), id); err == nil || len(ft.queries) != 1 {
		t.Fatalf("err %v after %d queries; want the first error, not asked again", err, len(ft.queries))
	}

	s, ft = newService(t)
	ft.statuses[id] = workflows.Status{IncidentID: id}
	ft.queryErr = noPoller
	if _, err := s.Status(context.Background(), id); err == nil || !strings.Contains(err.Error(), "no poller seen") || len(ft.queries) != 5 {
		t.Fatalf("err %v after %d queries; want Temporal's answer after 5 tries", err, len(ft.queries))
	}
}

// TestPrepareCarriesThePolicyAndRevisionItWasGiven: a service that knows its workers' policy
// and revision (quench dev) puts both in the input and asks for eager start; one that does
// not (quench server) leaves the incident to load the policy and keeps revision 0, so an
// older worker and a newer replay agree on its commands.
func TestPrepareCarriesThePolicyAndRevisionItWasGiven(t *testing.T) {
	s, _ := newService(t)
	req := StartRequest{Runbook: "provider-outage", Params: map[string]string{"route": "chat"}, Requester: "cli:alice", Source: "cli"}
	in, opts, err := s.Prepare(req)
	if err != nil {
		t.Fatal(err)
	}
	if in.Policy != nil || in.Revision != 0 {
		t.Errorf("without a policy and a revision: policy %v, revision %d; want none, 0", in.Policy, in.Revision)
	}
	if !opts.EnableEagerStart {
		t.Error("eager start not asked for (without a worker on the client it is ignored)")
	}

	s.Policy, s.Revision = &activities.Policy{OpenGroups: true}, workflows.StartRevision
	in, opts, err = s.Prepare(req)
	if err != nil {
		t.Fatal(err)
	}
	if in.Policy == nil || !in.Policy.OpenGroups || in.Revision != workflows.StartRevision {
		t.Errorf("policy %v, revision %d; want the service's", in.Policy, in.Revision)
	}
	if !opts.TypedSearchAttributes.ContainsKey(temporal.NewSearchAttributeKeyKeyword(workflows.SearchRunbook)) {
		t.Error("revision 1 relies on the start setting every search attribute")
	}
}

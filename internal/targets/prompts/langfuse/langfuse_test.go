package langfuse

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
	"github.com/quench-dev/quench/internal/targets/httpapi/apifake"
	"github.com/quench-dev/quench/internal/targets/traffic/langfuse/langfusefake"
)

const (
	pk     = "pk-lf-test"
	sk     = "sk-lf-test"
	secret = "lf-whsec_test"
)

type fixture struct {
	lf     *langfusefake.Server
	a      *Adapter
	since  time.Time
	repins []Repin
	mu     sync.Mutex
}

// setup: summarise v1, v2 (also labelled staging), v3 created during the incident and in
// production; triage v1, v2 both old, v2 moved to production during the incident.
func setup(t *testing.T, prompts ...string) *fixture {
	t.Helper()
	return setupIn(t, storetest.SQLite(t), prompts...)
}

// setupIn is setup with the pins in db.
func setupIn(t *testing.T, db *store.DB, prompts ...string) *fixture {
	t.Helper()
	lf := langfusefake.New(pk, sk)
	t.Cleanup(lf.Close)
	old := time.Now().Add(-48 * time.Hour)
	lf.AddPromptVersion("summarise", "Summarise: {{ticket}}", old)
	lf.AddPromptVersion("summarise", "Summarise briefly: {{ticket}}", old.Add(time.Hour), "production", "staging")
	lf.AddPromptVersion("triage", "Triage: {{ticket}}", old, "production")
	lf.AddPromptVersion("triage", "Triage v2: {{ticket}}", old.Add(time.Hour))
	f := &fixture{lf: lf, since: time.Now().Add(-time.Hour)}
	lf.AddPromptVersion("summarise", "Summarise in six words: {{ticket}}", time.Now().Add(-30*time.Minute), "production")
	lf.MoveLabel("triage", 2, "production")
	a, err := New(Options{URL: lf.URL, PublicKey: pk, SecretKey: sk, Prompts: prompts, Store: db, StateDir: t.TempDir(),
		WebhookSecret: secret, OnRepin: func(_ context.Context, r Repin) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.repins = append(f.repins, r)
		}})
	if err != nil {
		t.Fatal(err)
	}
	f.a = a
	return f
}

func (f *fixture) Repins() []Repin {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.repins)
}

func TestChangesListCreatedAndPromotedVersions(t *testing.T) {
	f := setup(t)
	changes, err := f.a.Changes(context.Background(), f.since, time.Now().Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.SHA+"<"+c.Parent)
	}
	slices.Sort(got)
	if want := []string{"summarise@3<summarise@2", "triage@2<triage@1"}; !slices.Equal(got, want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	for _, c := range changes {
		if c.SHA == "triage@2" && !strings.Contains(c.Message, "promoted to production") {
			t.Errorf("triage@2 message %q", c.Message)
		}
	}
}

func TestRollbackMovesTheLabelBackAndRecordsIt(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	req := ports.RollbackRequest{Since: f.since, Until: time.Now().Add(time.Minute)}
	res, err := f.a.Rollback(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	want := []ports.LabelMove{
		{Prompt: "summarise", Label: "production", From: 3, To: 2},
		{Prompt: "triage", Label: "production", From: 2, To: 1},
	}
	if !res.Applied || !slices.Equal(res.Moves, want) || res.Good != "summarise@2,triage@1" {
		t.Fatalf("rollback %+v, want moves %v", res, want)
	}
	if v := f.lf.LabelledVersion("summarise", "production"); v != 2 {
		t.Fatalf("summarise production on v%d, want v2", v)
	}
	if labels := f.lf.Labels("summarise", 2); !slices.Equal(labels, []string{"production", "staging"}) {
		t.Fatalf("summarise v2 labels %v: the rollback must keep the version's other labels", labels)
	}
	// A retry finds the labels where the first attempt put them and moves nothing.
	patches := f.lf.Count("PATCH", "")
	again, err := f.a.Rollback(ctx, ports.RollbackRequest{Good: "summarise@2,triage@1"})
	if err != nil || f.lf.Count("PATCH", "") != patches {
		t.Fatalf("retry: %v (%d new PATCHes)", err, f.lf.Count("PATCH", "")-patches)
	}
	for _, m := range again.Moves {
		if m.From != m.To {
			t.Errorf("retry moved %+v", m)
		}
	}
}

func TestRollbackRefusesWhatItCannotDo(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	for _, good := range []string{"summarise", "summarise@zero", "@3"} {
		if _, err := f.a.Rollback(ctx, ports.RollbackRequest{Good: good}); !ports.IsPermanent(err) {
			t.Errorf("good %q: want a permanent error, got %v", good, err)
		}
	}
	if _, err := f.a.Rollback(ctx, ports.RollbackRequest{Good: "summarise@9"}); !ports.IsPermanent(err) {
		t.Errorf("unknown version: %v", err)
	}
	one := setup(t, "summarise")
	if res, err := one.a.Rollback(ctx, ports.RollbackRequest{Good: "v1"}); err != nil || res.Moves[0].To != 1 {
		t.Errorf("a bare version with one managed prompt: %+v %v", res, err)
	}
	quiet := setup(t, "summarise")
	res, err := quiet.a.Rollback(ctx, ports.RollbackRequest{Since: time.Now().Add(time.Hour), Until: time.Now().Add(2 * time.Hour)})
	if err != nil || !res.NoOp {
		t.Errorf("no change in the window: %+v %v", res, err)
	}
}

func TestRateLimitOnTheMoveIsRetryable(t *testing.T) {
	f := setup(t)
	f.lf.Inject(apifake.Fault{Method: "PATCH", Code: 429, RetryAfter: "9"})
	_, err := f.a.Rollback(context.Background(), ports.RollbackRequest{Good: "summarise@1"})
	if d, _ := ports.RetryDelay(err); d != 9*time.Second {
		t.Fatalf("429: %v (delay %s)", err, d)
	}
}

func frozen(holders ...string) FreezeStateFunc {
	return func(context.Context, string) (ports.FreezeEnforcement, error) {
		return ports.FreezeEnforcement{Scope: DefaultScope, Frozen: true, Holders: holders}, nil
	}
}

func TestFreezePinsAndTheWebhookMovesTheLabelBack(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	state := ports.FreezeEnforcement{Scope: "prompts", Frozen: true, Holders: []string{"inc-prompt-regression-1"}}
	res, err := f.a.EnforceFreeze(ctx, state)
	if err != nil || !res.Enforced || res.SweepEvery <= 0 {
		t.Fatalf("enforce: %+v %v", res, err)
	}
	if pins, _ := f.a.Pinned(ctx, "prompts"); pins["summarise"] != 3 || pins["triage"] != 2 {
		t.Fatalf("pins %v", pins)
	}
	hook := httptest.NewServer(f.a.WebhookHandler(frozen("inc-prompt-regression-1")))
	defer hook.Close()
	f.lf.SetWebhook(hook.URL, secret)

	// Someone promotes summarise v1 during the freeze: the webhook puts production back on v3.
	f.lf.MoveLabel("summarise", 1, "production")
	f.lf.AwaitDeliveries()
	if v := f.lf.LabelledVersion("summarise", "production"); v != 3 {
		t.Fatalf("summarise production on v%d after the webhook, want the pinned v3", v)
	}
	repins := f.Repins()
	if len(repins) != 1 || repins[0].From != 1 || repins[0].To != 3 || repins[0].Holders[0] != "inc-prompt-regression-1" {
		t.Fatalf("repins %+v", repins)
	}
	for _, d := range f.lf.Deliveries() {
		if d.Code != http.StatusOK {
			t.Fatalf("a delivery got %d: %+v", d.Code, f.lf.Deliveries())
		}
	}

	// A missed webhook is caught by the sweep.
	f.lf.SetWebhook("", secret)
	f.lf.MoveLabel("triage", 1, "production")
	if _, err := f.a.EnforceFreeze(ctx, state); err != nil {
		t.Fatal(err)
	}
	if v := f.lf.LabelledVersion("triage", "production"); v != 2 {
		t.Fatalf("triage production on v%d after the sweep, want v2", v)
	}

	// Unfrozen: the pins go, and a move stays.
	if _, err := f.a.EnforceFreeze(ctx, ports.FreezeEnforcement{Scope: "prompts"}); err != nil {
		t.Fatal(err)
	}
	if pins, _ := f.a.Pinned(ctx, "prompts"); len(pins) != 0 {
		t.Fatalf("pins after unfreeze: %v", pins)
	}
	other, _ := f.a.EnforceFreeze(ctx, ports.FreezeEnforcement{Scope: "deploys", Frozen: true})
	if other.Enforced {
		t.Fatal("another scope must not pin Langfuse prompts")
	}
}

func TestWebhookRefusesBadSignatures(t *testing.T) {
	f := setup(t)
	if _, err := f.a.EnforceFreeze(context.Background(), ports.FreezeEnforcement{Scope: "prompts", Frozen: true}); err != nil {
		t.Fatal(err)
	}
	h := f.a.WebhookHandler(frozen("inc-1"))
	body := []byte(`{"type":"prompt-version","action":"updated","prompt":{"name":"summarise","version":1,"labels":["production"]}}`)
	post := func(sig string) int {
		req := httptest.NewRequest(http.MethodPost, "/hooks/langfuse", bytes.NewReader(body))
		if sig != "" {
			req.Header.Set(SignatureHeader, sig)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for name, sig := range map[string]string{
		"none":        "",
		"wrong key":   langfusefake.Sign("another-secret", body, time.Now()),
		"stale":       langfusefake.Sign(secret, body, time.Now().Add(-time.Hour)),
		"malformed":   "sha256=abc",
		"not hex":     "t=" + time.Now().Format("20060102") + ",v1=zz",
		"other body":  langfusefake.Sign(secret, []byte(`{}`), time.Now()),
		"future time": langfusefake.Sign(secret, body, time.Now().Add(time.Hour)),
	} {
		if code := post(sig); code != http.StatusUnauthorized {
			t.Errorf("%s signature: %d, want 401", name, code)
		}
	}
	if patches := f.lf.Count("PATCH", ""); patches != 0 {
		t.Fatalf("an unsigned delivery changed labels (%d PATCHes)", patches)
	}
	if code := post(langfusefake.Sign(secret, body, time.Now())); code != http.StatusOK {
		t.Fatalf("a good signature: %d", code)
	}
	alertBody := []byte(`{"id":"n1","type":"monitor-alert","apiVersion":"v1","payload":{"monitorId":"m","projectId":"p","severity":"ALERT"}}`)
	req := httptest.NewRequest(http.MethodPost, "/hooks/langfuse", bytes.NewReader(alertBody))
	req.Header.Set(SignatureHeader, langfusefake.Sign(secret, alertBody, time.Now()))
	misrouted := httptest.NewRecorder()
	h.ServeHTTP(misrouted, req)
	if misrouted.Code != http.StatusBadRequest || !strings.Contains(misrouted.Body.String(), "/hooks/langfuse_alerts") {
		t.Fatalf("an alert notification at the prompt hook: %d %s; want 400 pointing at /hooks/langfuse_alerts", misrouted.Code, misrouted.Body.String())
	}
	bad := httptest.NewRecorder()
	h.ServeHTTP(bad, httptest.NewRequest(http.MethodGet, "/hooks/langfuse", nil))
	if bad.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d", bad.Code)
	}
}

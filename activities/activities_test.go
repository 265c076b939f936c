package activities_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/activities/activitiestest"
	"github.com/quench-dev/quench/internal/evidence"
	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/prompts/gitrepo"
	"github.com/quench-dev/quench/internal/targets/traffic/jsonl"
)

const incidentID = "inc-prompt-regression-0123456789abcdef"

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// quietLogger keeps the SDK from logging every expected activity failure.
var quietLogger = log.NewStructuredLogger(slog.New(slog.DiscardHandler))

func step(action, stepID string, params map[string]string) activities.StepInput {
	return activities.StepInput{
		IncidentID: incidentID, ShortID: "abcdef", Runbook: "prompt-regression", Title: "answers got short",
		StepID: stepID, Action: action, IdempotencyKey: incidentID + "/" + stepID, Params: params, Now: now,
	}
}

func newEnv(t *testing.T, deps activities.Deps) *testsuite.TestActivityEnvironment {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(quietLogger)
	env := ts.NewTestActivityEnvironment()
	activities.Register(env, deps)
	return env
}

func run(t *testing.T, env *testsuite.TestActivityEnvironment, in activities.StepInput) (activities.StepResult, error) {
	t.Helper()
	val, err := env.ExecuteActivity(in.Action, in)
	if err != nil {
		return activities.StepResult{}, err
	}
	var res activities.StepResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res, nil
}

func mustRun(t *testing.T, env *testsuite.TestActivityEnvironment, in activities.StepInput) activities.StepResult {
	t.Helper()
	res, err := run(t, env, in)
	if err != nil {
		t.Fatalf("%s: %v", in.Action, err)
	}
	return res
}

// assertNonRetryable checks err stops retries, has the type and says what to fix.
func assertNonRetryable(t *testing.T, err error, errType, says string) {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("err = %v (%T), want an application error", err, err)
	}
	if !appErr.NonRetryable() || appErr.Type() != errType || !strings.Contains(appErr.Error(), says) {
		t.Fatalf("err = %q type %s non-retryable %v; want type %s saying %q", appErr.Error(), appErr.Type(), appErr.NonRetryable(), errType, says)
	}
}

func TestGatewaySwitchAndRestore(t *testing.T) {
	table := openRoutes(t, map[string][]string{"chat": {"openai", "anthropic"}})
	env := newEnv(t, activities.Deps{Gateway: table})
	switchIn := step(activities.ActionGatewaySwitch, "failover", map[string]string{"route": "chat", "to": "fallback"})

	first := mustRun(t, env, switchIn)
	wantUndo := &activities.UndoAction{Key: "gateway/chat", Action: "gateway.restore", Params: map[string]string{"route": "chat"}, Description: "point route chat back at openai"}
	if !reflect.DeepEqual(first.Undo, wantUndo) || first.Outputs["from"] != "openai" || first.Outputs["to"] != "anthropic" || first.NoOp {
		t.Fatalf("switch = %+v undo %+v", first, first.Undo)
	}
	again := mustRun(t, env, switchIn)
	if !reflect.DeepEqual(again, first) {
		t.Fatalf("re-run = %+v\nfirst  = %+v", again, first)
	}
	if r, _, _ := table.Route("chat"); r.Provider != "anthropic" {
		t.Fatalf("after a re-run chat is on %s", r.Provider)
	}

	restore := mustRun(t, env, step(activities.ActionGatewayRestore, "failback", map[string]string{"route": "chat"}))
	if !reflect.DeepEqual(restore.Clears, []string{"gateway/chat"}) || restore.Outputs["provider"] != "openai" || restore.NoOp {
		t.Fatalf("restore = %+v", restore)
	}
	// The undo registered by the switch runs at close with its own key: nothing left to do.
	undoIn := step(activities.ActionGatewayRestore, "failover", map[string]string{"route": "chat"})
	undoIn.IdempotencyKey += "/undo"
	undo := mustRun(t, env, undoIn)
	if !undo.NoOp || !strings.Contains(undo.Summary, "nothing saved") {
		t.Fatalf("undo after failback = %+v", undo)
	}
}

func TestGatewayErrors(t *testing.T) {
	table := openRoutes(t, map[string][]string{"chat": {"openai", "anthropic"}})
	var err error
	env := newEnv(t, activities.Deps{Gateway: table})
	_, err = run(t, env, step(activities.ActionGatewaySwitch, "s1", map[string]string{"route": "voice", "to": "fallback"}))
	assertNonRetryable(t, err, activities.ErrTypePermanent, "known routes: chat")
	_, err = run(t, env, step(activities.ActionGatewaySwitch, "s2", map[string]string{"to": "fallback"}))
	assertNonRetryable(t, err, activities.ErrTypeInvalidParams, `param "route" is required`)

	_, err = run(t, newEnv(t, activities.Deps{}), step(activities.ActionGatewaySwitch, "s3", map[string]string{"route": "chat", "to": "x"}))
	assertNonRetryable(t, err, activities.ErrTypeNotConfigured, "no gateway configured")

	// A failure the adapter does not mark permanent is left to Temporal's retries.
	flaky := &failingGateway{err: errors.New("connection refused")}
	_, err = run(t, newEnv(t, activities.Deps{Gateway: flaky}), step(activities.ActionGatewaySwitch, "s4", map[string]string{"route": "chat", "to": "x"}))
	var appErr *temporal.ApplicationError
	if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("transient error = %v, want a retryable one", err)
	}
}

type failingGateway struct{ err error }

func (g *failingGateway) Switch(context.Context, ports.SwitchRequest) (ports.RouteChange, error) {
	return ports.RouteChange{}, g.err
}

func (g *failingGateway) Restore(context.Context, ports.RestoreRequest) (ports.RouteChange, error) {
	return ports.RouteChange{}, g.err
}

// promptRepo builds a repository whose system prompt was made worse an hour ago.
func promptRepo(t *testing.T) (dir string, good, bad plumbing.Hash) {
	t.Helper()
	dir = t.TempDir()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.Main}})
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	commit := func(msg, content string, at time.Time) plumbing.Hash {
		if err := os.MkdirAll(filepath.Join(dir, "prompts"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "prompts", "system.txt"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add("prompts/system.txt"); err != nil {
			t.Fatal(err)
		}
		sig := &object.Signature{Name: "alice", Email: "a@example.com", When: at}
		h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	good = commit("prompts: initial", "Answer fully.\n", now.Add(-72*time.Hour))
	bad = commit("prompts: be terse", "Answer in five words.\n", now.Add(-time.Hour))
	return dir, good, bad
}

func TestPromptsChangesAndRollback(t *testing.T) {
	dir, good, bad := promptRepo(t)
	repo, err := gitrepo.Open(dir, gitrepo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, activities.Deps{Prompts: repo})

	changes := mustRun(t, env, step(activities.ActionPromptsChanges, "changes", map[string]string{"since": "24h"}))
	if changes.Outputs["count"] != float64(1) || changes.Outputs["suspect"] != bad.String() || changes.Outputs["last_good"] != good.String() {
		t.Fatalf("changes outputs = %+v", changes.Outputs)
	}
	commits := changes.Outputs["commits"].([]any)
	first := commits[0].(map[string]any)
	if first["short"] != bad.String()[:7] || first["message"] != "prompts: be terse" || first["author"] != "alice" || len(first["files"].([]any)) != 1 {
		t.Fatalf("commit output = %+v", first)
	}
	if !strings.Contains(changes.Summary, "1 prompt change") || !strings.Contains(changes.Summary, "prompts: be terse") {
		t.Fatalf("summary = %q", changes.Summary)
	}

	rollbackIn := step(activities.ActionPromptsRollback, "rollback", map[string]string{"since": "24h"})
	rb := mustRun(t, env, rollbackIn)
	if rb.Outputs["branch"] != "quench/rollback-abcdef" || rb.Outputs["noop"] != false ||
		!reflect.DeepEqual(rb.Outputs["reverted"], []any{bad.String()}) || len(rb.Links) != 1 || !strings.HasPrefix(rb.Links[0].URL, "file://") {
		t.Fatalf("rollback = %+v", rb)
	}
	if !strings.Contains(rb.Summary, "restores the prompts to "+good.String()[:7]) {
		t.Fatalf("summary = %q", rb.Summary)
	}
	again := mustRun(t, env, rollbackIn)
	if !reflect.DeepEqual(again, rb) {
		t.Fatalf("re-run = %+v\nfirst  = %+v", again, rb)
	}

	quiet := step(activities.ActionPromptsRollback, "rollback-quiet", map[string]string{"since": "10m"})
	quiet.ShortID = "fedcba"
	noop := mustRun(t, env, quiet)
	if !noop.NoOp || noop.Outputs["noop"] != true || !strings.Contains(noop.Summary, "no rollback proposed") {
		t.Fatalf("quiet window = %+v", noop)
	}
}

func TestPromptsErrors(t *testing.T) {
	var logs bytes.Buffer
	env := newEnv(t, activities.Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, action := range []string{activities.ActionPromptsChanges, activities.ActionPromptsRollback} {
		res := mustRun(t, env, step(action, "c", nil))
		assertSkipped(t, res, activities.PortPrompts, "--prompts-repo")
	}
	assertInfoOnly(t, logs.String(), 2)

	dir, _, _ := promptRepo(t)
	repo, _ := gitrepo.Open(dir, gitrepo.Options{})
	env = newEnv(t, activities.Deps{Prompts: repo})
	_, err := run(t, env, step(activities.ActionPromptsChanges, "c", map[string]string{"since": "soon"}))
	assertNonRetryable(t, err, activities.ErrTypeInvalidParams, "is not a duration")
	_, err = run(t, env, step(activities.ActionPromptsRollback, "r", map[string]string{"good": "nosuchcommit"}))
	assertNonRetryable(t, err, activities.ErrTypePermanent, "good commit \"nosuchcommit\" not found")
}

func TestFreezeAndUnfreeze(t *testing.T) {
	freezer := activitiestest.NewFreezer()
	env := newEnv(t, activities.Deps{Freezer: freezer})
	freezeIn := step(activities.ActionPromptsFreeze, "freeze", map[string]string{"scope": "prompts", "ttl": "2h"})
	res := mustRun(t, env, freezeIn)
	until := now.Add(2 * time.Hour)
	wantUndo := &activities.UndoAction{Key: "freeze/prompts", Action: "prompts.unfreeze", Params: map[string]string{"scope": "prompts"}, Description: "lift this incident's freeze of prompts"}
	if !reflect.DeepEqual(res.Undo, wantUndo) || res.Outputs["until"] != until.Format(time.RFC3339) {
		t.Fatalf("freeze = %+v", res)
	}
	again := mustRun(t, env, freezeIn)
	if !reflect.DeepEqual(again, res) {
		t.Fatalf("re-run = %+v", again)
	}
	holds := freezer.Holds("prompts")
	if len(holds) != 1 || holds[0].Holder != incidentID || !holds[0].Until.Equal(until) || holds[0].Reason != "incident abcdef: answers got short" {
		t.Fatalf("holds = %+v", holds)
	}

	// Another incident's hold outlives this one's unfreeze.
	if err := freezer.Hold(context.Background(), "prompts", "inc-other", "", until); err != nil {
		t.Fatal(err)
	}
	un := mustRun(t, env, step(activities.ActionPromptsUnfreeze, "freeze", map[string]string{"scope": "prompts"}))
	if !reflect.DeepEqual(un.Clears, []string{"freeze/prompts"}) || un.Outputs["frozen"] != true || !strings.Contains(un.Summary, "still frozen") {
		t.Fatalf("unfreeze = %+v", un)
	}
	if holds := freezer.Holds("prompts"); len(holds) != 1 || holds[0].Holder != "inc-other" {
		t.Fatalf("holds after unfreeze = %+v", holds)
	}

	freezer.Err = errors.New("frontend unavailable")
	_, err := run(t, env, freezeIn)
	var appErr *temporal.ApplicationError
	if err == nil || (errors.As(err, &appErr) && appErr.NonRetryable()) {
		t.Fatalf("transient freezer error = %v, want retryable", err)
	}

	_, err = run(t, newEnv(t, activities.Deps{}), freezeIn)
	assertNonRetryable(t, err, activities.ErrTypeNotConfigured, "no freezer")
	freezer.Err = nil
	_, err = run(t, env, step(activities.ActionPromptsFreeze, "f2", map[string]string{"ttl": "-1h"}))
	assertNonRetryable(t, err, activities.ErrTypeInvalidParams, `param "ttl"`)
}

// countingTraffic counts snapshots, to prove a re-run answers from the stored evidence.
type countingTraffic struct {
	ports.Traffic
	snapshots int
}

func (c *countingTraffic) Snapshot(ctx context.Context, req ports.SnapshotRequest) (ports.TrafficSnapshot, error) {
	c.snapshots++
	return c.Traffic.Snapshot(ctx, req)
}

func TestTrafficSnapshotAndMeasure(t *testing.T) {
	var lines []string
	for i := 0; i < 10; i++ {
		errType := ""
		if i < 3 {
			errType = "5xx"
		}
		lines = append(lines, `{"time":"`+now.Add(-time.Duration(i+1)*time.Minute).Format(time.RFC3339)+
			`","gen_ai.provider.name":"openai","gen_ai.response.model":"gpt-4o","route":"chat","error.type":"`+errType+`","duration_ms":120}`)
	}
	logPath := filepath.Join(t.TempDir(), "requests.jsonl")
	if err := os.WriteFile(logPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	store, err := evidence.Open(filepath.Join(t.TempDir(), "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	traffic := &countingTraffic{Traffic: jsonl.New(logPath)}
	env := newEnv(t, activities.Deps{Traffic: traffic, Evidence: store})

	in := step(activities.ActionTrafficSnapshot, "evidence", map[string]string{"window": "30m", "baseline": "24h", "route": "chat"})
	res := mustRun(t, env, in)
	if len(res.Evidence) != 1 || res.Evidence[0].Name != "evidence" || res.Outputs["evidence"] != res.Evidence[0].URI ||
		res.Outputs["sha256"] != res.Evidence[0].SHA256 || res.Outputs["requests"] != float64(10) || res.Outputs["error_rate"] != 0.3 {
		t.Fatalf("snapshot = %+v", res)
	}
	data, err := store.ReadRef(context.Background(), res.Evidence[0])
	if err != nil || !strings.Contains(string(data), bundle.Schema) {
		t.Fatalf("stored bundle: %v", err)
	}
	// Appending to the log does not change the evidence a re-run reports.
	f, _ := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"time":"` + now.Add(-time.Second).Format(time.RFC3339) + `","gen_ai.provider.name":"openai","error.type":"429"}` + "\n")
	f.Close()
	again := mustRun(t, env, in)
	if !reflect.DeepEqual(again, res) || traffic.snapshots != 1 {
		t.Fatalf("re-run = %+v (snapshots taken %d)\nfirst  = %+v", again, traffic.snapshots, res)
	}

	val, err := env.ExecuteActivity(activities.VerifyActivity, ports.VerifyInput{IncidentID: incidentID, Signal: "error_rate", Route: "chat", Window: 5 * time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var m ports.VerifyResult
	if err := val.Get(&m); err != nil || m.Requests != 5 || m.Value != 0.6 {
		t.Fatalf("measure = %+v, %v; want 3 of the last 5 minutes' 5 chat requests failed", m, err)
	}
	_, err = env.ExecuteActivity(activities.VerifyActivity, ports.VerifyInput{Signal: "promql", Query: "up", Now: now})
	assertNonRetryable(t, err, activities.ErrTypePermanent, "cannot evaluate promql")

	var logs bytes.Buffer
	bare := newEnv(t, activities.Deps{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	assertSkipped(t, mustRun(t, bare, in), activities.PortTraffic, "--traffic-log")
	val, err = bare.ExecuteActivity(activities.VerifyActivity, ports.VerifyInput{IncidentID: incidentID, Signal: "error_rate", Now: now})
	if err != nil {
		t.Fatalf("measure without a traffic source: %v; want an answer saying it is not configured", err)
	}
	var nm ports.VerifyResult
	if err := val.Get(&nm); err != nil || !strings.Contains(nm.NotConfigured, "--traffic-log") || nm.Requests != 0 {
		t.Fatalf("measure without a traffic source = %+v, %v", nm, err)
	}
	assertInfoOnly(t, logs.String(), 2)
	_, err = run(t, env, step(activities.ActionTrafficSnapshot, "bad", map[string]string{"samples": "many"}))
	assertNonRetryable(t, err, activities.ErrTypeInvalidParams, `param "samples"`)
}

// assertSkipped checks a step was skipped for a port, with a reason that says what to set.
func assertSkipped(t *testing.T, res activities.StepResult, port, says string) {
	t.Helper()
	if res.Skipped == nil || res.Skipped.Port != port || !strings.Contains(res.Skipped.Reason, says) ||
		res.Summary != "skipped: "+res.Skipped.Reason {
		t.Fatalf("result = %+v (skip %+v); want skipped for %s, saying %q", res, res.Skipped, port, says)
	}
}

// assertInfoOnly checks the log has n lines, all INFO: "not configured" is no error.
func assertInfoOnly(t *testing.T, logs string, n int) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) != n {
		t.Fatalf("log has %d lines, want %d:\n%s", len(lines), n, logs)
	}
	for _, l := range lines {
		if !strings.Contains(l, "level=INFO") || !strings.Contains(l, "not configured") {
			t.Fatalf("log line %q: want INFO saying what is not configured", l)
		}
	}
}

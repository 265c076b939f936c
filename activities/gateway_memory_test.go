package activities_test

import (
	"bytes"
	"reflect"
	"testing"

	"go.temporal.io/sdk/testsuite"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store/storetest"
	"github.com/quench-dev/quench/internal/targets/gateway/litellm"
	"github.com/quench-dev/quench/internal/targets/gateway/litellm/litellmfake"
)

const liteKey = "sk-master-test"

// liteWorker is one worker's activities on the proxy: its own adapter, its own data dir.
func liteWorker(t *testing.T, s *litellmfake.Server) *testsuite.TestActivityEnvironment {
	t.Helper()
	g, err := litellm.New(litellm.Options{URL: s.URL, MasterKey: liteKey, Mode: litellm.ModeOrder, Store: storetest.SQLite(t)})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, activities.Deps{Gateway: g})
}

func readRoute(t *testing.T, env *testsuite.TestActivityEnvironment, in activities.StepInput) ports.RouteState {
	t.Helper()
	val, err := env.ExecuteActivity(activities.GatewayReadActivity, in)
	if err != nil {
		t.Fatal(err)
	}
	var rs ports.RouteState
	if err := val.Get(&rs); err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestGatewaySwitchOnOneWorkerUndoOnAnother(t *testing.T) {
	s := litellmfake.New(liteKey,
		litellmfake.Deployment{ModelName: "chat", LiteLLMParams: map[string]any{"model": "openai/gpt-4o", "order": 1}, ModelInfo: map[string]any{"id": "dep-openai"}},
		litellmfake.Deployment{ModelName: "chat", LiteLLMParams: map[string]any{"model": "anthropic/claude-sonnet", "order": 2}, ModelInfo: map[string]any{"id": "dep-anthropic"}},
	)
	t.Cleanup(s.Close)
	a, b := liteWorker(t, s), liteWorker(t, s)
	before := s.State()

	params := map[string]string{"route": "chat", "to": "fallback"}
	rs := readRoute(t, a, step(activities.GatewayReadActivity, "failover", params))
	if rs.Provider != "openai" || rs.State == "" {
		t.Fatalf("read = %+v", rs)
	}
	prev, err := activities.EncodeRouteState(rs)
	if err != nil {
		t.Fatal(err)
	}
	switchIn := step(activities.ActionGatewaySwitch, "failover", map[string]string{"route": "chat", "to": "fallback", "previous": prev})
	first := mustRun(t, a, switchIn)
	wantUndo := &activities.UndoAction{Key: "gateway/chat", Action: activities.ActionGatewayRestore,
		Params:      map[string]string{"route": "chat", "previous": prev, "switched_to": "anthropic"},
		Description: "point route chat back at openai"}
	if !reflect.DeepEqual(first.Undo, wantUndo) || first.Outputs["previous"] != prev || first.NoOp {
		t.Fatalf("switch = %+v undo %+v", first, first.Undo)
	}
	writes := s.Count("POST", "/model/")

	// A died before its result was recorded; Temporal retries on B.
	again := mustRun(t, b, switchIn)
	if !reflect.DeepEqual(again.Undo, first.Undo) || again.Summary != first.Summary || again.NoOp {
		t.Fatalf("retry on B = %+v, first %+v", again, first)
	}
	if n := s.Count("POST", "/model/"); n != writes {
		t.Fatalf("the retry on B wrote %d more times", n-writes)
	}

	undoIn := step(activities.ActionGatewayRestore, "failover", first.Undo.Params)
	undoIn.IdempotencyKey += "/undo"
	undo := mustRun(t, b, undoIn)
	if undo.NoOp || undo.Outputs["provider"] != "openai" {
		t.Fatalf("undo on B = %+v", undo)
	}
	if after := s.State(); !bytes.Equal(after, before) {
		t.Fatalf("the undo on B did not restore byte for byte:\nbefore %s\nafter  %s", before, after)
	}
}

func TestGatewayPreviousParamIsChecked(t *testing.T) {
	s := litellmfake.New(liteKey)
	t.Cleanup(s.Close)
	env := liteWorker(t, s)
	_, err := run(t, env, step(activities.ActionGatewayRestore, "failback", map[string]string{"route": "chat", "previous": "{not json"}))
	assertNonRetryable(t, err, activities.ErrTypeInvalidParams, `param "previous" is not a route state`)
	if s.Count("", "") != 0 {
		t.Fatal("a restore with a broken previous param called the proxy")
	}
}

func TestGatewayReadOnAGatewayThatCannotRead(t *testing.T) {
	env := newEnv(t, activities.Deps{Gateway: &failingGateway{}})
	rs := readRoute(t, env, step(activities.GatewayReadActivity, "failover", map[string]string{"route": "chat", "to": "fallback"}))
	if rs.State != "" || rs.KeptLocally == "" {
		t.Fatalf("read = %+v, want a note that the gateway keeps its state itself", rs)
	}
}

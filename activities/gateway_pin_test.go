package activities_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store/storetest"
	"github.com/quench-dev/quench/internal/targets/gateway/portkey"
	"github.com/quench-dev/quench/internal/targets/gateway/portkey/portkeyfake"
)

func TestGatewayPinModelAndItsUndo(t *testing.T) {
	table := openRoutes(t, map[string][]string{"chat": {"openai", "anthropic"}})
	env := newEnv(t, activities.Deps{Gateway: table})
	params := map[string]string{"route": "chat", "model": "gpt-4o", "to": "gpt-4o-2024-08-06"}

	// What the workflow does first: read the state, in history, then pass it as previous.
	val, err := env.ExecuteActivity(activities.GatewayReadPinActivity, step(activities.ActionGatewayPinModel, "pin", params))
	if err != nil {
		t.Fatal(err)
	}
	var ps ports.PinState
	if err := val.Get(&ps); err != nil || ps.Model != "gpt-4o" || ps.Pinned != "" {
		t.Fatalf("read pin: %+v %v", ps, err)
	}
	prev, err := activities.EncodePinState(ps)
	if err != nil {
		t.Fatal(err)
	}
	withPrev := map[string]string{"route": "chat", "model": "gpt-4o", "to": "gpt-4o-2024-08-06", "previous": prev}
	first := mustRun(t, env, step(activities.ActionGatewayPinModel, "pin", withPrev))
	wantUndo := &activities.UndoAction{Key: "gateway-pin/chat/gpt-4o", Action: activities.ActionGatewayUnpin,
		Params:      map[string]string{"route": "chat", "model": "gpt-4o", "previous": prev, "pinned_to": "gpt-4o-2024-08-06"},
		Description: "put model gpt-4o on route chat back on gpt-4o (unpinned)"}
	if first.NoOp || !reflect.DeepEqual(first.Undo, wantUndo) || first.Outputs["to"] != "gpt-4o-2024-08-06" {
		t.Fatalf("pin = %+v undo %+v", first, first.Undo)
	}
	if again := mustRun(t, env, step(activities.ActionGatewayPinModel, "pin", withPrev)); !reflect.DeepEqual(again, first) {
		t.Fatalf("re-run = %+v\nfirst  = %+v", again, first)
	}
	if r, _, _ := table.Route("chat"); r.PinnedModels["gpt-4o"] != "gpt-4o-2024-08-06" {
		t.Fatalf("route after the pin: %+v", r)
	}
	undoIn := step(activities.ActionGatewayUnpin, "pin", wantUndo.Params)
	undoIn.IdempotencyKey += "/undo"
	undo := mustRun(t, env, undoIn)
	if undo.NoOp || !reflect.DeepEqual(undo.Clears, []string{"gateway-pin/chat/gpt-4o"}) {
		t.Fatalf("unpin = %+v", undo)
	}
	if r, _, _ := table.Route("chat"); r.PinnedModels != nil {
		t.Fatalf("route after the unpin: %+v", r)
	}
}

func TestGatewayPinModelErrors(t *testing.T) {
	table := openRoutes(t, map[string][]string{"chat": {"openai", "anthropic"}})
	env := newEnv(t, activities.Deps{Gateway: table})
	_, err := run(t, env, step(activities.ActionGatewayPinModel, "p1", map[string]string{"route": "chat", "model": "gpt-4o"}))
	assertNonRetryable(t, err, activities.ErrTypeInvalidParams, `param "to" is required`)
	_, err = run(t, env, step(activities.ActionGatewayPinModel, "p2", map[string]string{"route": "chat", "model": "gpt-4o", "to": "gpt-4o-2024-08-06"}))
	assertNonRetryable(t, err, activities.ErrTypeInvalidParams, `param "previous" is missing`)
	other, _ := json.Marshal(ports.PinState{Model: "gpt-4"})
	_, err = run(t, env, step(activities.ActionGatewayPinModel, "p3", map[string]string{"route": "chat", "model": "gpt-4o", "to": "gpt-4o-2024-08-06", "previous": string(other)}))
	assertNonRetryable(t, err, activities.ErrTypeInvalidParams, "not the state gateway.read_pin returned")

	// Portkey cannot pin or block: the step says so, without retries and without a call.
	s := portkeyfake.New("pk", map[string]string{"chat": `{"targets":[{"virtual_key":"a"},{"virtual_key":"b"}]}`})
	t.Cleanup(s.Close)
	pk, err := portkey.New(portkey.Options{URL: s.URL, APIKey: "pk", Store: storetest.SQLite(t)})
	if err != nil {
		t.Fatal(err)
	}
	penv := newEnv(t, activities.Deps{Gateway: pk})
	_, err = run(t, penv, step(activities.ActionGatewayPinModel, "p4", map[string]string{"route": "chat", "model": "gpt-4o", "to": "gpt-4o-2024-08-06", "previous": `{"model":"gpt-4o"}`}))
	assertNonRetryable(t, err, activities.ErrTypeNotConfigured, "cannot pin a model on Portkey")
	_, err = run(t, penv, step(activities.ActionGatewayBlock, "b4", map[string]string{"route": "chat", "key": "agent-7"}))
	assertNonRetryable(t, err, activities.ErrTypeNotConfigured, "Portkey's admin API has no call to block")
	if s.Count("", "") != 0 {
		t.Fatal("a step Portkey cannot do called it")
	}
}

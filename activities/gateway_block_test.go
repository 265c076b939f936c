package activities_test

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/store/storetest"
	"github.com/quench-dev/quench/internal/targets/gateway/routetable"
)

// openRoutes is the embedded routing table on a SQLite store, with routes applied.
func openRoutes(t *testing.T, routes map[string][]string) *routetable.Table {
	t.Helper()
	table, err := routetable.Open(context.Background(), storetest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := table.Apply(context.Background(), routes, "test"); err != nil {
		t.Fatal(err)
	}
	return table
}

func TestGatewayBlockAndUnblock(t *testing.T) {
	table := openRoutes(t, map[string][]string{"chat": {"openai", "anthropic"}})
	env := newEnv(t, activities.Deps{Gateway: table})
	blockIn := step(activities.ActionGatewayBlock, "block", map[string]string{"route": "chat", "key": "agent-7"})

	first := mustRun(t, env, blockIn)
	wantUndo := &activities.UndoAction{Key: "gateway-block/chat/agent-7", Action: "gateway.unblock",
		Params: map[string]string{"route": "chat", "key": "agent-7"}, Description: "unblock key agent-7 on route chat"}
	if !reflect.DeepEqual(first.Undo, wantUndo) || first.Outputs["blocked"] != true || first.NoOp {
		t.Fatalf("block = %+v undo %+v", first, first.Undo)
	}
	if again := mustRun(t, env, blockIn); !reflect.DeepEqual(again, first) {
		t.Fatalf("re-run = %+v\nfirst  = %+v", again, first)
	}
	if r, _, _ := table.Route("chat"); !slices.Equal(r.BlockedKeys, []string{"agent-7"}) {
		t.Fatalf("route after block: %+v", r)
	}

	undoIn := step(activities.ActionGatewayUnblock, "block", map[string]string{"route": "chat", "key": "agent-7"})
	undoIn.IdempotencyKey += "/undo"
	undo := mustRun(t, env, undoIn)
	if undo.NoOp || undo.Outputs["blocked"] != false || !reflect.DeepEqual(undo.Clears, []string{"gateway-block/chat/agent-7"}) {
		t.Fatalf("unblock = %+v", undo)
	}
	if r, _, _ := table.Route("chat"); r.BlockedKeys != nil {
		t.Fatalf("route after unblock: %+v", r)
	}
}

func TestGatewayBlockErrors(t *testing.T) {
	table := openRoutes(t, nil)
	var err error
	env := newEnv(t, activities.Deps{Gateway: table})
	_, err = run(t, env, step(activities.ActionGatewayBlock, "b1", map[string]string{"route": "chat"}))
	assertNonRetryable(t, err, activities.ErrTypeInvalidParams, `param "key" is required`)
	_, err = run(t, newEnv(t, activities.Deps{}), step(activities.ActionGatewayBlock, "b2", map[string]string{"route": "chat", "key": "k"}))
	assertNonRetryable(t, err, activities.ErrTypeNotConfigured, "no gateway configured")
	// A gateway that cannot block says so, without retries.
	_, err = run(t, newEnv(t, activities.Deps{Gateway: &failingGateway{}}), step(activities.ActionGatewayBlock, "b3", map[string]string{"route": "chat", "key": "k"}))
	assertNonRetryable(t, err, activities.ErrTypeNotConfigured, "cannot block an agent key")
}

package activities_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
)

// rateLimitedGateway answers every call with a rate limit asking for a delay.
type rateLimitedGateway struct{ delay time.Duration }

func (g rateLimitedGateway) Switch(context.Context, ports.SwitchRequest) (ports.RouteChange, error) {
	return ports.RouteChange{}, ports.RetryAfter(errors.New("the LiteLLM proxy answered 429"), g.delay)
}

func (g rateLimitedGateway) Restore(context.Context, ports.RestoreRequest) (ports.RouteChange, error) {
	return ports.RouteChange{}, ports.RetryAfter(errors.New("the LiteLLM proxy answered 429"), g.delay)
}

func TestRetryAfterBecomesTheNextRetryDelay(t *testing.T) {
	env := newEnv(t, activities.Deps{Gateway: rateLimitedGateway{delay: 42 * time.Second}})
	_, err := run(t, env, step(activities.ActionGatewaySwitch, "failover", map[string]string{"route": "chat", "to": "fallback"}))
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("err = %v, want an application error", err)
	}
	if appErr.NonRetryable() || appErr.Type() != activities.ErrTypeRateLimited || appErr.NextRetryDelay() != 42*time.Second {
		t.Fatalf("err type %s non-retryable %v next delay %s; want a retryable %s waiting 42s",
			appErr.Type(), appErr.NonRetryable(), appErr.NextRetryDelay(), activities.ErrTypeRateLimited)
	}
	if d, ok := ports.RetryDelay(ports.RetryAfter(errors.New("x"), 0)); ok || d != 0 {
		t.Fatal("a zero delay must leave the error alone")
	}
}

// labelPrompts is a prompt store that rolls back by moving labels.
type labelPrompts struct{ res ports.RollbackResult }

func (p labelPrompts) Changes(context.Context, time.Time, time.Time) ([]ports.PromptCommit, error) {
	return nil, nil
}

func (p labelPrompts) Rollback(context.Context, ports.RollbackRequest) (ports.RollbackResult, error) {
	return p.res, nil
}

func TestAppliedRollbackRecordsBeforeAndAfter(t *testing.T) {
	env := newEnv(t, activities.Deps{Prompts: labelPrompts{res: ports.RollbackResult{
		Applied: true, Good: "summarise@7", Reverted: []string{"summarise@8"},
		Moves: []ports.LabelMove{{Prompt: "summarise", Label: "production", From: 8, To: 7}, {Prompt: "triage", Label: "production", From: 3, To: 3}},
	}}})
	res := mustRun(t, env, step(activities.ActionPromptsRollback, "rollback", map[string]string{"since": "24h"}))
	if !strings.Contains(res.Summary, "summarise: production moved from v8 to v7") || !strings.Contains(res.Summary, "triage: production already on v3") {
		t.Fatalf("summary %q", res.Summary)
	}
	moves, _ := res.Outputs["moves"].([]any)
	if res.Outputs["applied"] != true || len(moves) != 2 {
		t.Fatalf("outputs %v", res.Outputs)
	}
	first, _ := moves[0].(map[string]any)
	if first["before"] != float64(8) || first["after"] != float64(7) {
		t.Fatalf("first move %v", first)
	}
}

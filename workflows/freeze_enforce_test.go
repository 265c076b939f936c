package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
)

// hostFake records the enforcements the freeze workflow asks for and answers like a host
// that enforces the scope (GitHub), optionally failing some calls.
type hostFake struct {
	mu    sync.Mutex
	calls []ports.FreezeEnforcement
	fail  func(n int, in ports.FreezeEnforcement) bool
}

func (h *hostFake) enforce(_ context.Context, in ports.FreezeEnforcement) (ports.EnforceResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, in)
	if h.fail != nil && h.fail(len(h.calls), in) {
		return ports.EnforceResult{}, temporal.NewNonRetryableApplicationError("GitHub is down", "test", nil)
	}
	return ports.EnforceResult{Enforced: true, SweepEvery: time.Minute}, nil
}

func (h *hostFake) snapshot() []ports.FreezeEnforcement {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]ports.FreezeEnforcement(nil), h.calls...)
}

func newEnforcedFreezeEnv(t *testing.T, host *hostFake) (*testsuite.TestWorkflowEnvironment, time.Time) {
	t.Helper()
	env := testSuite(t).NewTestWorkflowEnvironment()
	Register(env)
	env.RegisterActivityWithOptions(host.enforce, activity.RegisterOptions{Name: activities.EnforceFreezeActivity})
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	return env, start
}

func frozenStates(calls []ports.FreezeEnforcement) []bool {
	var out []bool
	for _, c := range calls {
		out = append(out, c.Frozen)
	}
	return out
}

func TestFreezeIsEnforcedOnEveryChangeAndSweptWhileFrozen(t *testing.T) {
	host := &hostFake{}
	env, start := newEnforcedFreezeEnv(t, host)
	var atHold, beforeRelease, afterRelease, later []ports.FreezeEnforcement
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalFreeze, Hold{Holder: "inc-a", Reason: "prompt regression", Until: start.Add(4 * time.Hour)})
	}, time.Minute)
	env.RegisterDelayedCallback(func() { atHold = host.snapshot() }, 90*time.Second)
	env.RegisterDelayedCallback(func() {
		beforeRelease = host.snapshot()
		env.SignalWorkflow(SignalUnfreeze, Release{Holder: "inc-a", By: "cli:bob"})
	}, 11*time.Minute+30*time.Second)
	env.RegisterDelayedCallback(func() { afterRelease = host.snapshot() }, 12*time.Minute)
	env.RegisterDelayedCallback(func() {
		later = host.snapshot()
		env.CancelWorkflow()
	}, 3*time.Hour)
	env.ExecuteWorkflow(FreezeWorkflowName, FreezeInput{Scope: "prompts"})
	require.NoError(t, env.GetWorkflowError())

	require.Len(t, atHold, 1, "the hold is enforced at once")
	assert.Equal(t, ports.FreezeEnforcement{Scope: "prompts", Frozen: true, Holders: []string{"inc-a"}, Reason: "prompt regression"}, atHold[0])
	assert.Len(t, beforeRelease, 11, "one enforcement at the hold, then a sweep every minute for ten minutes")
	for _, c := range beforeRelease {
		assert.True(t, c.Frozen)
	}
	require.Len(t, afterRelease, 12)
	assert.Equal(t, ports.FreezeEnforcement{Scope: "prompts"}, afterRelease[11], "the release is enforced")
	assert.Equal(t, afterRelease, later, "no sweep after the freeze ends")
}

func TestFreezeExpiryIsEnforced(t *testing.T) {
	host := &hostFake{}
	env, start := newEnforcedFreezeEnv(t, host)
	var calls []ports.FreezeEnforcement
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalFreeze, Hold{Holder: "inc-a", Until: start.Add(5 * time.Minute)})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		calls = host.snapshot()
		env.CancelWorkflow()
	}, time.Hour)
	env.ExecuteWorkflow(FreezeWorkflowName, FreezeInput{Scope: "prompts"})
	require.NoError(t, env.GetWorkflowError())
	require.NotEmpty(t, calls)
	assert.True(t, calls[0].Frozen)
	assert.False(t, calls[len(calls)-1].Frozen, "the TTL expiry unfreezes on the host")
}

func TestFailedUnfreezeEnforcementIsRetried(t *testing.T) {
	host := &hostFake{fail: func(n int, in ports.FreezeEnforcement) bool { return !in.Frozen && n < 4 }}
	env, start := newEnforcedFreezeEnv(t, host)
	var calls []ports.FreezeEnforcement
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalFreeze, Hold{Holder: "inc-a", Until: start.Add(time.Hour)})
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalUnfreeze, Release{Holder: "inc-a"})
	}, 90*time.Second)
	env.RegisterDelayedCallback(func() {
		calls = host.snapshot()
		env.CancelWorkflow()
	}, 2*time.Hour)
	env.ExecuteWorkflow(FreezeWorkflowName, FreezeInput{Scope: "prompts"})
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, []bool{true, false, false, false}, frozenStates(calls),
		"the lift is tried again until the host takes it, then nothing more")
}

func TestHostThatDoesNotEnforceGetsNoSweeps(t *testing.T) {
	env, start := newFreezeEnv(t) // its enforce activity answers Enforced: false
	calls := 0
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == activities.EnforceFreezeActivity {
			calls++
		}
	})
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalFreeze, Hold{Holder: "inc-a", Until: start.Add(time.Hour)})
	}, time.Minute)
	env.RegisterDelayedCallback(env.CancelWorkflow, 30*time.Minute)
	env.ExecuteWorkflow(FreezeWorkflowName, FreezeInput{Scope: "prompts"})
	require.NoError(t, env.GetWorkflowError())
	assert.Equal(t, 1, calls, "one enforcement at the hold and no sweep")
}

package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
)

func newFreezeEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, time.Time) {
	t.Helper()
	suite := testSuite(t)
	env := suite.NewTestWorkflowEnvironment()
	Register(env)
	// No prompts host enforces freezes here (as without github: configured).
	env.RegisterActivityWithOptions(func(context.Context, ports.FreezeEnforcement) (ports.EnforceResult, error) {
		return ports.EnforceResult{}, nil
	}, activity.RegisterOptions{Name: activities.EnforceFreezeActivity})
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	return env, start
}

func queryFreeze(t *testing.T, env *testsuite.TestWorkflowEnvironment) FreezeState {
	t.Helper()
	v, err := env.QueryWorkflow(QueryFreeze)
	require.NoError(t, err)
	var st FreezeState
	require.NoError(t, v.Get(&st))
	return st
}

func freezeKinds(st FreezeState) []string {
	var out []string
	for _, e := range st.History {
		out = append(out, e.Kind+" "+e.Holder)
	}
	return out
}

func TestFreezeHoldReleaseExpiryAndDedup(t *testing.T) {
	env, start := newFreezeEnv(t)
	at := func(d time.Duration, fn func()) { env.RegisterDelayedCallback(fn, d) }
	var afterHolds, afterExpiry, afterExtendedTime, afterRelease FreezeState

	at(time.Minute, func() {
		env.SignalWorkflow(SignalFreeze, Hold{Holder: "inc-a", Reason: "prompt regression", Until: start.Add(2 * time.Hour)})
	})
	at(2*time.Minute, func() { // the same incident again (a retried activity): extends, no event
		env.SignalWorkflow(SignalFreeze, Hold{Holder: "inc-a", Reason: "prompt regression", Until: start.Add(3 * time.Hour)})
	})
	at(3*time.Minute, func() {
		env.SignalWorkflow(SignalFreeze, Hold{Holder: "inc-b", Reason: "eval drift", Until: start.Add(time.Hour)})
	})
	at(4*time.Minute, func() {
		afterHolds = queryFreeze(t, env)
		env.SignalWorkflow(SignalUnfreeze, Release{Holder: "inc-unknown", By: "cli:bob"}) // not holding: no event
	})
	at(70*time.Minute, func() { afterExpiry = queryFreeze(t, env) })
	at(150*time.Minute, func() { afterExtendedTime = queryFreeze(t, env) })
	at(160*time.Minute, func() { env.SignalWorkflow(SignalUnfreeze, Release{Holder: "inc-a", By: "cli:bob"}) })
	at(10*time.Hour, func() {
		afterRelease = queryFreeze(t, env)
		env.CancelWorkflow()
	})

	env.ExecuteWorkflow(FreezeWorkflowName, FreezeInput{Scope: "prompts"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())

	assert.True(t, afterHolds.Frozen)
	require.Len(t, afterHolds.Holds, 2)
	assert.Equal(t, start.Add(3*time.Hour), afterHolds.Holds[0].Until, "the repeat extended inc-a's hold")
	assert.Equal(t, []string{"freeze inc-a", "freeze inc-b"}, freezeKinds(afterHolds))

	assert.True(t, afterExpiry.Frozen, "inc-a still holds")
	assert.Equal(t, []string{"freeze inc-a", "freeze inc-b", "expired inc-b"}, freezeKinds(afterExpiry))
	assert.Equal(t, start.Add(time.Hour), afterExpiry.History[2].At)

	assert.True(t, afterExtendedTime.Frozen, "inc-a's first Until passed, but it was extended")

	assert.False(t, afterRelease.Frozen)
	assert.Empty(t, afterRelease.Holds)
	assert.Equal(t, []string{"freeze inc-a", "freeze inc-b", "expired inc-b", "unfreeze inc-a"}, freezeKinds(afterRelease),
		"the freeze workflow keeps running with its history after the last hold")
	assert.Equal(t, "released by cli:bob", afterRelease.History[3].Reason)
}

func TestFreezeHistoryIsCapped(t *testing.T) {
	env, start := newFreezeEnv(t)
	var st FreezeState
	env.RegisterDelayedCallback(func() {
		for i := range 5 {
			env.SignalWorkflow(SignalFreeze, Hold{Holder: fmt.Sprint("inc-", i), Until: start.Add(time.Hour)})
		}
	}, time.Minute)
	env.RegisterDelayedCallback(func() {
		st = queryFreeze(t, env)
		env.CancelWorkflow()
	}, 2*time.Minute)
	env.ExecuteWorkflow(FreezeWorkflowName, FreezeInput{Scope: "prompts", Limits: &FreezeLimits{HistoryCap: 3}})

	assert.Len(t, st.Holds, 5)
	assert.Equal(t, []string{"freeze inc-2", "freeze inc-3", "freeze inc-4"}, freezeKinds(st))
}

func TestFreezeContinuesAsNewWithItsHolds(t *testing.T) {
	env, start := newFreezeEnv(t)
	env.SetCurrentHistoryLength(100)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflowSkippingWorkflowTask(SignalFreeze, Hold{Holder: "inc-a", Until: start.Add(time.Hour)})
		env.SignalWorkflow(SignalFreeze, Hold{Holder: "inc-b", Until: start.Add(2 * time.Hour)})
	}, time.Minute)
	env.ExecuteWorkflow(FreezeWorkflowName, FreezeInput{Scope: "prompts", Limits: &FreezeLimits{HistoryLimit: 10}})

	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "expected continue-as-new, got %v", env.GetWorkflowError())
	var next FreezeInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	assert.Equal(t, "prompts", next.Scope)
	assert.True(t, next.State.Frozen)
	assert.Len(t, next.State.Holds, 2, "no signal is lost across the hand-over")
	assert.Equal(t, &FreezeLimits{HistoryLimit: 10}, next.Limits, "the limits travel to the next run")
}

package workflows

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/runbooks"
)

// timeoutRecorder records the start-to-close timeout of every activity the workflow
// schedules, by the activity's summary ("failover", "failover undo", ...).
type timeoutRecorder struct {
	interceptor.WorkerInterceptorBase
	mu       sync.Mutex
	timeouts map[string]time.Duration
}

func (r *timeoutRecorder) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	in := &timeoutInbound{r: r}
	in.Next = next
	return in
}

type timeoutInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	r *timeoutRecorder
}

func (i *timeoutInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	out := &timeoutOutbound{r: i.r}
	out.Next = outbound
	return i.Next.Init(out)
}

type timeoutOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	r *timeoutRecorder
}

func (o *timeoutOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	opts := workflow.GetActivityOptions(ctx)
	o.r.mu.Lock()
	o.r.timeouts[opts.Summary] = opts.StartToCloseTimeout
	o.r.mu.Unlock()
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}

// replaceCatalogEntry changes the live catalog for one test, as a newer binary would.
func replaceCatalogEntry(t *testing.T, name string, timeout time.Duration) {
	t.Helper()
	live, ok := runbooks.Catalog[name]
	require.True(t, ok, name)
	changed := live
	changed.DefaultTimeout = runbooks.Duration(timeout)
	runbooks.Catalog[name] = changed
	t.Cleanup(func() { runbooks.Catalog[name] = live })
}

// TestIncidentKeepsTheCatalogItWasLoadedWith: a runbook loaded by one binary runs with that
// binary's action definitions even when the worker's catalog has changed since: the step's,
// its undo's (run by the verify revert) and the escalation's timeouts.
func TestIncidentKeepsTheCatalogItWasLoadedWith(t *testing.T) {
	spec, err := runbooks.Parse([]byte(`name: pinned
steps:
  - id: failover
    action: gateway.switch
    with: {route: chat, to: anthropic}
    verify: {signal: error_rate, below: 0.05, within: 1m, every: 30s}
  - id: evidence
    action: traffic.snapshot
`), "pinned.yaml")
	require.NoError(t, err)
	loadedWith := map[string]time.Duration{
		"failover":            runbooks.Catalog[runbooks.ActionGatewaySwitch].DefaultTimeout.D(),
		"failover undo":       runbooks.Catalog[runbooks.ActionGatewayRestore].DefaultTimeout.D(),
		"failover escalation": runbooks.Catalog[runbooks.ActionNotify].DefaultTimeout.D(),
		"evidence":            runbooks.Catalog[runbooks.ActionTrafficSnapshot].DefaultTimeout.D(),
	}
	loadedWindow := paramDefault(t, runbooks.ActionTrafficSnapshot, "window")

	replaceCatalogEntry(t, runbooks.ActionGatewaySwitch, 7*time.Minute)
	replaceCatalogEntry(t, runbooks.ActionGatewayRestore, 9*time.Minute)
	replaceCatalogEntry(t, runbooks.ActionNotify, 11*time.Minute)
	replaceCatalogEntry(t, runbooks.ActionTrafficSnapshot, 13*time.Minute)
	replaceParamDefault(t, runbooks.ActionTrafficSnapshot, "window", "5m")
	liveNow := map[string]time.Duration{"failover": 7 * time.Minute, "failover undo": 9 * time.Minute,
		"failover escalation": 11 * time.Minute, "evidence": 13 * time.Minute}

	run := func(spec runbooks.Spec) (map[string]time.Duration, string, Status) {
		h := newHarness(t)
		h.measures = []ports.VerifyResult{{Value: 0.4, Requests: 200}} // the fallback fails too: revert
		rec := &timeoutRecorder{timeouts: map[string]time.Duration{}}
		h.env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{rec}})
		st := h.run(testInput(spec))
		delete(rec.timeouts, "failover verify") // not a catalog action
		snapshots := h.callsOf(runbooks.ActionTrafficSnapshot)
		require.Len(t, snapshots, 1)
		return rec.timeouts, snapshots[0].Params["window"], st
	}

	got, window, st := run(*spec)
	assert.Equal(t, StepReverted, stepByID(st, "failover").State, "the scenario exercises the undo and the escalation")
	assert.Equal(t, loadedWith, got, "the incident runs with the catalog its runbook was loaded with")
	assert.Equal(t, loadedWindow, window, "param defaults come from the saved catalog too")

	// An input from before the catalog was saved has only the live catalog to go by.
	old := *spec
	old.Actions = nil
	got, window, _ = run(old)
	assert.Equal(t, liveNow, got)
	assert.Equal(t, "5m", window)
}

func paramDefault(t *testing.T, action, param string) string {
	t.Helper()
	p, ok := runbooks.Catalog[action].Param(param)
	require.True(t, ok, "%s has no param %s", action, param)
	return p.Default
}

// replaceParamDefault changes one param default of the live catalog for one test.
func replaceParamDefault(t *testing.T, action, param, def string) {
	t.Helper()
	live := runbooks.Catalog[action]
	changed := live
	changed.Params = append([]runbooks.ActionParam(nil), live.Params...)
	for i := range changed.Params {
		if changed.Params[i].Name == param {
			changed.Params[i].Default = def
		}
	}
	runbooks.Catalog[action] = changed
	t.Cleanup(func() { runbooks.Catalog[action] = live })
}

// TestActivityActionNamesAreTheCatalogs: the activities package names its actions with its
// own constants; each must be a catalog action that runs as an activity.
func TestActivityActionNamesAreTheCatalogs(t *testing.T) {
	for _, name := range []string{
		activities.ActionGatewaySwitch, activities.ActionGatewayRestore, activities.ActionGatewayBlock,
		activities.ActionGatewayUnblock, activities.ActionTrafficSnapshot, activities.ActionPromptsChanges,
		activities.ActionPromptsFreeze, activities.ActionPromptsUnfreeze, activities.ActionPromptsRollback,
		activities.ActionNotify,
	} {
		a, ok := runbooks.Catalog[name]
		if assert.True(t, ok, "%s is not in the catalog", name) {
			assert.Equal(t, runbooks.KindActivity, a.Kind, name)
		}
	}
}

package ingest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/alert"
)

// TestEagerStartCarriesTheFirstCommitsAlerts: a new group's first commit is one eager start
// with the alerts in the input, no signal; the next commit of the known group is a plain
// signal (nothing to prepare or encode).
func TestEagerStartCarriesTheFirstCommitsAlerts(t *testing.T) {
	fake := newFakeTemporal()
	d := newTestDispatcher(t, fake, DispatchOptions{EagerStart: true})
	first := dispatchOne(t, d, routed(t, providerAlert("g1", "fp-1", alert.StatusFiring)))
	assert.Equal(t, ResultStarted, first.Result)
	assert.NotEmpty(t, first.RunID)
	second := dispatchOne(t, d, routed(t, providerAlert("g1", "fp-2", alert.StatusFiring)))
	assert.Equal(t, ResultSignalled, second.Result)
	assert.Equal(t, first.RunID, second.RunID, "the answer names the run the signal reached")

	calls := fake.callsOf("")
	require.Len(t, calls, 2)
	assert.Equal(t, "Start", calls[0].method)
	assert.Equal(t, "Signal", calls[1].method, "a group this process knows running is signalled at once")
	inc := fake.incidents[first.WorkflowID]
	require.NotNil(t, inc)
	assert.True(t, inc.input.AlertSignalled, "the input's Alert is not counted on its own: Alerts carry it")
	require.Len(t, inc.input.Alerts, 1)
	assert.Equal(t, map[string]int{"fp-1": 1, "fp-2": 1}, fingerprints(fake.received(first.WorkflowID)))
}

// TestEagerStartOfARunningIncidentFallsBackToASignal: another process started the group's
// incident; the eager start finds it running, drops its input and the alerts go by
// signal-with-start, once.
func TestEagerStartOfARunningIncidentFallsBackToASignal(t *testing.T) {
	fake := newFakeTemporal()
	other := newTestDispatcher(t, fake, DispatchOptions{})
	d := newTestDispatcher(t, fake, DispatchOptions{EagerStart: true})
	assert.Equal(t, ResultStarted, dispatchOne(t, other, routed(t, providerAlert("g1", "fp-1", alert.StatusFiring))).Result)

	out := dispatchOne(t, d, routed(t, providerAlert("g1", "fp-2", alert.StatusFiring)))
	assert.Equal(t, ResultSignalled, out.Result)
	calls := fake.callsOf("")
	require.Len(t, calls, 3)
	assert.Equal(t, []string{"SignalWithStart", "Start", "SignalWithStart"}, []string{calls[0].method, calls[1].method, calls[2].method})
	assert.Equal(t, map[string]int{"fp-1": 1, "fp-2": 1}, fingerprints(fake.received(out.WorkflowID)), "every alert exactly once")
}

// TestEagerStartStormKeepsOneIncidentPerGroup: many concurrent alerts over several groups,
// with eager start: one incident per group, every alert received exactly once.
func TestEagerStartStormKeepsOneIncidentPerGroup(t *testing.T) {
	fake := newFakeTemporal()
	d := newTestDispatcher(t, fake, DispatchOptions{EagerStart: true, MaxConcurrentCommits: 4})
	const groups, perGroup = 6, 60
	var wg sync.WaitGroup
	errs := make(chan error, groups*perGroup)
	for i := range perGroup {
		for g := range groups {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := providerAlert(fmt.Sprintf("g%d", g), fmt.Sprintf("fp-%d-%d", g, i), alert.StatusFiring)
				if _, err := d.Dispatch(context.Background(), []Routed{routed(t, a)}); err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	require.Len(t, fake.incidents, groups)
	starts := 0
	for _, c := range fake.callsOf("Start") {
		starts++
		assert.NotEmpty(t, c.alerts)
	}
	assert.Equal(t, groups, starts, "one eager start per group, then signals")
	assert.Empty(t, fake.callsOf("SignalWithStart"), "no group was found running by surprise")
	for g := range groups {
		id := routed(t, providerAlert(fmt.Sprintf("g%d", g), "x", alert.StatusFiring)).WorkflowID
		got := fingerprints(fake.received(id))
		assert.Len(t, got, perGroup, "group %d", g)
		for fp, n := range got {
			assert.Equal(t, 1, n, "alert %s", fp)
		}
	}
}

// TestEagerStartWithoutTheProbeRefuses: a client that cannot say whether a start created
// the incident could count alerts twice if they were also signalled: the commit fails
// instead (a wiring mistake, never silent).
func TestEagerStartWithoutTheProbeRefuses(t *testing.T) {
	fake := newFakeTemporal()
	fake.silent = true
	d := newTestDispatcher(t, fake, DispatchOptions{EagerStart: true})
	_, err := d.Dispatch(context.Background(), []Routed{routed(t, providerAlert("g1", "fp-1", alert.StatusFiring))})
	require.ErrorContains(t, err, "ClientDialOption")
	assert.Empty(t, fake.callsOf("SignalWithStart"), "no signal after an ambiguous start")
}

// TestKnownGroupsAreBounded: the set of groups known running never grows past its bound.
func TestKnownGroupsAreBounded(t *testing.T) {
	d := newTestDispatcher(t, newFakeTemporal(), DispatchOptions{EagerStart: true, KnownGroups: 3})
	for i := range 10 {
		d.markRunning(fmt.Sprintf("inc-%d", i), "run")
		assert.LessOrEqual(t, len(d.running), 3)
	}
	assert.True(t, d.knownRunning("inc-9"))
}

// TestAKnownIncidentThatClosedIsStartedAgain: the signal to an incident this process knew
// running finds it closed (delivering nothing); the same commit's signal-with-start starts
// a new one, and the alert is counted there, once.
func TestAKnownIncidentThatClosedIsStartedAgain(t *testing.T) {
	fake := newFakeTemporal()
	d := newTestDispatcher(t, fake, DispatchOptions{EagerStart: true})
	first := dispatchOne(t, d, routed(t, providerAlert("g1", "fp-1", alert.StatusFiring)))
	require.Equal(t, ResultStarted, first.Result)
	fake.mu.Lock()
	delete(fake.incidents, first.WorkflowID) // it closed
	fake.mu.Unlock()

	again := dispatchOne(t, d, routed(t, providerAlert("g1", "fp-2", alert.StatusFiring)))
	assert.Equal(t, ResultStarted, again.Result)
	calls := fake.callsOf("")
	require.Len(t, calls, 3)
	assert.Equal(t, []string{"Start", "Signal", "SignalWithStart"}, []string{calls[0].method, calls[1].method, calls[2].method})
	assert.Equal(t, map[string]int{"fp-2": 1}, fingerprints(fake.received(first.WorkflowID)), "the new run holds the alert once")
}

// TestAKnownIncidentThatContinuedAsNewIsReachedByItsNewRun: the signal goes to the run this
// process knows; after a continue-as-new that run is closed, the signal delivers nothing,
// and the signal-with-start that follows reaches (and names) the new run.
func TestAKnownIncidentThatContinuedAsNewIsReachedByItsNewRun(t *testing.T) {
	fake := newFakeTemporal()
	d := newTestDispatcher(t, fake, DispatchOptions{EagerStart: true})
	first := dispatchOne(t, d, routed(t, providerAlert("g1", "fp-1", alert.StatusFiring)))
	fake.mu.Lock()
	fake.incidents[first.WorkflowID].runID = "run-continued"
	fake.mu.Unlock()

	next := dispatchOne(t, d, routed(t, providerAlert("g1", "fp-2", alert.StatusFiring)))
	assert.Equal(t, ResultSignalled, next.Result)
	assert.Equal(t, "run-continued", next.RunID)
	assert.Equal(t, map[string]int{"fp-1": 1, "fp-2": 1}, fingerprints(fake.received(first.WorkflowID)))
	last := dispatchOne(t, d, routed(t, providerAlert("g1", "fp-3", alert.StatusFiring)))
	assert.Equal(t, "run-continued", last.RunID, "the new run is the known one now")
	methods := []string{}
	for _, c := range fake.callsOf("") {
		methods = append(methods, c.method)
	}
	assert.Equal(t, []string{"Start", "Signal", "SignalWithStart", "Signal"}, methods)
}

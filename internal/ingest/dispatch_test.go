package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

func newTestDispatcher(t *testing.T, fake *fakeTemporal, opts DispatchOptions) *Dispatcher {
	t.Helper()
	return NewDispatcher(fake, incidents.New(nil, builtinRunbooks(t), "default"), opts)
}

func dispatchOne(t *testing.T, d *Dispatcher, r Routed) Outcome {
	t.Helper()
	out, err := d.Dispatch(context.Background(), []Routed{r})
	require.NoError(t, err)
	require.Len(t, out, 1)
	return out[0]
}

// alertsIn flattens what the given calls carried.
func alertsIn(calls []fakeCall) []alert.Alert {
	var out []alert.Alert
	for _, c := range calls {
		out = append(out, c.alerts...)
	}
	return out
}

func fingerprints(alerts []alert.Alert) map[string]int {
	out := map[string]int{}
	for _, a := range alerts {
		out[a.Fingerprint]++
	}
	return out
}

// TestConcurrentAlertsCoalesceIntoOneCommit: while the first alert's commit is in flight,
// the next 49 queue, and one signal-with-start carries them all.
func TestConcurrentAlertsCoalesceIntoOneCommit(t *testing.T) {
	fake := newFakeTemporal()
	d := newTestDispatcher(t, fake, DispatchOptions{})
	entered, release := fake.holdCalls()
	defer release()

	first := make(chan Outcome, 1)
	go func() { first <- dispatchOne(t, d, routed(t, providerAlert("g1", "fp-0", alert.StatusFiring))) }()
	<-entered // the first commit is in flight

	var tickets []ticket
	for i := 1; i < 50; i++ {
		tk, err := d.enqueue([]Routed{routed(t, providerAlert("g1", fmt.Sprintf("fp-%d", i), alert.StatusFiring))})
		require.NoError(t, err)
		tickets = append(tickets, tk...)
	}
	release()
	rest, err := d.await(context.Background(), tickets)
	require.NoError(t, err)

	assert.Equal(t, ResultStarted, (<-first).Result, "the first commit started the incident")
	for _, o := range rest {
		assert.Equal(t, ResultSignalled, o.Result, o.Alert.Fingerprint)
	}
	calls := fake.callsOf("")
	require.Len(t, calls, 2, "one commit in flight, one carrying everything that queued meanwhile")
	assert.Len(t, calls[1].alerts, 49)
	for _, c := range calls {
		assert.Equal(t, "SignalWithStart", c.method)
		assert.Equal(t, workflows.SignalAlerts, c.signal)
	}
	id := routed(t, providerAlert("g1", "fp-0", alert.StatusFiring)).WorkflowID
	got := fingerprints(fake.received(id))
	assert.Len(t, got, 50)
	for fp, n := range got {
		assert.Equal(t, 1, n, "alert %s must be in exactly one commit", fp)
	}
	assert.Zero(t, d.pending(), "nothing left queued")
}

// TestManyConcurrentAlertsAllLandOnce hammers several incidents from many goroutines:
// every alert lands in exactly one commit of its own incident, never more commits than
// alerts.
func TestManyConcurrentAlertsAllLandOnce(t *testing.T) {
	fake := newFakeTemporal()
	d := newTestDispatcher(t, fake, DispatchOptions{MaxConcurrentCommits: 4})
	const groups, perGroup = 5, 80
	var wg sync.WaitGroup
	errs := make(chan error, groups*perGroup)
	for g := range groups {
		for i := range perGroup {
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
		t.Error(err)
	}

	calls := fake.callsOf("")
	assert.LessOrEqual(t, len(calls), groups*perGroup)
	assert.Len(t, fake.callsOf("Signal"), 0, "firing alerts always signal-with-start")
	for g := range groups {
		id := routed(t, providerAlert(fmt.Sprintf("g%d", g), "x", alert.StatusFiring)).WorkflowID
		got := fingerprints(fake.received(id))
		assert.Len(t, got, perGroup, "group %d", g)
		for fp, n := range got {
			assert.Equal(t, 1, n, "alert %s must be in exactly one commit", fp)
		}
	}
	assert.LessOrEqual(t, fake.maxInFlight, 4, "commits in flight are bounded")
}

func TestResolvedAlertsNeverStartAnIncident(t *testing.T) {
	fake := newFakeTemporal()
	d := newTestDispatcher(t, fake, DispatchOptions{})

	resolved := routed(t, providerAlert("g1", "fp1", alert.StatusResolved))
	assert.Equal(t, ResultResolvedWithoutIncident, dispatchOne(t, d, resolved).Result)
	assert.Empty(t, fake.callsOf("SignalWithStart"), "a resolved alert must not start anything")
	assert.Len(t, fake.callsOf("Signal"), 1)

	firing := routed(t, providerAlert("g1", "fp1", alert.StatusFiring))
	o := dispatchOne(t, d, firing)
	assert.Equal(t, ResultStarted, o.Result)
	assert.NotEmpty(t, o.RunID)

	assert.Equal(t, ResultSignalled, dispatchOne(t, d, resolved).Result, "the running incident hears it resolve")
	assert.Len(t, fake.callsOf("SignalWithStart"), 1)
	assert.Equal(t, []string{alert.StatusFiring, alert.StatusResolved}, statuses(fake.received(firing.WorkflowID)))
}

// TestStartInputComesFromTheFirstFiringAlert: a batch mixing resolved and firing alerts
// starts the incident from its first firing one, marked as also carried by the signal.
func TestStartInputComesFromTheFirstFiringAlert(t *testing.T) {
	fake := newFakeTemporal()
	d := newTestDispatcher(t, fake, DispatchOptions{})
	a := providerAlert("g1", "fp2", alert.StatusFiring)
	a.Labels["route"] = "summarize"
	out, err := d.Dispatch(context.Background(), []Routed{
		routed(t, providerAlert("g1", "fp1", alert.StatusResolved)), routed(t, a),
	})
	require.NoError(t, err)
	assert.Equal(t, ResultStarted, out[1].Result)

	in := fake.incidents[out[1].WorkflowID].input
	require.NotNil(t, in.Alert)
	assert.Equal(t, "fp2", in.Alert.Fingerprint)
	assert.True(t, in.AlertSignalled)
	assert.Equal(t, "summarize", in.Params["route"], "params resolve from the starting alert")
	assert.Equal(t, SourceAlertmanager, in.Requester)
	assert.Equal(t, SourceAlertmanager, in.Source)
}

func TestFailedCommitFailsEveryWaiterAndIsNotRemembered(t *testing.T) {
	fake := newFakeTemporal()
	d := newTestDispatcher(t, fake, DispatchOptions{})
	fake.setFail(serviceerror.NewUnavailable("connection refused"))
	entered, release := fake.holdCalls()

	first := make(chan error, 1)
	a0 := routed(t, providerAlert("g1", "fp-0", alert.StatusFiring))
	go func() {
		_, err := d.Dispatch(context.Background(), []Routed{a0})
		first <- err
	}()
	<-entered
	var batch []Routed
	var tickets []ticket
	for i := 1; i <= 10; i++ {
		r := routed(t, providerAlert("g1", fmt.Sprintf("fp-%d", i), alert.StatusFiring))
		batch = append(batch, r)
		tk, err := d.enqueue([]Routed{r})
		require.NoError(t, err)
		tickets = append(tickets, tk...)
	}
	release()

	assert.ErrorIs(t, <-first, ErrUnavailable)
	for _, tk := range tickets {
		_, err := d.await(context.Background(), []ticket{tk})
		assert.ErrorIs(t, err, ErrUnavailable, "every waiter of the failed commit gets its error")
	}

	fake.setFail(nil)
	out, err := d.Dispatch(context.Background(), append([]Routed{a0}, batch...))
	require.NoError(t, err)
	for _, o := range out {
		assert.NotEqual(t, ResultDeduplicated, o.Result, "a failed commit must not make the retry look like a duplicate")
	}
	assert.Len(t, fake.received(a0.WorkflowID), 11)
}

func TestIdenticalResendsAreAcknowledgedWithoutASignal(t *testing.T) {
	fake := newFakeTemporal()
	clock := &fakeClock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	d := newTestDispatcher(t, fake, DispatchOptions{Now: clock.Now})
	a := providerAlert("g1", "fp1", alert.StatusFiring)

	assert.Equal(t, ResultStarted, dispatchOne(t, d, routed(t, a)).Result)
	for range 5 {
		assert.Equal(t, ResultDeduplicated, dispatchOne(t, d, routed(t, a)).Result)
	}
	assert.Len(t, fake.callsOf(""), 1, "re-sends within the window send nothing")

	changed := providerAlert("g1", "fp1", alert.StatusFiring)
	changed.Annotations["summary"] = "provider errors above 20%"
	assert.Equal(t, ResultSignalled, dispatchOne(t, d, routed(t, changed)).Result, "a changed annotation is news")
	resolved := providerAlert("g1", "fp1", alert.StatusResolved)
	assert.Equal(t, ResultSignalled, dispatchOne(t, d, routed(t, resolved)).Result, "a status change is news")
	assert.Equal(t, ResultDeduplicated, dispatchOne(t, d, routed(t, resolved)).Result)

	clock.Advance(11 * time.Minute)
	assert.Equal(t, ResultSignalled, dispatchOne(t, d, routed(t, resolved)).Result, "past the window a re-send is signalled again")
	assert.Len(t, fake.received(routed(t, a).WorkflowID), 4)
}

// TestIdenticalSendsInOneBatchAreSentOnce: identical alerts queued together (or joining the
// commit in flight) ride on one copy, and each request still waits for that commit.
func TestIdenticalSendsInOneBatchAreSentOnce(t *testing.T) {
	fake := newFakeTemporal()
	d := newTestDispatcher(t, fake, DispatchOptions{})
	entered, release := fake.holdCalls()
	defer release()
	a := routed(t, providerAlert("g1", "fp1", alert.StatusFiring))

	first := make(chan Outcome, 1)
	go func() { first <- dispatchOne(t, d, a) }()
	<-entered
	var tickets []ticket
	for range 3 { // join the commit in flight
		tk, err := d.enqueue([]Routed{a})
		require.NoError(t, err)
		tickets = append(tickets, tk...)
	}
	b := routed(t, providerAlert("g1", "fp2", alert.StatusFiring))
	for range 3 { // queue once, join twice
		tk, err := d.enqueue([]Routed{b})
		require.NoError(t, err)
		tickets = append(tickets, tk...)
	}
	release()
	out, err := d.await(context.Background(), tickets)
	require.NoError(t, err)

	assert.Equal(t, ResultStarted, (<-first).Result)
	results := map[string]int{}
	for _, o := range out {
		results[o.Result]++
	}
	assert.Equal(t, map[string]int{ResultDeduplicated: 5, ResultSignalled: 1}, results)
	assert.Equal(t, map[string]int{"fp1": 1, "fp2": 1}, fingerprints(fake.received(a.WorkflowID)))
}

func TestUnstartableAlertsAreReportedNotLost(t *testing.T) {
	fake := newFakeTemporal()
	refuse := func(a alert.Alert) error {
		if a.Labels["route"] == "" {
			return errors.New(`param "route" is required`)
		}
		return nil
	}
	p := refusingPreparer{Preparer: incidents.New(nil, builtinRunbooks(t), "default"), refuse: refuse}
	d := NewDispatcher(fake, p, DispatchOptions{})
	bare := providerAlert("g1", "fp1", alert.StatusFiring)
	delete(bare.Labels, "route")

	o := dispatchOne(t, d, routed(t, bare))
	assert.Equal(t, ResultNotStarted, o.Result)
	assert.ErrorContains(t, o.StartErr, `param "route" is required`)
	assert.Empty(t, fake.callsOf("SignalWithStart"))
	assert.Equal(t, ResultNotStarted, dispatchOne(t, d, routed(t, bare)).Result, "a re-send is looked at again, not taken for a duplicate")

	assert.Equal(t, ResultStarted, dispatchOne(t, d, routed(t, providerAlert("g1", "fp2", alert.StatusFiring))).Result)
	bare.Fingerprint = "fp3"
	assert.Equal(t, ResultSignalled, dispatchOne(t, d, routed(t, bare)).Result, "a running incident still hears it")
}

func TestQueuePerIncidentIsBounded(t *testing.T) {
	fake := newFakeTemporal()
	d := newTestDispatcher(t, fake, DispatchOptions{MaxQueuedPerIncident: 3, MaxBatchAlerts: 2})
	entered, release := fake.holdCalls()
	defer release()
	go func() {
		_, _ = d.Dispatch(context.Background(), []Routed{routed(t, providerAlert("g1", "fp-0", alert.StatusFiring))})
	}()
	<-entered

	var tickets []ticket
	for i := 1; i <= 3; i++ {
		tk, err := d.enqueue([]Routed{routed(t, providerAlert("g1", fmt.Sprintf("fp-%d", i), alert.StatusFiring))})
		require.NoError(t, err)
		tickets = append(tickets, tk...)
	}
	_, err := d.enqueue([]Routed{routed(t, providerAlert("g1", "fp-4", alert.StatusFiring))})
	assert.ErrorIs(t, err, ErrBusy)
	_, err = d.enqueue([]Routed{routed(t, providerAlert("g2", "fp-4", alert.StatusFiring))})
	assert.NoError(t, err, "another incident is not held up")

	release()
	_, err = d.await(context.Background(), tickets)
	require.NoError(t, err)
	var sizes []int
	for _, c := range fake.callsOf("") {
		if c.workflowID == tickets[0].routed.WorkflowID {
			sizes = append(sizes, len(c.alerts))
		}
	}
	assert.Equal(t, []int{1, 2, 1}, sizes, "batches are cut at MaxBatchAlerts")
}

func statuses(alerts []alert.Alert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Status)
	}
	return out
}

// TestFlipBackIsNotTakenForAResend: firing, resolved, firing again is three sends, even
// while the earlier ones wait or commit, so the incident ends up seeing the alert firing.
func TestFlipBackIsNotTakenForAResend(t *testing.T) {
	fake := newFakeTemporal()
	d := newTestDispatcher(t, fake, DispatchOptions{})
	firing := routed(t, providerAlert("g1", "fp1", alert.StatusFiring))
	resolved := routed(t, providerAlert("g1", "fp1", alert.StatusResolved))
	assert.Equal(t, ResultStarted, dispatchOne(t, d, firing).Result)

	entered, release := fake.holdCalls()
	defer release()
	inflight := make(chan Outcome, 1)
	go func() { inflight <- dispatchOne(t, d, resolved) }()
	<-entered // resolved commits now; firing was committed just before
	var tickets []ticket
	for _, r := range []Routed{firing, resolved, firing} {
		tk, err := d.enqueue([]Routed{r})
		require.NoError(t, err)
		tickets = append(tickets, tk...)
	}
	release()
	out, err := d.await(context.Background(), tickets)
	require.NoError(t, err)

	assert.Equal(t, ResultSignalled, (<-inflight).Result)
	for i, o := range out {
		assert.Equal(t, ResultSignalled, o.Result, "send %d is news, not a re-send", i)
	}
	assert.Equal(t, []string{"firing", "resolved", "firing", "resolved", "firing"}, statuses(fake.received(firing.WorkflowID)))
}

func TestDedupMemoryIsBounded(t *testing.T) {
	fake := newFakeTemporal()
	d := newTestDispatcher(t, fake, DispatchOptions{DedupCapacity: 2})
	a, b, c := routed(t, providerAlert("g1", "a", alert.StatusFiring)), routed(t, providerAlert("g1", "b", alert.StatusFiring)), routed(t, providerAlert("g1", "c", alert.StatusFiring))
	for _, r := range []Routed{a, b, c} {
		dispatchOne(t, d, r)
	}
	assert.Equal(t, 2, d.recent.len())
	assert.Equal(t, ResultDeduplicated, dispatchOne(t, d, c).Result)
	assert.Equal(t, ResultSignalled, dispatchOne(t, d, a).Result, "the least recent alert was forgotten: signalled again, never lost")
}

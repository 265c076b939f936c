package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/runbooks"
)

// alertSequence is a group's life as ingest sees it: a storm of re-sends of one alert, a
// second alert, then both resolving.
func alertSequence() []alert.Alert {
	firing1 := alert.Alert{Source: "alertmanager", Key: "g1", Fingerprint: "fp1", Status: alert.StatusFiring, Title: "errors high"}
	firing2 := firing1
	firing2.Fingerprint = "fp2"
	resolved1, resolved2 := firing1, firing2
	resolved1.Status, resolved2.Status = alert.StatusResolved, alert.StatusResolved
	var seq []alert.Alert
	for range 20 {
		seq = append(seq, firing1)
	}
	return append(seq, firing2, resolved1, resolved2)
}

// runWithAlerts runs a wait.resolved incident started by the first alert of seq and feeds
// it the rest one minute in, through send; the status is read just after.
func runWithAlerts(t *testing.T, seq []alert.Alert, send func(h *harness, alerts []alert.Alert)) (during, final Status) {
	h := newHarness(t)
	h.at(time.Minute, func() { send(h, seq) })
	h.at(2*time.Minute, func() { during = h.status() })
	in := testInput(testSpec(runbooks.Step{ID: "recovered", Action: runbooks.ActionWaitResolved, Timeout: runbooks.Duration(time.Hour)}))
	in.Alert = &seq[0]
	return during, h.run(in)
}

func TestAlertBatchCountsLikeSingleAlerts(t *testing.T) {
	seq := alertSequence()
	_, singles := runWithAlerts(t, seq, func(h *harness, alerts []alert.Alert) {
		for _, a := range alerts {
			h.env.SignalWorkflow(SignalAlert, a)
		}
	})
	_, batched := runWithAlerts(t, seq, func(h *harness, alerts []alert.Alert) {
		h.env.SignalWorkflow(SignalAlerts, alerts[:10])
		h.env.SignalWorkflow(SignalAlerts, alerts[10:])
	})

	assert.Equal(t, StateResolved, batched.State, "the batch's resolved alerts move wait.resolved on")
	assert.Equal(t, withoutTimes(singles.Alerts), withoutTimes(batched.Alerts))
	assert.Equal(t, AlertSummary{Received: len(seq) + 1, Distinct: 4, Firing: 0}, withoutTimes(batched.Alerts))
	assert.Equal(t, len(eventsOf(singles, EventAlert, "")), len(eventsOf(batched, EventAlert, "")))
	assert.Len(t, eventsOf(batched, EventAlert, ""), 3, "re-sends of a known alert stay off the timeline")
}

// TestSignalledStartAlertIsCountedOnce: ingest starts an incident with signal-with-start,
// whose signal carries the start alert again; it must count once.
func TestSignalledStartAlertIsCountedOnce(t *testing.T) {
	seq := alertSequence()
	h := newHarness(t)
	var afterStart Status
	// At time zero the start's signal is already buffered, as with signal-with-start.
	h.at(0, func() { h.env.SignalWorkflow(SignalAlerts, seq[:1]) })
	h.at(time.Minute, func() { afterStart = h.status() })
	h.at(2*time.Minute, func() { h.env.SignalWorkflow(SignalAlerts, seq[len(seq)-2:]) })
	in := testInput(testSpec(runbooks.Step{ID: "recovered", Action: runbooks.ActionWaitResolved, Timeout: runbooks.Duration(time.Hour)}))
	in.Alert, in.AlertSignalled = &seq[0], true

	st := h.run(in)

	assert.Equal(t, AlertSummary{Received: 1, Distinct: 1, Firing: 1}, withoutTimes(afterStart.Alerts))
	assert.Len(t, eventsOf(afterStart, EventAlert, ""), 1)
	assert.Equal(t, "errors high is firing", eventsOf(afterStart, EventAlert, "")[0].Text, "the kind says alert; the text does not repeat it")
	assert.Equal(t, StateResolved, st.State)
	assert.Equal(t, AlertSummary{Received: 3, Distinct: 3, Firing: 0}, withoutTimes(st.Alerts))
}

// TestStartAlertAddsToAlertsSignalledAtStart: alerts handled before the start alert is
// recorded (the listener runs first) are kept, not overwritten.
func TestStartAlertAddsToAlertsSignalledAtStart(t *testing.T) {
	seq := alertSequence()
	firing2 := seq[20]
	h := newHarness(t)
	var afterStart Status
	h.at(0, func() { h.env.SignalWorkflow(SignalAlerts, []alert.Alert{firing2, firing2}) })
	h.at(time.Minute, func() { afterStart = h.status() })
	in := testInput(testSpec(runbooks.Step{ID: "settle", Action: runbooks.ActionWaitDuration, With: map[string]string{"for": "5m"}}))
	in.Alert = &seq[0]

	h.run(in)

	assert.Equal(t, AlertSummary{Received: 3, Distinct: 2, Firing: 2}, withoutTimes(afterStart.Alerts))
}

// A sender with ever new fingerprints must not grow the state without end: past
// Limits.MaxTrackedAlerts resolved fingerprints are forgotten first, and a new firing one
// while all tracked still fire is counted as untracked, once on the timeline.
func TestTrackedAlertsAreBounded(t *testing.T) {
	fire := func(fp string) alert.Alert {
		return alert.Alert{Source: "alertmanager", Key: "g1", Fingerprint: fp, Status: alert.StatusFiring, Title: fp}
	}
	resolve := func(fp string) alert.Alert { a := fire(fp); a.Status = alert.StatusResolved; return a }

	h := newHarness(t)
	var full, afterPrune Status
	h.at(time.Minute, func() {
		h.env.SignalWorkflow(SignalAlerts, []alert.Alert{fire("fp2"), fire("fp3"), fire("fp4"), fire("fp5"), resolve("fp6")})
	})
	h.at(2*time.Minute, func() { full = h.status() })
	h.at(3*time.Minute, func() {
		h.env.SignalWorkflow(SignalAlerts, []alert.Alert{resolve("fp1"), fire("fp7")})
	})
	h.at(4*time.Minute, func() { afterPrune = h.status() })
	h.at(5*time.Minute, func() {
		h.env.SignalWorkflow(SignalAlerts, []alert.Alert{resolve("fp2"), resolve("fp3"), resolve("fp7")})
	})
	in := testInput(testSpec(runbooks.Step{ID: "recovered", Action: runbooks.ActionWaitResolved, Timeout: runbooks.Duration(time.Hour)}))
	start := fire("fp1")
	in.Alert = &start
	in.Limits = &Limits{MaxTrackedAlerts: 3}
	st := h.run(in)

	// fp1 (the start), fp2, fp3 are tracked; fp4, fp5 fire untracked; fp6 resolves unseen.
	assert.Equal(t, AlertSummary{Received: 6, Distinct: 3, Firing: 3, Untracked: 2}, withoutTimes(full.Alerts))
	assert.Len(t, eventsOf(full, EventAlert, ""), 2+1, "fp2 and fp3 (the start alert has no line of its own) and one line saying new ones go untracked")
	// fp1 resolves (tracked); fp7 then takes its place once resolved ones are forgotten.
	assert.Equal(t, AlertSummary{Received: 8, Distinct: 5, Firing: 3, Untracked: 2}, withoutTimes(afterPrune.Alerts))
	assert.Equal(t, StateResolved, st.State, "the tracked alerts resolving resolves the incident")
	assert.Equal(t, 0, st.Alerts.Firing)
}

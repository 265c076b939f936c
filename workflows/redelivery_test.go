package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/runbooks"
)

// TestRedeliveredAlertsChangeNothing: the ingest inbox delivers a batch again after a crash
// between Temporal's acknowledgement and its delete. The batch holds a flap (fp1 firing
// then resolved), so the fingerprint/status dedup alone would count fp1 firing again; the
// delivery tags make the second delivery change nothing, not even the received count. A
// newer row, and a row of another process, still count.
func TestRedeliveredAlertsChangeNothing(t *testing.T) {
	fire := func(fp, delivery string) alert.Alert {
		return alert.Alert{Source: "alertmanager", Key: "g1", Fingerprint: fp, Status: alert.StatusFiring, Title: fp, Delivery: delivery}
	}
	resolve := func(fp, delivery string) alert.Alert {
		a := fire(fp, delivery)
		a.Status = alert.StatusResolved
		return a
	}
	batch := []alert.Alert{fire("fp1", "p1/1"), resolve("fp1", "p1/2"), fire("fp2", "p1/3")}

	h := newHarness(t)
	var once, twice, later Status
	h.at(time.Minute, func() { h.env.SignalWorkflow(SignalAlerts, batch) })
	h.at(2*time.Minute, func() { once = h.status() })
	h.at(3*time.Minute, func() { h.env.SignalWorkflow(SignalAlerts, batch) })
	h.at(4*time.Minute, func() { twice = h.status() })
	h.at(5*time.Minute, func() {
		h.env.SignalWorkflow(SignalAlerts, []alert.Alert{fire("fp1", "p1/4"), resolve("fp2", "p2/1")})
	})
	h.at(6*time.Minute, func() { later = h.status() })
	in := testInput(testSpec(runbooks.Step{ID: "settle", Action: runbooks.ActionWaitDuration, With: map[string]string{"for": "10m"}}))
	h.run(in)

	assert.Equal(t, AlertSummary{Received: 3, Distinct: 3, Firing: 1}, withoutTimes(once.Alerts))
	assert.Equal(t, withoutTimes(once.Alerts), withoutTimes(twice.Alerts), "the re-delivery counts nothing")
	assert.Equal(t, len(eventsOf(once, EventAlert, "")), len(eventsOf(twice, EventAlert, "")), "the re-delivery adds nothing to the timeline")
	assert.Equal(t, AlertSummary{Received: 5, Distinct: 5, Firing: 1}, withoutTimes(later.Alerts), "a newer row and another process's row count")
}

package workflows

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/runbooks"
)

// startTrace records what a run did besides its steps: local activities by name, regular
// activities by name, and every search-attribute upsert.
type startTrace struct {
	mu       sync.Mutex
	local    []string
	remote   []string
	upserted []temporal.SearchAttributes
}

func traceStart(h *harness) *startTrace {
	tr := &startTrace{}
	h.env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		tr.local = append(tr.local, info.ActivityType.Name)
	})
	h.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		tr.remote = append(tr.remote, info.ActivityType.Name)
	})
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil).Run(func(args mock.Arguments) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		tr.upserted = append(tr.upserted, args.Get(0).(temporal.SearchAttributes))
	})
	return tr
}

func (tr *startTrace) upsertedKey(key temporal.SearchAttributeKey) bool {
	for _, sa := range tr.upserted {
		if sa.ContainsKey(key) {
			return true
		}
	}
	return false
}

// TestRevisionOneStartsWithoutRoundTrips: with the policy in the input and revision 1, the
// first run loads no policy, repeats no search attribute the start set, and reads the
// route in a local activity before the switch, whose params still carry what it read.
func TestRevisionOneStartsWithoutRoundTrips(t *testing.T) {
	h := newHarness(t)
	tr := traceStart(h)
	in := testInput(testSpec(switchStep("failover")))
	policy := h.policy
	policy.People = map[string][]string{"alice": {"cli:alice"}}
	in.Policy, in.Revision = &policy, StartRevision
	h.policy = activities.Policy{} // what a local activity would load: must not be used
	st := h.run(in)

	assert.Equal(t, StateCompleted, st.State)
	assert.Equal(t, "alice", st.RequesterPerson, "the input's policy is the incident's")
	assert.Equal(t, []string{activities.GatewayReadActivity}, tr.local, "the read is the only local activity; no policy load")
	assert.NotContains(t, tr.remote, activities.GatewayReadActivity)
	assert.False(t, tr.upsertedKey(searchRunbookKey), "the start set the runbook; the run does not set it again")
	assert.False(t, tr.upsertedKey(searchShortIDKey))
	assert.True(t, tr.upsertedKey(searchStatusKey), "state changes are still upserted")
	require.Len(t, h.reads, 1)
	assert.Equal(t, mustEncode(t, harnessRouteState), h.callsOf(runbooks.ActionGatewaySwitch)[0].Params["previous"])
}

// TestRevisionZeroKeepsItsCommands: an input without revision or policy (a recorded
// incident, an older starter) loads the policy, sets every search attribute, and reads the
// route with a regular activity, as it always did.
func TestRevisionZeroKeepsItsCommands(t *testing.T) {
	h := newHarness(t)
	tr := traceStart(h)
	st := h.run(testInput(testSpec(switchStep("failover"))))

	assert.Equal(t, StateCompleted, st.State)
	assert.Equal(t, []string{activities.PolicyActivity}, tr.local)
	assert.Contains(t, tr.remote, activities.GatewayReadActivity)
	assert.True(t, tr.upsertedKey(searchRunbookKey))
	assert.True(t, tr.upsertedKey(searchShortIDKey))
}

// TestAlertsInTheInputCountOnce: an eager start from ingest carries its commit's alerts in
// the input (and the first one in Alert, flagged as signalled): each counts once, and a
// later signal of one of them is a repeat.
func TestAlertsInTheInputCountOnce(t *testing.T) {
	h := newHarness(t)
	in := testInput(testSpec(switchStep("failover")))
	a1 := alert.Alert{Source: "alertmanager", Key: "g", Fingerprint: "fp-1", Status: alert.StatusFiring, Title: "one"}
	a2 := alert.Alert{Source: "alertmanager", Key: "g", Fingerprint: "fp-2", Status: alert.StatusFiring, Title: "two"}
	in.Alert, in.AlertSignalled, in.Alerts, in.Revision = &a1, true, []alert.Alert{a1, a2}, StartRevision
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(SignalAlerts, []alert.Alert{a2}) }, 0)
	st := h.run(in)

	assert.Equal(t, 3, st.Alerts.Received)
	assert.Equal(t, 2, st.Alerts.Distinct)
	assert.Equal(t, 2, st.Alerts.Firing)
	assert.Len(t, eventsOf(st, EventAlert, ""), 2, "one timeline line per distinct alert")
}

package workflows

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/internal/trust"
	"github.com/quench-dev/quench/runbooks"
)

// alicePeople: alice approves through the CLI and through Slack.
func alicePeople(t *testing.T) trust.People {
	t.Helper()
	p, err := trust.NewPeople(map[string][]string{"alice": {"cli:alice", "slack:U0123ALICE"}, "bob": {"cli:bob"}})
	require.NoError(t, err)
	return p
}

// refusedEvents are the refusals on the timeline.
func refusedEvents(st Status) []Event { return eventsOf(st, EventDecisionRefused, "") }

func TestUnsignedDecisionIsRefusedAndRecorded(t *testing.T) {
	h := newHarness(t)
	forged := Decision{StepID: "failback", Approver: "mallory-not-in-config", Groups: []string{"sre"}, Verdict: VerdictApprove, Via: "slack"}
	raw := h.rawDecideAt(time.Minute, forged)
	var after Status
	h.at(2*time.Minute, func() { after = h.status() })
	ok := h.decideAt(3*time.Minute, approve("failback", "bob"))
	st := h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}})))

	require.Error(t, raw.refusal())
	assert.Contains(t, raw.refusal().Error(), "no proof from a quench front door")
	require.Len(t, after.Pending, 1)
	assert.Empty(t, after.Pending[0].Approvals, "the raw update changed nothing")
	require.Len(t, refusedEvents(after), 1)
	e := refusedEvents(after)[0]
	assert.Contains(t, e.Text, `"mallory-not-in-config" (unverified)`)
	assert.Empty(t, e.Actor, "an unverified name is not an actor")
	assert.Equal(t, "false", e.Data["verified"])
	assert.NotContains(t, eventsOf(st, EventDecision, "")[0].Text, "mallory")
	assert.Equal(t, "approved", ok.result.Outcome)
}

func TestForgedOrReplayedProofsAreRefused(t *testing.T) {
	h := newHarness(t)
	untrusted := testSigner(t, 9)
	cases := map[string]struct {
		d    *decision
		want string
	}{}
	add := func(name, want string, d *decision) {
		cases[name] = struct {
			d    *decision
			want string
		}{d, want}
	}

	// Signed by a key the incident does not trust.
	h.at(time.Minute, func() {})
	add("untrusted key", "does not trust", h.sendAt(time.Minute, approve("failback", "bob"), func(d Decision) Decision {
		c := ClaimFor(testIncidentID, "cli:bob", d)
		c.At = h.env.Now()
		p := untrusted.Sign(c)
		d.Proof = &p
		return d
	}))
	// Altered after signing: the approver swapped in the claim.
	add("altered claim", "altered or forged", h.sendAt(time.Minute, approve("failback", "mallory"), func(d Decision) Decision {
		d = h.sign(d, nil)
		d.Proof.Claim.Identity = "cli:bob"
		return d
	}))
	add("other incident", "not this one", h.signedAt(time.Minute, approve("failback", "bob"), func(c *trust.Claim) { c.IncidentID = "inc-other-1" }))
	add("verdict changed", "does not match its proof", h.sendAt(time.Minute, approve("failback", "bob"), func(d Decision) Decision {
		d = h.sign(d, nil)
		d.Verdict = VerdictReject
		return d
	}))
	add("stale", "too old", h.signedAt(time.Minute, approve("failback", "bob"), func(c *trust.Claim) { c.At = c.At.Add(-10 * time.Minute) }))
	add("future", "in the future", h.signedAt(time.Minute, approve("failback", "bob"), func(c *trust.Claim) { c.At = c.At.Add(10 * time.Minute) }))
	add("look-alike identity", "mixes", h.signedAt(time.Minute, approve("failback", "bob"), func(c *trust.Claim) { c.Identity = "cli:bоb" }))

	// A valid proof sent twice: the second is a replay.
	var replayed Decision
	first := h.sendAt(2*time.Minute, approve("failback", "bob"), func(d Decision) Decision {
		replayed = h.sign(d, nil)
		return replayed
	})
	second := h.sendAt(3*time.Minute, Decision{}, func(Decision) Decision { return replayed })
	var after Status
	h.at(4*time.Minute, func() { after = h.status() })
	h.decideAt(5*time.Minute, approve("failback", "carol"))
	h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}, Quorum: 2})))

	for name, c := range cases {
		require.True(t, c.d.done, name)
		require.Error(t, c.d.refusal(), name)
		assert.Contains(t, c.d.refusal().Error(), c.want, name)
	}
	require.NoError(t, first.refusal())
	assert.Equal(t, "counted", first.result.Outcome)
	require.Error(t, second.refusal())
	assert.Contains(t, second.refusal().Error(), "already used once")
	require.Len(t, after.Pending, 1)
	assert.Len(t, after.Pending[0].Approvals, 1, "only the first, valid proof counted")
	assert.Len(t, refusedEvents(after), len(cases)+1)
}

func TestSamePersonThroughTwoIdentitiesCountsOnce(t *testing.T) {
	h := newHarness(t)
	h.policy.People = alicePeople(t)
	h.policy.Groups = map[string][]string{"sre": {"alice", "bob"}} // alice the person, bob an identity
	viaCLI := h.decideAt(time.Minute, approve("failback", "alice"))
	viaSlack := h.decideAt(2*time.Minute, Decision{StepID: "failback", Approver: "slack:U0123ALICE", Verdict: VerdictApprove, Via: "slack"})
	var between Status
	h.at(3*time.Minute, func() { between = h.status() })
	bob := h.decideAt(4*time.Minute, approve("failback", "bob"))
	in := testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}, Quorum: 2}))
	in.Requester = "cli:carol"
	st := h.run(in)

	assert.Equal(t, "counted", viaCLI.result.Outcome)
	require.Error(t, viaSlack.refusal())
	assert.Contains(t, viaSlack.refusal().Error(), "each person counts once")
	require.Len(t, between.Pending[0].Approvals, 1)
	assert.Equal(t, "alice", between.Pending[0].Approvals[0].Person)
	require.Len(t, refusedEvents(between), 1)
	assert.Equal(t, "slack:U0123ALICE", refusedEvents(between)[0].Actor)
	assert.Contains(t, refusedEvents(between)[0].Text, "alice (slack:U0123ALICE)")
	assert.Equal(t, "approved", bob.result.Outcome)
	assert.Equal(t, StepDone, stepByID(st, "failback").State)
}

func TestFourEyesComparesPeople(t *testing.T) {
	h := newHarness(t)
	h.policy.People = alicePeople(t)
	h.policy.Groups = map[string][]string{"sre": {"alice", "bob"}}
	// alice started it through the CLI and tries to approve through Slack.
	own := h.decideAt(time.Minute, Decision{StepID: "failback", Approver: "slack:U0123ALICE", Verdict: VerdictApprove, Via: "slack"})
	var after Status
	h.at(2*time.Minute, func() { after = h.status() })
	bob := h.decideAt(3*time.Minute, approve("failback", "bob"))
	st := h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}, FourEyes: true})))

	require.Error(t, own.refusal())
	assert.Contains(t, own.refusal().Error(), "four eyes")
	assert.Equal(t, "alice", st.RequesterPerson)
	assert.Empty(t, after.Pending[0].Approvals)
	require.Len(t, refusedEvents(after), 1)
	assert.Equal(t, "approved", bob.result.Outcome)
	decided := eventsOf(st, EventDecision, "failback")
	require.Len(t, decided, 1)
	assert.Equal(t, "bob approved step failback (gateway.restore) via cli", decided[0].Text)
}

// With no approver groups configured (quench dev) anyone may approve, but never the
// requester under another name, nor a look-alike of it.
func TestOpenGroupsStillFourEyesByPerson(t *testing.T) {
	h := newHarness(t)
	h.policy.Groups = nil
	h.policy.OpenGroups = true
	h.policy.People = alicePeople(t)
	other := h.decideAt(time.Minute, Decision{StepID: "failback", Approver: "slack:U0123ALICE", Verdict: VerdictApprove, Via: "slack"})
	caseChanged := h.decideAt(time.Minute, approve("failback", "ALICE"))
	lookalike := h.signedAt(time.Minute, approve("failback", "alice"), func(c *trust.Claim) { c.Identity = "cli:аlice" }) // Cyrillic а
	ok := h.decideAt(2*time.Minute, approve("failback", "dave"))
	in := testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}, FourEyes: true}))
	in.Requester = "alice" // as the CLI sends it, without a kind
	st := h.run(in)

	for name, d := range map[string]*decision{"other identity": other, "case": caseChanged} {
		require.Error(t, d.refusal(), name)
		assert.Contains(t, d.refusal().Error(), "four eyes", name)
	}
	require.Error(t, lookalike.refusal())
	assert.Contains(t, lookalike.refusal().Error(), "mixes Cyrillic and Latin")
	assert.Equal(t, "approved", ok.result.Outcome)
	assert.Len(t, refusedEvents(st), 3)
}

func TestGroupsComeFromThePolicyNotTheCaller(t *testing.T) {
	spec := gatedFailback(runbooks.Approval{Groups: []string{"sre"}})
	mapped := func(h *harness) {
		h.policy.ExternalGroups = map[string][]string{"slack:S0123SRE": {"sre"}}
	}
	slackUser := func(groups ...string) Decision {
		return Decision{StepID: "failback", Approver: "slack:U999", Groups: groups, Verdict: VerdictApprove, Via: "slack"}
	}

	t.Run("a Slack group the front door verified and the policy maps", func(t *testing.T) {
		h := newHarness(t)
		mapped(h)
		d := h.decideAt(time.Minute, slackUser("slack:S0123SRE"))
		h.run(testInput(spec))
		require.NoError(t, d.refusal())
		assert.Equal(t, "approved", d.result.Outcome)
	})
	for name, tc := range map[string]struct {
		send func(h *harness) *decision
	}{
		"a quench group named by an unsigned caller": {func(h *harness) *decision { return h.rawDecideAt(time.Minute, slackUser("sre")) }},
		"a quench group in a signed claim":           {func(h *harness) *decision { return h.decideAt(time.Minute, slackUser("sre")) }},
		"a Slack group the policy does not map":      {func(h *harness) *decision { return h.decideAt(time.Minute, slackUser("slack:S0OTHER")) }},
		"a Slack group claimed for a CLI identity": {func(h *harness) *decision {
			return h.decideAt(time.Minute, Decision{StepID: "failback", Approver: "mallory", Groups: []string{"slack:S0123SRE"}, Verdict: VerdictApprove, Via: "cli"})
		}},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			mapped(h)
			d := tc.send(h)
			ok := h.decideAt(2*time.Minute, approve("failback", "bob"))
			st := h.run(testInput(spec))
			require.Error(t, d.refusal())
			assert.True(t, strings.Contains(d.refusal().Error(), "not a member of sre") || strings.Contains(d.refusal().Error(), "no proof"), d.refusal().Error())
			assert.Equal(t, "approved", ok.result.Outcome)
			assert.Len(t, refusedEvents(st), 1)
		})
	}
}

// An incident started before decisions were signed has no keys in its policy: its first
// signed decision loads the worker's keys; with none anywhere, nothing counts.
func TestIncidentWithoutKeysLoadsThemOnce(t *testing.T) {
	h := newHarness(t)
	keys := h.policy.DecisionKeys
	h.policy.DecisionKeys = nil
	h.at(30*time.Second, func() {
		h.mu.Lock()
		h.policy.DecisionKeys = keys // the upgraded worker has a key
		h.mu.Unlock()
	})
	d := h.decideAt(time.Minute, approve("failback", "bob"))
	h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}})))
	assert.Equal(t, "approved", d.result.Outcome)

	h = newHarness(t)
	h.policy.DecisionKeys = []ed25519.PublicKey{}
	none := h.decideAt(time.Minute, approve("failback", "bob"))
	h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}, Timeout: runbooks.Duration(time.Hour), OnTimeout: runbooks.OnTimeoutAbort})))
	require.Error(t, none.refusal())
	assert.Contains(t, none.refusal().Error(), "trusts no decision signing key")
}

// The nonces seen travel to the next run: a proof used before continue-as-new is still
// refused after it.
func TestUsedProofsStayUsedAcrossContinueAsNew(t *testing.T) {
	clock := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	h := newHarness(t)
	h.env.SetStartTime(clock)
	var used Decision
	h.sendAt(time.Minute, approve("failback", "bob"), func(d Decision) Decision {
		used = h.sign(d, nil)
		return used
	})
	h.at(2*time.Minute, func() {
		h.env.SetCurrentHistoryLength(100) // past the limit: the waiting gate hands over
		h.env.SignalWorkflow(SignalNote, Note{By: "cli:bob", Text: "wake up"})
	})
	in := testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}, Quorum: 2}))
	in.Limits = &Limits{HistoryLimit: 50} // past it only once the callback says so
	h.env.ExecuteWorkflow(IncidentWorkflowName, in)
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "expected continue-as-new, got %v", h.env.GetWorkflowError())
	var next IncidentInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.Len(t, next.State.Nonces, 1)
	require.Len(t, next.State.Status.Pending, 1)
	require.Len(t, next.State.Status.Pending[0].Approvals, 1, "bob's approval counted before the hand-over")

	h2 := newHarness(t)
	h2.env.SetStartTime(h.env.Now())
	replayed := h2.sendAt(time.Second, Decision{}, func(Decision) Decision { return used })
	h2.decideAt(2*time.Second, approve("failback", "carol"))
	h2.env.ExecuteWorkflow(IncidentWorkflowName, next)
	require.True(t, h2.env.IsWorkflowCompleted())
	require.Error(t, replayed.refusal())
	assert.Contains(t, replayed.refusal().Error(), "already used once")
}

// A keyed signal (a Slack command's trigger_id) is acted on once, whichever quench process
// a replay reached: the second note and the second abort with the same keys change nothing,
// while unkeyed signals (CLI, API) are each acted on.
func TestReplayedRequestsAreActedOnOnce(t *testing.T) {
	h := newHarness(t)
	h.at(time.Minute, func() {
		h.env.SignalWorkflow(SignalNote, Note{By: "slack:UALICE", Text: "rolling back", RequestKey: "slack-command:T1:trig-1"})
		h.env.SignalWorkflow(SignalNote, Note{By: "slack:UALICE", Text: "rolling back", RequestKey: "slack-command:T1:trig-1"})
		h.env.SignalWorkflow(SignalNote, Note{By: "cli:bob", Text: "same words"})
		h.env.SignalWorkflow(SignalNote, Note{By: "cli:bob", Text: "same words"})
	})
	h.at(2*time.Minute, func() {
		h.env.SignalWorkflow(SignalAbort, Abort{By: "slack:UALICE", Reason: "done", RequestKey: "slack-command:T1:trig-2"})
		h.env.SignalWorkflow(SignalAbort, Abort{By: "slack:UALICE", Reason: "done", RequestKey: "slack-command:T1:trig-2"})
	})
	st := h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}})))
	notes := map[string]int{}
	aborts := 0
	for _, e := range st.Timeline {
		switch e.Kind {
		case EventNote:
			notes[e.Actor+": "+e.Text]++
		case EventAborted:
			aborts++
		}
	}
	assert.Equal(t, map[string]int{"slack:UALICE: rolling back": 1, "cli:bob: same words": 2}, notes)
	assert.Equal(t, 1, aborts, "the replayed abort must not abort again")
}

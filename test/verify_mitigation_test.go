package e2e

import (
	"bytes"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/fixtures"
	"github.com/quench-dev/quench/workflows"
)

// mitigationSpeed compresses silent-model-change's and cost-runaway's waits on quench dev:
// the pin's verify polls every 1.5 s over a 15 s window and gives up after 30 s; the
// block's every 0.75 s, giving up after 15 s.
const mitigationSpeed = "20"

// startMitigationStory starts quench dev on the story with traffic after the incident
// window, a request every 200 ms: with holds false the mitigation works (the pinned version
// answers the alias; the blocked agent is refused), with true it does not (the provider
// ignores the pin; the agent is still served). The incident window ends now, so all of the
// after traffic is traffic after the change.
func startMitigationStory(t *testing.T, story string, failing bool) *storyRun {
	t.Helper()
	return startStoryWith(t, story, fixtures.Options{Now: time.Now(), After: 15 * time.Minute, AfterEvery: 200 * time.Millisecond,
		FallbackFailing: failing}, "--speed", mitigationSpeed)
}

// verdictOf checks a verify event's result and returns its text.
func verdictOf(t *testing.T, ev map[string]any, want string) (string, map[string]any) {
	t.Helper()
	data, _ := ev["data"].(map[string]any)
	text, _ := ev["text"].(string)
	if data["result"] != want {
		t.Fatalf("verify %v, want %s", ev, want)
	}
	return text, data
}

// driftOf reads "N of M successful requests for gpt-4o answered by another model than
// gpt-4o-2024-08-06" from a pin's verify line: the real post-pin numbers.
var driftOf = regexp.MustCompile(`(\d+) of (\d+) successful requests for ` + regexp.QuoteMeta(fixtures.RequestModel) +
	` answered by another model than ` + regexp.QuoteMeta(fixtures.BaselineModel) + `.* (since the change|after the change)`)

func checkDrift(t *testing.T, text string) (other, total int) {
	t.Helper()
	m := driftOf.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("verify %q does not give the post-pin answers of %s", text, fixtures.RequestModel)
	}
	other, _ = strconv.Atoi(m[1])
	total, _ = strconv.Atoi(m[2])
	if total < 20 {
		t.Fatalf("verify judged %d requests, want at least 20: %q", total, text)
	}
	return other, total
}

// TestStoriesSilentModelChange: the alert names only the new model. The evidence names the
// dated version the alias answered with in the baseline, the embedded routing table can
// pin, so SRE is asked to pin the alias to it (not to switch provider); after the pin the
// traffic is answered by that version, so the verify passes on the requests sent after
// it; closing asks before the pin is lifted and leaves the route byte for byte as found.
func TestStoriesSilentModelChange(t *testing.T) {
	s := startMitigationStory(t, fixtures.SilentModelChange, false)
	before := s.routeBody(t)
	inc := s.fireAlert(t, "silent-model-change")
	w := s.dev.watch(t, inc.IncidentID)

	w.waitFor(t, workflows.EventApprovalAsked, "pin")
	st := s.status(t, inc.ShortID)
	b, top := s.evidence(t, st, "evidence")
	if c := b.Changes[0]; c.Kind != "new_response_model" || c.Subject != fixtures.PrimaryProvider+"/"+s.fx.Cause.ResponseModel ||
		!strings.Contains(top, fixtures.BaselineModel) {
		t.Fatalf("top change %+v (%s), want the new response model %s against %s", c, top, s.fx.Cause.ResponseModel, fixtures.BaselineModel)
	}
	out := stepOf(t, st, "evidence").Outputs
	if out["request_model"] != fixtures.RequestModel || out["baseline_response_model"] != fixtures.BaselineModel ||
		out["response_model"] != fixtures.ChangedModel {
		t.Fatalf("evidence outputs %v, want %s answered by %s before and %s now", out, fixtures.RequestModel, fixtures.BaselineModel, fixtures.ChangedModel)
	}
	if p := st.Pending[0].Prompt; !strings.Contains(p, "Pin "+fixtures.RequestModel+" to "+fixtures.BaselineModel) {
		t.Errorf("the approver is not asked to pin to the baseline's version: %q", p)
	}
	if got := s.routeBody(t); !bytes.Equal(got, before) {
		t.Fatalf("pinned before the approval: %s", got)
	}
	s.dev.mustQuench(t, "incident", "approve", inc.ShortID, "--as", "bob", "--reason", "we did not ask for the new model")
	w.waitFor(t, workflows.EventStepDone, "pin")
	want := `"pinned_models":{"` + fixtures.RequestModel + `":"` + fixtures.BaselineModel + `"}`
	if got := s.routeBody(t); !bytes.Contains(got, []byte(want)) {
		t.Fatalf("route after the approved pin: %s, want %s", got, want)
	}

	text, _ := verdictOf(t, w.waitFor(t, workflows.EventVerify, "pin"), "passed")
	if other, total := checkDrift(t, text); other != 0 {
		t.Fatalf("passed with %d of %d answers by another model: %q", other, total, text)
	}
	w.waitFor(t, workflows.EventStepStarted, "recovered")
	st = s.status(t, inc.ShortID)
	if sw := stepOf(t, st, "switch"); sw.State != workflows.StepSkipped {
		t.Fatalf("the switch is %s where the pin held", sw.State)
	}
	if pin := stepOf(t, st, "pin"); pin.State != workflows.StepDone {
		t.Fatalf("pin after a passed verify: %+v", pin)
	}

	s.dev.mustQuench(t, "incident", "resolve", inc.ShortID, "--as", "alice", "--reason", "provider rollback announced")
	w.waitFor(t, workflows.EventApprovalAsked, "pin")
	s.dev.mustQuench(t, "incident", "approve", inc.ShortID, "--as", "bob")
	w.waitFor(t, workflows.EventClosed, "")
	if got := s.routeBody(t); !bytes.Equal(got, before) {
		t.Fatalf("the unpin did not restore the route byte for byte:\nbefore %s\nafter  %s", before, got)
	}
	if got := undoStates(s.status(t, inc.ShortID)); !slices.Equal(got, []string{"pin:gateway.unpin_model:done"}) {
		t.Fatalf("undo stack %v", got)
	}
	recordClosed(t, s.dev, inc.IncidentID, "silent-model-change-pin-verified")
}

// TestStoriesSilentModelChangePinIgnored: the provider keeps answering the alias with the
// new model after the pin. On the requests sent after the pin the verify fails, the pin is
// lifted (the route byte for byte as before) and SRE is paged; the runbook then offers the
// provider switch instead.
func TestStoriesSilentModelChangePinIgnored(t *testing.T) {
	s := startMitigationStory(t, fixtures.SilentModelChange, true)
	before := s.routeBody(t)
	inc := s.fireAlert(t, "silent-model-change")
	w := s.dev.watch(t, inc.IncidentID)

	w.waitFor(t, workflows.EventApprovalAsked, "pin")
	s.dev.mustQuench(t, "incident", "approve", inc.ShortID, "--as", "bob")
	w.waitFor(t, workflows.EventStepDone, "pin")
	w.waitFor(t, workflows.EventVerifying, "pin")
	st := s.status(t, inc.ShortID)
	if v := st.Verifying; st.State != workflows.StateVerifying || v == nil || v.StepID != "pin" || v.Signal != "model_drift" ||
		!strings.Contains(v.Condition, "below 0.05") {
		t.Fatalf("while verifying the pin: state %s, verifying %+v", st.State, v)
	}

	text, data := verdictOf(t, w.waitFor(t, workflows.EventVerify, "pin"), "failed")
	other, total := checkDrift(t, text)
	if float64(other)/float64(total) < 0.05 || data["requests"] != strconv.Itoa(total) {
		t.Fatalf("failed at %d of %d (data %v): not over the threshold", other, total, data)
	}
	w.waitFor(t, workflows.EventEscalated, "pin")
	if got := s.routeBody(t); !bytes.Equal(got, before) {
		t.Fatalf("the pin that did not hold was not lifted:\nbefore %s\nafter  %s", before, got)
	}
	if pin := stepOf(t, s.status(t, inc.ShortID), "pin"); pin.State != workflows.StepReverted {
		t.Fatalf("pin after the failed verify: %+v", pin)
	}

	// The pin did not hold, so the runbook asks whether to switch provider.
	w.waitFor(t, workflows.EventApprovalAsked, "switch")
	s.dev.mustQuench(t, "incident", "reject", inc.ShortID, "--as", "bob", "--reason", "talking to the provider first")
	w.waitFor(t, workflows.EventStepStarted, "recovered")
	s.dev.mustQuench(t, "incident", "abort", inc.ShortID, "--as", "alice", "--reason", "handled with the provider")
	w.waitFor(t, workflows.EventClosed, "")
	if got := s.route(t); got.Provider != fixtures.PrimaryProvider {
		t.Fatalf("route after close: %+v", got)
	}
	recordClosed(t, s.dev, inc.IncidentID, "silent-model-change-pin-reverted")
}

// servedOf reads "N requests of key K served, of M requests" from a block's verify line.
var servedOf = regexp.MustCompile(`(\d+) requests of key ` + regexp.QuoteMeta(fixtures.LoopingAgent) + ` served, of (\d+) requests (since the change|in the last \S+ after the change)`)

func checkServed(t *testing.T, text string) (served, total int) {
	t.Helper()
	m := servedOf.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("verify %q does not give the post-block numbers of %s", text, fixtures.LoopingAgent)
	}
	served, _ = strconv.Atoi(m[1])
	total, _ = strconv.Atoi(m[2])
	if total < 5 {
		t.Fatalf("verify judged %d requests, want at least 5: %q", total, text)
	}
	return served, total
}

// TestStoriesCostRunaway: the looping agent's key is blocked at once, the evidence ranks it
// first, and on the requests sent after the block (its refused retries among everyone
// else's) none of its requests is served: the verify passes. Closing asks before the key is
// unblocked.
func TestStoriesCostRunaway(t *testing.T) {
	s := startMitigationStory(t, fixtures.CostRunaway, false)
	inc := s.fireAlert(t, "cost-runaway")
	w := s.dev.watch(t, inc.IncidentID)

	// The key is blocked at once; the route stays on its provider for everyone else.
	w.waitFor(t, workflows.EventStepDone, "block")
	if got := s.route(t); !slices.Equal(got.BlockedKeys, []string{s.fx.Cause.AgentKey}) || got.Provider != fixtures.PrimaryProvider {
		t.Fatalf("route after block: %+v", got)
	}
	w.waitFor(t, workflows.EventStepDone, "evidence")
	b, top := s.evidence(t, s.status(t, inc.ShortID), "evidence")
	if c := b.Changes[0]; c.Kind != "agent_spend" || c.Subject != s.fx.Cause.AgentKey || b.Agents[0].Key != s.fx.Cause.AgentKey {
		t.Fatalf("top change %+v (%s), top agent %+v; want %s", c, top, b.Agents[0], s.fx.Cause.AgentKey)
	}
	text, _ := verdictOf(t, w.waitFor(t, workflows.EventVerify, "block"), "passed")
	if served, _ := checkServed(t, text); served != 0 {
		t.Fatalf("passed with %d requests of the blocked key served: %q", served, text)
	}

	w.waitFor(t, workflows.EventStepStarted, "recovered")
	s.dev.mustQuench(t, "incident", "resolve", inc.ShortID, "--as", "alice", "--reason", "loop fixed in agent 1.4.2")
	w.waitFor(t, workflows.EventApprovalAsked, "block")
	if got := s.route(t); len(got.BlockedKeys) != 1 {
		t.Fatalf("unblocked before the approval: %+v", got)
	}
	s.dev.mustQuench(t, "incident", "approve", inc.ShortID, "--as", "bob", "--reason", "fix deployed")
	w.waitFor(t, workflows.EventClosed, "")
	if got := s.route(t); len(got.BlockedKeys) != 0 {
		t.Fatalf("still blocked after close: %+v", got)
	}
	if got := undoStates(s.status(t, inc.ShortID)); !slices.Equal(got, []string{"block:gateway.unblock:done"}) {
		t.Fatalf("undo stack %v", got)
	}
	recordClosed(t, s.dev, inc.IncidentID, "cost-runaway-block-verified")
}

// TestStoriesCostRunawayBlockNotHolding: the looping agent is still served after the block
// (its key reaches the provider another way). The verify fails on the requests sent after
// the block: the block, which changes nothing, is lifted and SRE is paged.
func TestStoriesCostRunawayBlockNotHolding(t *testing.T) {
	s := startMitigationStory(t, fixtures.CostRunaway, true)
	inc := s.fireAlert(t, "cost-runaway")
	w := s.dev.watch(t, inc.IncidentID)

	w.waitFor(t, workflows.EventStepDone, "block")
	w.waitFor(t, workflows.EventStepDone, "evidence")
	text, _ := verdictOf(t, w.waitFor(t, workflows.EventVerify, "block"), "failed")
	if served, total := checkServed(t, text); served == 0 || served > total {
		t.Fatalf("failed with %d of %d requests served: %q", served, total, text)
	}
	esc := w.waitFor(t, workflows.EventEscalated, "block")
	if et, _ := esc["text"].(string); !strings.Contains(et, "its change was reverted") {
		t.Errorf("escalation does not say the block was lifted: %q", et)
	}
	if got := s.route(t); len(got.BlockedKeys) != 0 {
		t.Fatalf("the block that did not hold is still there: %+v", got)
	}
	if blk := stepOf(t, s.status(t, inc.ShortID), "block"); blk.State != workflows.StepReverted {
		t.Fatalf("block after the failed verify: %+v", blk)
	}
	w.waitFor(t, workflows.EventStepStarted, "recovered")
	s.dev.mustQuench(t, "incident", "abort", inc.ShortID, "--as", "alice", "--reason", "key revoked at the provider")
	w.waitFor(t, workflows.EventClosed, "")
	recordClosed(t, s.dev, inc.IncidentID, "cost-runaway-block-reverted")
}

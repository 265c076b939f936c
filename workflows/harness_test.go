package workflows

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/trust"
	"github.com/quench-dev/quench/runbooks"
)

// testSigner is a front door's signer with a fixed key.
func testSigner(t *testing.T, b byte) *trust.Signer {
	t.Helper()
	s, err := trust.NewSigner(bytes.Repeat([]byte{b}, ed25519.SeedSize))
	require.NoError(t, err)
	return s
}

const testIncidentID = "inc-test-00000000000abcdef"

// harness runs the incident workflow in the time-skipping test environment against stateful
// fake activities that record every call and can be told to fail or answer differently.
type harness struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment

	mu    sync.Mutex
	calls []activities.StepInput
	reads []activities.StepInput // gateway.read
	// readAnswer, when set, is what gateway.read answers (else harnessRouteState).
	readAnswer func(activities.StepInput) ports.RouteState
	behave     map[string]func(activities.StepInput) (activities.StepResult, error)
	measures   []ports.VerifyResult // answered in order; the last one repeats
	// measureErr, when set, is every measurement's error.
	measureErr error
	measured   int
	measureIns []ports.VerifyInput // every measurement asked for, in order
	policy     activities.Policy
	// signer signs decisions as a front door would; the policy trusts its key.
	signer *trust.Signer
}

// testSuite logs to the test's output (shown on failure), warnings and up.
func testSuite(t *testing.T) *testsuite.WorkflowTestSuite {
	suite := &testsuite.WorkflowTestSuite{}
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))))
	return suite
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	suite := testSuite(t)
	signer := testSigner(t, 7)
	h := &harness{
		t:      t,
		env:    suite.NewTestWorkflowEnvironment(),
		behave: map[string]func(activities.StepInput) (activities.StepResult, error){},
		policy: activities.Policy{
			Groups:          map[string][]string{"sre": {"bob", "carol", "cli:alice"}, "leads": {"dave"}},
			EscalationGroup: "incident-commanders",
			DecisionKeys:    []ed25519.PublicKey{signer.PublicKey()},
		},
		signer: signer,
	}
	Register(h.env)
	for name, a := range runbooks.Catalog {
		if a.Kind == runbooks.KindActivity {
			h.env.RegisterActivityWithOptions(h.stepActivity(name), activity.RegisterOptions{Name: name})
		}
	}
	h.env.RegisterActivityWithOptions(func(context.Context) (activities.Policy, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.policy, nil
	}, activity.RegisterOptions{Name: activities.PolicyActivity})
	h.env.RegisterActivityWithOptions(h.measure, activity.RegisterOptions{Name: activities.VerifyActivity})
	h.env.RegisterActivityWithOptions(func(_ context.Context, in activities.StepInput) (ports.RouteState, error) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.reads = append(h.reads, in)
		if h.readAnswer != nil {
			return h.readAnswer(in), nil
		}
		return harnessRouteState, nil
	}, activity.RegisterOptions{Name: activities.GatewayReadActivity})
	return h
}

// harnessRouteState is what the fake gateway.read answers.
var harnessRouteState = ports.RouteState{Provider: "openai", State: `{"order":["openai","anthropic"]}`}

// stepActivity is the fake of one catalog action.
func (h *harness) stepActivity(name string) func(context.Context, activities.StepInput) (activities.StepResult, error) {
	return func(_ context.Context, in activities.StepInput) (activities.StepResult, error) {
		h.mu.Lock()
		h.calls = append(h.calls, in)
		fn := h.behave[name]
		h.mu.Unlock()
		if in.Action != name {
			return activities.StepResult{}, fmt.Errorf("activity %s got input for %s", name, in.Action)
		}
		if fn != nil {
			return fn(in)
		}
		return defaultResult(in), nil
	}
}

// defaultResult is what the embedded targets would answer, undo and clears included.
func defaultResult(in activities.StepInput) activities.StepResult {
	p := in.Params
	switch in.Action {
	case runbooks.ActionGatewaySwitch:
		undo := map[string]string{"route": p["route"]}
		if p["previous"] != "" { // as the real activity: the saved state travels with the undo
			undo["previous"], undo["switched_to"] = p["previous"], p["to"]
		}
		return activities.StepResult{
			Summary: fmt.Sprintf("route %s: openai -> %s", p["route"], p["to"]),
			Outputs: map[string]any{"route": p["route"], "from": "openai", "to": p["to"]},
			Undo: &activities.UndoAction{Key: "gateway/" + p["route"], Action: runbooks.ActionGatewayRestore,
				Params: undo, Description: "restore route " + p["route"] + " to openai"},
		}
	case runbooks.ActionGatewayRestore:
		return activities.StepResult{
			Summary: "route " + p["route"] + " restored to openai",
			Outputs: map[string]any{"route": p["route"], "provider": "openai"},
			Clears:  []string{"gateway/" + p["route"]},
		}
	case runbooks.ActionPromptsFreeze:
		return activities.StepResult{
			Summary: "froze " + p["scope"],
			Outputs: map[string]any{"scope": p["scope"]},
			Undo: &activities.UndoAction{Key: "freeze/" + p["scope"], Action: runbooks.ActionPromptsUnfreeze,
				Params: map[string]string{"scope": p["scope"]}, Description: "unfreeze " + p["scope"]},
		}
	case runbooks.ActionPromptsRollback:
		return activities.StepResult{
			Summary: "proposed rollback branch quench/rollback-abcdef",
			Outputs: map[string]any{"branch": "quench/rollback-abcdef", "commit": "c0ffee", "url": "file:///repo#quench/rollback-abcdef"},
			Links:   []ports.Link{{Name: "branch", URL: "file:///repo#quench/rollback-abcdef"}},
		}
	case runbooks.ActionTrafficSnapshot:
		return activities.StepResult{
			Summary:  "120 requests, error rate 0.3",
			Outputs:  map[string]any{"requests": 120, "error_rate": 0.3},
			Evidence: []ports.EvidenceRef{{Name: "snapshot", URI: "file:///evidence/x", SHA256: "abc"}},
		}
	}
	return activities.StepResult{Summary: in.Action + " done"}
}

func (h *harness) measure(_ context.Context, in ports.VerifyInput) (ports.VerifyResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.measureIns = append(h.measureIns, in)
	if h.measureErr != nil {
		h.measured++
		return ports.VerifyResult{}, h.measureErr
	}
	if len(h.measures) == 0 {
		return ports.VerifyResult{}, errors.New("no measurement configured")
	}
	i := min(h.measured, len(h.measures)-1)
	h.measured++
	return h.measures[i], nil
}

// onStep replaces an action's fake behaviour.
func (h *harness) onStep(action string, fn func(activities.StepInput) (activities.StepResult, error)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.behave[action] = fn
}

// failStep makes an action fail permanently.
func (h *harness) failStep(action, msg string) {
	h.onStep(action, func(activities.StepInput) (activities.StepResult, error) {
		return activities.StepResult{}, temporal.NewNonRetryableApplicationError(msg, "TestFailure", nil)
	})
}

// sequence lists the activity calls as "action key", the key without the incident ID.
func (h *harness) sequence() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.calls))
	for _, c := range h.calls {
		out = append(out, c.Action+" "+strings.TrimPrefix(c.IdempotencyKey, c.IncidentID+"/"))
	}
	return out
}

func (h *harness) callsOf(action string) []activities.StepInput {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []activities.StepInput
	for _, c := range h.calls {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

// run executes the incident to its end and returns the final status.
func (h *harness) run(in IncidentInput) Status {
	h.t.Helper()
	h.env.ExecuteWorkflow(IncidentWorkflowName, in)
	require.True(h.t, h.env.IsWorkflowCompleted(), "the incident did not finish")
	return closedStatus(h.t, h.env)
}

// closedStatus is the final status of a finished incident, checking how its workflow
// closed: failed (non-retryable, the Status in the details) for a failed or aborted
// incident, completed with the Status as result otherwise.
func closedStatus(t *testing.T, env *testsuite.TestWorkflowEnvironment) Status {
	t.Helper()
	err := env.GetWorkflowError()
	var st Status
	if err == nil {
		require.NoError(t, env.GetWorkflowResult(&st))
		require.NotContains(t, []string{StateFailed, StateAborted}, st.State, "a %s incident completed its workflow", st.State)
		return st
	}
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "the workflow failed with %v", err)
	require.True(t, appErr.NonRetryable(), "a closed incident's failure must not be retried")
	require.NoError(t, IncidentOutcome(err, &st))
	want := map[string]string{StateFailed: FailureIncidentFailed, StateAborted: FailureIncidentAborted}[st.State]
	require.Equal(t, want, appErr.Type(), "a %s incident closed its workflow with failure type %q", st.State, appErr.Type())
	return st
}

// status queries the running incident; call it from a delayed callback.
func (h *harness) status() Status {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(QueryStatus)
	require.NoError(h.t, err)
	var st Status
	require.NoError(h.t, v.Get(&st))
	return st
}

// at runs fn at a workflow time after the start.
func (h *harness) at(after time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, after) }

// decision is the outcome of one decide update, filled in when the update ends.
type decision struct {
	done     bool
	rejected error // refused by the validator (recorded nowhere)
	result   DecisionResult
	err      error // refused by the handler (recorded on the timeline)
}

// refusal is why the decision did not count, whoever refused it.
func (d *decision) refusal() error {
	if d.rejected != nil {
		return d.rejected
	}
	return d.err
}

// decideAt sends a decision at a workflow time, signed as a front door signs it
// (incidents.Service.Decide). An empty digest is filled with the pending approval's
// current digest, as the CLI does after reading the status.
func (h *harness) decideAt(after time.Duration, d Decision) *decision {
	return h.sendAt(after, d, func(d Decision) Decision { return h.sign(d, nil) })
}

// rawDecideAt sends a decision as it is: what a client talking to Temporal directly sends.
// An empty digest is filled in as by decideAt.
func (h *harness) rawDecideAt(after time.Duration, d Decision) *decision {
	return h.sendAt(after, d, func(d Decision) Decision { return d })
}

// sign adds the front door's proof; edit, when set, changes the claim before signing.
func (h *harness) sign(d Decision, edit func(*trust.Claim)) Decision {
	h.t.Helper()
	identity, err := trust.CheckIdentity(trust.Qualify(d.Approver, d.Via))
	if err != nil {
		identity = d.Approver // a test of what the workflow does with a bad identity
	}
	c := ClaimFor(testIncidentID, identity, d)
	h.mu.Lock()
	c.Person = h.policy.People.PersonOf(identity)
	h.mu.Unlock()
	c.At = h.env.Now()
	if edit != nil {
		edit(&c)
	}
	p := h.signer.Sign(c)
	d.Proof = &p
	return d
}

// signedAt sends a decision whose claim edit changed before signing.
func (h *harness) signedAt(after time.Duration, d Decision, edit func(*trust.Claim)) *decision {
	return h.sendAt(after, d, func(d Decision) Decision { return h.sign(d, edit) })
}

func (h *harness) sendAt(after time.Duration, d Decision, prepare func(Decision) Decision) *decision {
	out := &decision{}
	h.at(after, func() {
		if d.Digest == "" {
			for _, p := range h.status().Pending {
				if d.StepID == "" || p.StepID == d.StepID {
					d.StepID, d.Digest = p.StepID, p.Digest
				}
			}
		}
		d := prepare(d)
		h.env.UpdateWorkflow(UpdateDecide, "", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { out.done, out.rejected = true, err },
			OnComplete: func(v any, err error) {
				out.done, out.err = true, err
				if r, ok := v.(DecisionResult); ok {
					out.result = r
				}
			},
		}, d)
	})
	return out
}

func approve(step, approver string) Decision {
	return Decision{StepID: step, Approver: approver, Verdict: VerdictApprove, Via: "cli"}
}

func reject(step, approver, reason string) Decision {
	return Decision{StepID: step, Approver: approver, Verdict: VerdictReject, Reason: reason, Via: "cli"}
}

// Spec builders: runbooks written in Go, independent of the built-in YAML files.

func testSpec(steps ...runbooks.Step) runbooks.Spec {
	return runbooks.Spec{Name: "test-runbook", Title: "Test runbook", Steps: steps, Digest: "d1"}
}

func testInput(spec runbooks.Spec) IncidentInput {
	return IncidentInput{
		IncidentID: testIncidentID,
		ShortID:    "abcdef",
		Spec:       spec,
		Params:     map[string]string{"route": "chat", "to": "anthropic"},
		Requester:  "cli:alice",
		Source:     "cli",
		Service:    "chatbot",
		Severity:   "critical",
	}
}

func switchStep(id string) runbooks.Step {
	return runbooks.Step{ID: id, Action: runbooks.ActionGatewaySwitch, With: map[string]string{"route": "{{ .params.route }}", "to": "{{ .params.to }}"}}
}

func restoreStep(id string) runbooks.Step {
	return runbooks.Step{ID: id, Action: runbooks.ActionGatewayRestore, With: map[string]string{"route": "{{ .params.route }}"}}
}

func freezeStep(id string) runbooks.Step {
	return runbooks.Step{ID: id, Action: runbooks.ActionPromptsFreeze, With: map[string]string{"scope": "prompts", "ttl": "4h"}}
}

func notifyStep(id, text string) runbooks.Step {
	return runbooks.Step{ID: id, Action: runbooks.ActionNotify, With: map[string]string{"text": text}}
}

func stepByID(st Status, id string) StepState {
	for _, s := range st.Steps {
		if s.ID == id {
			return s
		}
	}
	return StepState{}
}

// eventsOf lists the timeline events of a kind (and step, when given).
func eventsOf(st Status, kind, step string) []Event {
	var out []Event
	for _, e := range st.Timeline {
		if e.Kind == kind && (step == "" || e.StepID == step) {
			out = append(out, e)
		}
	}
	return out
}

func undoStates(st Status) map[string]string {
	out := map[string]string{}
	for _, u := range st.Undo {
		out[u.StepID] = u.State
	}
	return out
}

package incidents

import (
	"context"
	"fmt"
	"time"

	"github.com/quench-dev/quench/workflows"
)

// The results below are what the CLI (-o json) and the HTTP API answer, so a field has one
// name wherever a script reads it: incident_id, short_id, runbook, requester, step_id.

// Decided is the answer to an approve or reject: the workflow's result with the incident
// it was about and who decided.
type Decided struct {
	IncidentID string `json:"incident_id"`
	ShortID    string `json:"short_id"`
	StepID     string `json:"step_id"`
	Verdict    string `json:"verdict"`
	Approver   string `json:"approver"`
	Outcome    string `json:"outcome"`   // approved | rejected | counted
	Remaining  int    `json:"remaining"` // approvals still needed when counted
	// Undo: the decision was on the step's undo at close, not on the step itself.
	Undo bool `json:"undo,omitempty"`
}

// What names what was decided, capitalised for the start of a sentence: "Step failback",
// or "The undo of step block" for an undo that asked for approval.
func (d Decided) What() string {
	if d.Undo {
		return "The undo of step " + d.StepID
	}
	return "Step " + d.StepID
}

// NewDecided joins a decision and its result.
func NewDecided(id string, d workflows.Decision, res workflows.DecisionResult) Decided {
	return Decided{IncidentID: id, ShortID: ShortID(id), StepID: res.StepID, Verdict: d.Verdict,
		Approver: d.Approver, Outcome: res.Outcome, Remaining: res.Remaining, Undo: res.Undo}
}

// Signalled is the answer to resolve, abort or note: the signal and where the incident
// stands once the workflow handled it, so the caller knows whether it is done or who must
// act next.
type Signalled struct {
	IncidentID string `json:"incident_id"`
	ShortID    string `json:"short_id"`
	Signal     string `json:"signal"` // resolve | abort | note
	// State is "" when the status could not be read; StatusError says why.
	State       string    `json:"state,omitempty"`
	Closed      bool      `json:"closed"`
	WaitingFor  []Waiting `json:"waiting_for,omitempty"`
	StatusError string    `json:"status_error,omitempty"`
	// Then lists what the incident did on the signal: the timeline lines after the signal's
	// own (e.g. "verify of step failover stopped: the incident was resolved; the change stays").
	Then []string `json:"then,omitempty"`
	// Verifying is the verify still in progress after the signal, if any.
	Verifying *workflows.Verifying `json:"verifying,omitempty"`
}

// Waiting is an approval the incident waits for, with the commands that move it on.
type Waiting struct {
	StepID  string   `json:"step_id"`
	Action  string   `json:"action"`
	Undo    bool     `json:"undo,omitempty"`
	Groups  []string `json:"groups,omitempty"`
	Approve string   `json:"approve"`
	Reject  string   `json:"reject"`
}

// AfterSignal reads where incident id stands after signal. Temporal answers a query only
// once the workflow has handled the signals sent before it, so this shows what the signal
// did. A failed read is reported in the result, not as an error: the signal was sent.
//
// A resolve or an abort sets the incident moving (a fail back measures its provider before
// it asks, undos run): the answer waits, at most settleWithin, until the incident closes,
// asks for an approval or has no step in flight, so it says where the incident came to
// rest rather than a moment of its way there.
func AfterSignal(ctx context.Context, c StatusReader, id, signal string) Signalled {
	res := Signalled{IncidentID: id, ShortID: ShortID(id), Signal: signal}
	st, err := c.Status(ctx, id)
	if err == nil && (signal == "resolve" || signal == "abort") {
		st, err = settle(ctx, c, id, st)
	}
	if err != nil {
		res.StatusError = err.Error()
		return res
	}
	res.State, res.Closed = st.State, st.ClosedAt != nil
	res.Then, res.Verifying = thenOf(st, signal), st.Verifying
	for _, p := range st.Pending {
		res.WaitingFor = append(res.WaitingFor, Waiting{
			StepID: p.StepID, Action: p.Action, Undo: p.Undo, Groups: p.Groups,
			Approve: fmt.Sprintf("quench incident approve %s --step %s", res.ShortID, p.StepID),
			Reject:  fmt.Sprintf("quench incident reject %s --step %s --reason WHY", res.ShortID, p.StepID),
		})
	}
	return res
}

// settleWithin bounds how long AfterSignal waits for an incident to come to rest.
const settleWithin = 3 * time.Second

// settle reads the incident's status again, backing off from 20 ms, until it is at rest
// (settled) or settleWithin has passed; then it returns the latest status it read.
func settle(ctx context.Context, c StatusReader, id string, st workflows.Status) (workflows.Status, error) {
	deadline := time.NewTimer(settleWithin)
	defer deadline.Stop()
	for pause := 20 * time.Millisecond; !settled(st); pause = min(2*pause, 250*time.Millisecond) {
		next := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			next.Stop()
			return st, nil
		case <-deadline.C:
			next.Stop()
			return st, nil
		case <-next.C:
		}
		later, err := c.Status(ctx, id)
		if err != nil {
			return st, nil // the first read stands; the signal was sent
		}
		st = later
	}
	return st, nil
}

// settled: closed, waiting for a human, verifying (a wait with a deadline of its own), or
// with no step in flight and no undo running.
func settled(st workflows.Status) bool {
	if st.ClosedAt != nil || len(st.Pending) > 0 || st.State == workflows.StateVerifying {
		return true
	}
	if st.State == workflows.StateClosing {
		return false
	}
	for _, s := range st.Steps {
		if s.State == workflows.StepRunning {
			return false
		}
	}
	return true
}

// StatusReader is the part of Client AfterSignal needs.
type StatusReader interface {
	Status(ctx context.Context, ref string) (workflows.Status, error)
}

// maxThen bounds the lines Signalled.Then reports.
const maxThen = 5

// thenOf is what the incident did after the newest timeline line of the signal (a resolve
// or an abort): the lines after it, oldest first, at most maxThen.
func thenOf(st workflows.Status, signal string) []string {
	kind := map[string]string{"resolve": workflows.EventResolved, "abort": workflows.EventAborted}[signal]
	if kind == "" {
		return nil
	}
	for i := len(st.Timeline) - 1; i >= 0; i-- {
		if st.Timeline[i].Kind != kind {
			continue
		}
		var out []string
		for _, e := range st.Timeline[i+1:] {
			if e.Kind == workflows.EventAlert || e.Kind == workflows.EventNote {
				continue
			}
			if len(out) == maxThen {
				break
			}
			out = append(out, e.Text)
		}
		return out
	}
	return nil
}

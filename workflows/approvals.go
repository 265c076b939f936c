package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/runbooks"
)

// gateOutcome is how an approval gate ended.
type gateOutcome int

const (
	gateApproved gateOutcome = iota + 1
	gateRejected
	gateTimedOut // timed out with on_timeout: abort
	gateCanceled // the incident was aborted while it waited
)

// gateRequest describes an approval to ask for: a step's, or an undo's at close.
type gateRequest struct {
	StepID   string
	Action   string
	Undo     bool
	Params   map[string]string
	Approval runbooks.Approval
}

// gateStep asks for a step's approval and records what the answer means for the step.
// It reports whether the step may run.
func (w *incident) gateStep(ctx workflow.Context, i int, appr runbooks.Approval) (bool, error) {
	step := w.steps[i]
	ss := &w.status.Steps[i]
	ss.State = StepAwaiting
	outcome, decisions, err := w.awaitApproval(ctx, gateRequest{
		StepID: step.ID, Action: step.Action, Params: ss.Params, Approval: appr,
	})
	if err != nil {
		return false, err
	}
	now := workflow.Now(ctx)
	switch outcome {
	case gateApproved:
		ss.Summary = "approved by " + approversText(decisions)
		return true, nil
	case gateRejected:
		ss.State = StepRejected
		ss.EndedAt = &now
		ss.Summary = "rejected by " + rejecterText(decisions)
		if appr.OnReject == runbooks.OnRejectAbort {
			w.abort(ctx, rejecter(decisions).Approver, fmt.Sprintf("step %s was rejected (on_reject: abort)", step.ID))
		} else {
			w.event(ctx, EventStepSkipped, step.ID, "", stepLabel(step)+" rejected; the runbook goes on", nil)
		}
	case gateTimedOut:
		ss.State = StepRejected
		ss.EndedAt = &now
		ss.Summary = "approval timed out (on_timeout: abort)"
		w.abort(ctx, "quench", fmt.Sprintf("the approval of step %s timed out (on_timeout: abort)", step.ID))
	case gateCanceled:
		w.cancelStep(ctx, i)
	}
	return false, nil
}

// awaitApproval opens (or, after continue-as-new, resumes) a pending approval and waits for
// its decisions, its timeout or an abort. It returns the decisions it ended with.
func (w *incident) awaitApproval(ctx workflow.Context, req gateRequest) (gateOutcome, []DecisionRecord, error) {
	if w.pendingIndex(req.StepID, req.Undo) < 0 {
		w.openApproval(ctx, req)
	}
	w.refreshState(ctx)
	defer w.refreshState(ctx)

	decided := func() bool {
		idx := w.pendingIndex(req.StepID, req.Undo)
		return idx >= 0 && verdictOf(w.status.Pending[idx]) != ""
	}
	for {
		p := w.status.Pending[w.pendingIndex(req.StepID, req.Undo)]
		var err error
		timedOut := false
		cond := func() bool { return decided() || w.shouldContinueAsNew(ctx) }
		if p.Deadline != nil && !p.Escalated {
			if left := p.Deadline.Sub(workflow.Now(ctx)); left > 0 {
				var ok bool
				ok, err = workflow.AwaitWithTimeout(ctx, left, cond)
				timedOut = !ok
			} else {
				timedOut = !decided()
			}
		} else {
			err = workflow.Await(ctx, cond)
		}

		idx := w.pendingIndex(req.StepID, req.Undo)
		p = w.status.Pending[idx]
		switch verdict := verdictOf(p); {
		case verdict == VerdictApprove:
			w.closeApproval(idx)
			return gateApproved, p.Approvals, nil
		case verdict == VerdictReject:
			w.closeApproval(idx)
			return gateRejected, p.Approvals, nil
		case err != nil:
			w.closeApproval(idx)
			return gateCanceled, p.Approvals, nil
		case !timedOut:
			return 0, nil, errContinueAsNew
		}

		w.event(ctx, EventApprovalTimeout, req.StepID, "", fmt.Sprintf("approval of %s timed out after %s (on_timeout: %s)",
			approvalSubject(req), req.Approval.Timeout, p.OnTimeout), nil)
		switch p.OnTimeout {
		case runbooks.OnTimeoutProceed:
			rec := DecisionRecord{Approver: "timeout", Verdict: VerdictApprove, Via: "timeout",
				Reason: "no decision within " + req.Approval.Timeout.String() + " (on_timeout: proceed)", At: workflow.Now(ctx)}
			w.status.Pending[idx].Approvals = append(w.status.Pending[idx].Approvals, rec)
			w.event(ctx, EventDecision, req.StepID, rec.Approver, approvalSubject(req)+" approved on timeout (on_timeout: proceed)",
				map[string]string{"verdict": rec.Verdict, "via": rec.Via})
			approvals := w.status.Pending[idx].Approvals
			w.closeApproval(idx)
			return gateApproved, approvals, nil
		case runbooks.OnTimeoutAbort:
			w.closeApproval(idx)
			return gateTimedOut, p.Approvals, nil
		default: // escalate: tell someone louder, then wait without a deadline
			w.status.Pending[idx].Escalated = true
			group := w.escalationGroup(req.Approval)
			text := fmt.Sprintf("%s has waited %s for approval: @%s please decide (quench incident approve %s --step %s)",
				approvalSubject(req), req.Approval.Timeout, group, w.status.ShortID, req.StepID)
			w.escalate(ctx, req.StepID, group, text, escalationKeySuffix(req))
		}
	}
}

// openApproval adds a pending approval bound to the digest of the params it approves.
func (w *incident) openApproval(ctx workflow.Context, req gateRequest) {
	appr := req.Approval
	groups := slices.Clone(appr.Groups)
	if appr.Group != "" && !slices.Contains(groups, appr.Group) {
		groups = append(groups, appr.Group)
	}
	now := workflow.Now(ctx)
	p := PendingApproval{
		StepID:      req.StepID,
		Action:      req.Action,
		Undo:        req.Undo,
		Params:      req.Params,
		Digest:      runbooks.ParamsDigest(req.Action, req.Params),
		Groups:      groups,
		Quorum:      max(appr.Quorum, 1),
		FourEyes:    appr.FourEyes,
		RequestedAt: now,
	}
	if appr.Timeout > 0 {
		deadline := now.Add(w.scaled(appr.Timeout.D()))
		p.Deadline = &deadline
		p.OnTimeout = appr.OnTimeout
		if p.OnTimeout == "" {
			p.OnTimeout = runbooks.OnTimeoutEscalate
		}
	}
	p.Prompt = approvalPrompt(appr, req.Params)
	if appr.Prompt != "" {
		if prompt, err := runbooks.RenderString(appr.Prompt, w.scope()); err == nil {
			p.Prompt = prompt
		} else {
			w.logger.Warn("Could not render the approval prompt; showing it as written", "step", req.StepID, "error", err)
		}
	}
	if h := w.stepHealth(req.StepID); h != nil && !req.Undo {
		p.Prompt = withHealth(p.Prompt, *h) // a fail back asks with its provider's figure
	}
	w.status.Pending = append(w.status.Pending, p)
	who := "anyone"
	if len(groups) > 0 {
		who = "a member of " + joinOr(groups)
	}
	w.event(ctx, EventApprovalAsked, req.StepID, "", fmt.Sprintf("%s needs %d approval(s) from %s", approvalSubject(req), p.Quorum, who),
		map[string]string{"digest": p.Digest, "undo": fmt.Sprint(req.Undo)})
}

func approvalPrompt(appr runbooks.Approval, params map[string]string) string {
	if appr.Prompt != "" {
		return appr.Prompt
	}
	return params["question"] // the standalone `approval` action asks its question
}

func approvalSubject(req gateRequest) string {
	if req.Undo {
		return fmt.Sprintf("the undo of step %s (%s)", req.StepID, req.Action)
	}
	return fmt.Sprintf("step %s (%s)", req.StepID, req.Action)
}

func escalationKeySuffix(req gateRequest) string {
	if req.Undo {
		return "undo/escalate"
	}
	return "escalate"
}

func (w *incident) escalationGroup(appr runbooks.Approval) string {
	switch {
	case appr.Escalate != "":
		return appr.Escalate
	case w.st.Policy.EscalationGroup != "":
		return w.st.Policy.EscalationGroup
	case len(appr.Groups) > 0:
		return strings.Join(appr.Groups, ", ")
	case appr.Group != "":
		return appr.Group
	}
	return "on-call"
}

func (w *incident) pendingIndex(stepID string, undo bool) int {
	return slices.IndexFunc(w.status.Pending, func(p PendingApproval) bool { return p.StepID == stepID && p.Undo == undo })
}

func (w *incident) closeApproval(idx int) {
	w.status.Pending = slices.Delete(w.status.Pending, idx, idx+1)
}

func (w *incident) removePending(match func(PendingApproval) bool) {
	w.status.Pending = slices.DeleteFunc(w.status.Pending, match)
}

// verdictOf: one reject decides; otherwise the quorum of distinct approvers does.
func verdictOf(p PendingApproval) string {
	approvers := 0
	for _, d := range p.Approvals {
		if d.Verdict == VerdictReject {
			return VerdictReject
		}
		if d.Auto && d.Verdict == VerdictApprove {
			return VerdictApprove // a fail back the runbook lets run on measured health
		}
		approvers++ // the validator refuses a second decision from the same approver
	}
	if approvers >= p.Quorum {
		return VerdictApprove
	}
	return ""
}

// verdictPast words a verdict for the timeline. Spelled out: the verbs are not regular
// ("reject" + "d" read "rejectd").
func verdictPast(verdict string) string {
	switch verdict {
	case VerdictApprove:
		return "approved"
	case VerdictReject:
		return "rejected"
	}
	return "decided (" + verdict + ") on"
}

func approversText(ds []DecisionRecord) string {
	names := make([]string, 0, len(ds))
	for _, d := range ds {
		names = append(names, d.Approver)
	}
	return strings.Join(names, ", ")
}

// rejecter is the decision that rejected.
func rejecter(ds []DecisionRecord) DecisionRecord {
	for _, d := range ds {
		if d.Verdict == VerdictReject {
			return d
		}
	}
	return DecisionRecord{Approver: "timeout"}
}

func rejecterText(ds []DecisionRecord) string {
	d := rejecter(ds)
	if d.Reason != "" {
		return d.Approver + " (" + d.Reason + ")"
	}
	return d.Approver
}

// findPending finds the approval a decision is for: the named step, or the only one pending.
func (w *incident) findPending(stepID string) (int, error) {
	if len(w.status.Pending) == 0 && w.status.Verifying != nil {
		v := w.status.Verifying
		return -1, fmt.Errorf("incident %s has no pending approval yet: it is verifying step %s until %s (%s)",
			w.status.ShortID, v.StepID, v.Deadline.UTC().Format(time.TimeOnly+" UTC"), v.Condition)
	}
	if len(w.status.Pending) == 0 {
		return -1, fmt.Errorf("incident %s has no pending approval", w.status.ShortID)
	}
	if stepID == "" {
		if len(w.status.Pending) > 1 {
			ids := make([]string, 0, len(w.status.Pending))
			for _, p := range w.status.Pending {
				ids = append(ids, p.StepID)
			}
			return -1, fmt.Errorf("%d approvals are pending: name the step (%s)", len(ids), joinOr(ids))
		}
		return 0, nil
	}
	idx := slices.IndexFunc(w.status.Pending, func(p PendingApproval) bool { return p.StepID == stepID })
	if idx < 0 {
		return -1, fmt.Errorf("step %s is not waiting for approval (pending: %s)", stepID, w.status.Pending[0].StepID)
	}
	return idx, nil
}

// recordDecision records a checked decision; the waiting gate sees it and moves on.
// approver is the identity as shown, person the person behind it ("" before people existed).
func (w *incident) recordDecision(ctx workflow.Context, d Decision, approver, person string) (DecisionResult, error) {
	idx, err := w.findPending(d.StepID)
	if err != nil {
		return DecisionResult{}, err
	}
	w.progress++
	p := &w.status.Pending[idx]
	rec := DecisionRecord{Approver: approver, Person: person, Verdict: d.Verdict, Reason: d.Reason, Via: d.Via, At: workflow.Now(ctx)}
	p.Approvals = append(p.Approvals, rec)

	subject := approvalSubject(gateRequest{StepID: p.StepID, Action: p.Action, Undo: p.Undo})
	text := fmt.Sprintf("%s %s %s", whoText(approver, person), verdictPast(d.Verdict), subject)
	if d.Via != "" {
		text += " via " + d.Via
	}
	if d.Reason != "" {
		text += ": " + d.Reason
	}
	data := map[string]string{"verdict": d.Verdict, "via": d.Via}
	if person != "" {
		data["person"] = person
	}
	w.event(ctx, EventDecision, p.StepID, approver, text, data)

	res := DecisionResult{StepID: p.StepID, Undo: p.Undo, Subject: subject}
	switch verdictOf(*p) {
	case VerdictReject:
		res.Outcome = "rejected"
	case VerdictApprove:
		res.Outcome = "approved"
	default:
		res.Outcome = "counted"
		res.Remaining = p.Quorum - len(p.Approvals)
	}
	return res, nil
}

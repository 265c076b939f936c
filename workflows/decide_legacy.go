package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"
)

// Decisions recorded before they were signed. New decisions without a proof are refused
// (decide.go); these functions only let histories recorded then replay as they ran.

// unsignedDecisionChange versions each unsigned decision of a run on its own (the change ID
// ends in its ordinal), so an incident that replays an old unsigned decision still refuses
// an unsigned one that arrives after the upgrade.
const unsignedDecisionChange = "unsigned-decision"

// decideUnsigned handles a decision without a proof: replayed as it ran when it was
// recorded before proofs existed, refused and put on the timeline otherwise.
func (w *incident) decideUnsigned(ctx workflow.Context, d Decision) (DecisionResult, error) {
	w.unsigned++
	change := fmt.Sprintf("%s-%d", unsignedDecisionChange, w.unsigned)
	if workflow.GetVersion(ctx, change, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		if err := w.validateLegacy(d); err != nil {
			return DecisionResult{}, err
		}
		return w.recordDecision(ctx, d, d.Approver, "")
	}
	return DecisionResult{}, w.refuse(ctx, d, nil, errUnsigned)
}

// validateLegacy is how decisions were checked before they were signed. It runs only when
// a history recorded then is replayed (decideUnsigned), so those incidents replay as they ran.
func (w *incident) validateLegacy(d Decision) error {
	if w.closed {
		return fmt.Errorf("incident %s is closed (%s): there is nothing left to decide", w.status.ShortID, w.status.State)
	}
	if strings.TrimSpace(d.Approver) == "" {
		return errors.New("the decision names no approver: say who decides")
	}
	if d.Verdict != VerdictApprove && d.Verdict != VerdictReject {
		return fmt.Errorf("unknown verdict %q: use %q or %q", d.Verdict, VerdictApprove, VerdictReject)
	}
	idx, err := w.findPending(d.StepID)
	if err != nil {
		return err
	}
	p := w.status.Pending[idx]
	if verdictOf(p) != "" {
		return fmt.Errorf("step %s is already decided: a decision that completed first won", p.StepID)
	}
	if d.Digest == "" {
		return fmt.Errorf("the decision carries no digest: read it from `quench incident show %s` (pending %s) and decide on exactly those params", w.status.ShortID, p.StepID)
	}
	if d.Digest != p.Digest {
		return fmt.Errorf("the step's params changed: review again (step %s now has digest %s)", p.StepID, p.Digest)
	}
	if p.FourEyes && sameIdentity(d.Approver, w.status.Requester) {
		return fmt.Errorf("%s started this incident and step %s needs four eyes: ask someone else to decide", d.Approver, p.StepID)
	}
	for _, prev := range p.Approvals {
		if sameIdentity(prev.Approver, d.Approver) {
			return fmt.Errorf("%s already decided on step %s (%s): each approver counts once", d.Approver, p.StepID, prev.Verdict)
		}
	}
	return w.mayApproveLegacy(p, d)
}

// mayApproveLegacy: the approver is in one of the approval's groups (policy membership, a
// group the caller vouched for, or an unconfigured group when groups are open). No groups:
// anyone. Replay of pre-signature histories only.
func (w *incident) mayApproveLegacy(p PendingApproval, d Decision) error {
	if len(p.Groups) == 0 {
		return nil
	}
	for _, g := range p.Groups {
		if slices.Contains(d.Groups, g) {
			return nil
		}
		members, configured := w.st.Policy.Groups[g]
		if !configured && w.st.Policy.OpenGroups {
			return nil
		}
		for _, m := range members {
			if memberIdentity(m) == memberIdentity(d.Approver) {
				return nil
			}
		}
	}
	return fmt.Errorf("%s may not decide on step %s: not a member of %s (ask a member, or add them to the group in the quench config)",
		d.Approver, p.StepID, joinOr(p.Groups))
}

// memberIdentity compares CLI identities with or without their "cli:" prefix.
func memberIdentity(id string) string { return strings.TrimPrefix(strings.TrimSpace(id), "cli:") }

// sameIdentity is the loose comparison used where a false match only refuses: four-eyes and
// approving twice.
func sameIdentity(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b)) || strings.EqualFold(memberIdentity(a), memberIdentity(b))
}

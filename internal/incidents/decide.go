package incidents

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/quench-dev/quench/internal/trust"
	"github.com/quench-dev/quench/workflows"
)

// ErrNoSigner: this process cannot vouch for who decides, so it does not send decisions.
var ErrNoSigner = errors.New("decisions are signed by a quench front door: approve through `quench dev`'s or `quench server`'s API, or Slack")

// refusedError is a decision the incident itself refused and recorded on its timeline (not
// an approver, four-eyes, a proof that does not hold, params changed, already decided): it
// is ErrRefused, and ErrConflict too when the incident had moved on, so the API answers 409
// for a stale request and 403 for a refused decider.
type refusedError struct{ msg string }

func (e refusedError) Error() string { return e.msg }
func (e refusedError) Is(target error) bool {
	return target == ErrRefused || (target == ErrConflict && isConflict(e.msg))
}

// Decide signs a decision as made by d.Approver through d.Via, with the groups d.Groups
// the front door verified, and sends it; it waits for the workflow's answer. The caller is
// the front door and must have authenticated d.Approver: an identity with its kind
// ("api:deploy-bot", "slack:U0123", "cli:alice"), or a bare name, which takes d.Via's kind.
// Refusals (wrong approver, four-eyes, stale digest, already decided) come back as errors
// that say why (errors.Is(err, ErrRefused) when the incident refused and recorded it).
func (s *Service) Decide(ctx context.Context, ref string, d workflows.Decision) (workflows.DecisionResult, error) {
	id, err := s.Resolve(ctx, ref) // an unknown incident is the first thing to say
	if err != nil {
		return workflows.DecisionResult{}, err
	}
	if s.Signer == nil {
		return workflows.DecisionResult{}, fmt.Errorf("%s refused: %w", d.Verdict, ErrNoSigner)
	}
	identity, err := decider(d)
	if err != nil {
		return workflows.DecisionResult{}, fmt.Errorf("%s refused: %w", d.Verdict, err)
	}
	// A full digest with its step goes straight to the workflow, which checks it; anything
	// shorter is expanded against what the incident is waiting on.
	if d.StepID == "" || len(d.Digest) != fullDigestLen {
		st, err := s.Status(ctx, id)
		if err != nil {
			return workflows.DecisionResult{}, err
		}
		p, err := PickApproval(st, d.StepID, d.Digest)
		if err != nil {
			return workflows.DecisionResult{}, fmt.Errorf("%s refused: %w", d.Verdict, err)
		}
		d.StepID, d.Digest = p.StepID, p.Digest
	}
	claim := workflows.ClaimFor(id, identity, d)
	claim.Person = s.People.PersonOf(identity)
	proof := s.Signer.Sign(claim) // the current time and a fresh nonce
	d.Approver, d.Proof = identity, &proof
	h, err := s.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateName:   workflows.UpdateDecide,
		Args:         []any{d},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return workflows.DecisionResult{}, fmt.Errorf("%s refused: %w", d.Verdict, explain(err))
	}
	var res workflows.DecisionResult
	if err := h.Get(ctx, &res); err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == workflows.ErrTypeDecisionRefused {
			return workflows.DecisionResult{}, refusedError{msg: d.Verdict + " refused: " + app.Message()}
		}
		return workflows.DecisionResult{}, fmt.Errorf("%s refused: %w", d.Verdict, explain(err))
	}
	return res, nil
}

// decider checks the identity a front door authenticated: its kind from the channel when it
// has none, no look-alikes, and a Slack identity only through Slack (and only one there), so
// no other door can speak for a Slack user.
func decider(d workflows.Decision) (string, error) {
	via := d.Via
	if via == "" {
		via = trust.DefaultKind
	}
	identity, err := trust.CheckIdentity(trust.Qualify(d.Approver, via))
	if err != nil {
		return "", Invalid(fmt.Errorf("approver: %w", err))
	}
	if (trust.Kind(identity) == "slack") != (via == "slack") {
		return "", Invalid(fmt.Errorf("approver %s cannot decide via %s: Slack identities decide through Slack only", identity, via))
	}
	return identity, nil
}

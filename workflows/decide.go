package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/trust"
)

// maxNonces bounds the nonces an incident remembers within the freshness window.
const maxNonces = 1000

var errUnsigned = errors.New("the decision carries no proof from a quench front door, so nobody vouches for who sent it: " +
	"decide through `quench dev`'s or `quench server`'s API, or Slack")

// validateUpdate refuses what cannot be recorded at all. Everything else is accepted and
// checked by decide, so a refusal leaves a line on the timeline (a validator cannot write).
func (w *incident) validateUpdate(d Decision) error {
	if w.closed {
		return fmt.Errorf("incident %s is closed (%s): there is nothing left to decide", w.status.ShortID, w.status.State)
	}
	return nil
}

// decide checks a decision and records it, or refuses it and records the attempt. It runs
// as the update's handler: two updates accepted in one workflow task are checked here in
// turn, each against what the other recorded.
func (w *incident) decide(ctx workflow.Context, d Decision) (DecisionResult, error) {
	if d.Proof == nil {
		return w.decideUnsigned(ctx, d)
	}
	c, err := w.checkSigned(ctx, d)
	if err != nil {
		return DecisionResult{}, w.refuse(ctx, d, c, err)
	}
	identity, _ := trust.CheckIdentity(c.Identity) // checked by checkSigned
	signed := Decision{StepID: c.StepID, Digest: c.Digest, Verdict: c.Verdict, Reason: c.Reason, Via: c.Via}
	return w.recordDecision(ctx, signed, trust.Display(identity), c.Person)
}

// checkSigned checks a decision's proof and what it claims against the incident. It returns
// the claim once its signature holds (nil before), so a refusal can name who tried.
func (w *incident) checkSigned(ctx workflow.Context, d Decision) (*trust.Claim, error) {
	if w.closed {
		return nil, fmt.Errorf("incident %s is closed (%s): there is nothing left to decide", w.status.ShortID, w.status.State)
	}
	w.ensureDecisionKeys(ctx)
	keys := w.st.Policy.DecisionKeys
	if len(keys) == 0 {
		return nil, errors.New("this incident trusts no decision signing key, so no decision can count: " +
			"configure decisions.signing_key (or decisions.trusted_keys) for the quench worker")
	}
	now := workflow.Now(ctx)
	if err := trust.VerifyAny(keys, *d.Proof, now, trust.DefaultMaxAge); err != nil {
		return nil, fmt.Errorf("its proof does not hold: %w", err)
	}
	c := d.Proof.Claim
	// Signed by a trusted front door: used once, whatever the outcome, since the proof is
	// now in this incident's history for anyone who can read it.
	nonces, err := w.st.Nonces.Record(c.Nonce, c.At, now, trust.DefaultMaxAge+trust.ClockSkew, maxNonces)
	if err != nil {
		return &c, err
	}
	w.st.Nonces = nonces
	if c.IncidentID != w.status.IncidentID {
		return &c, fmt.Errorf("its proof is for incident %s, not this one", c.IncidentID)
	}
	if d.StepID != c.StepID || d.Digest != c.Digest || d.Verdict != c.Verdict {
		return &c, errors.New("it does not match its proof (step, digest or verdict changed after signing)")
	}
	identity, err := trust.CheckIdentity(c.Identity)
	if err != nil {
		return &c, err
	}
	if c.Verdict != VerdictApprove && c.Verdict != VerdictReject {
		return &c, fmt.Errorf("unknown verdict %q: use %q or %q", c.Verdict, VerdictApprove, VerdictReject)
	}
	idx, err := w.findPending(c.StepID)
	if err != nil {
		return &c, err
	}
	p := w.status.Pending[idx]
	if verdictOf(p) != "" {
		return &c, fmt.Errorf("step %s is already decided: a decision that completed first won", p.StepID)
	}
	if c.Digest != p.Digest {
		return &c, fmt.Errorf("the step's params changed: review again (step %s now has digest %s)", p.StepID, p.Digest)
	}
	who := w.personsOf(identity, c.Person)
	if p.FourEyes && overlap(who, w.requesterPersons()) {
		return &c, fmt.Errorf("%s started this incident (as %s) and step %s needs four eyes: ask someone else to decide",
			personText(who), trust.Display(w.status.Requester), p.StepID)
	}
	for _, prev := range p.Approvals {
		if overlap(who, w.personsOf(prev.Approver, prev.Person)) {
			return &c, fmt.Errorf("%s already decided on step %s (%s, as %s): each person counts once",
				personText(who), p.StepID, prev.Verdict, prev.Approver)
		}
	}
	return &c, w.mayApprove(p, identity, c)
}

// mayApprove: the approver is in one of the approval's groups, as the incident's policy
// says: a member listed by person or identity, a group a front door verified and the policy
// maps, or an unconfigured group when groups are open. No groups: anyone.
func (w *incident) mayApprove(p PendingApproval, identity string, c trust.Claim) error {
	if len(p.Groups) == 0 {
		return nil
	}
	pol := w.st.Policy
	person := pol.People.PersonOf(identity)
	for _, g := range p.Groups {
		members, configured := pol.Groups[g]
		if !configured && pol.OpenGroups {
			return nil
		}
		for _, m := range members {
			if pol.People.Person(m) == person {
				return nil
			}
		}
		for _, vg := range c.Groups {
			// A group counts only from the front door of its own kind (Slack's from Slack).
			if trust.Kind(vg) == trust.Kind(identity) && slices.Contains(pol.ExternalGroups[vg], g) {
				return nil
			}
		}
	}
	return fmt.Errorf("%s may not decide on step %s: not a member of %s (ask a member, or add them to the group in the quench config)",
		trust.Display(identity), p.StepID, joinOr(p.Groups))
}

// personsOf is who an identity is: the person the incident's policy maps it to and the
// person the front door's claim named (the same, unless configs differ; either matching
// refuses, never admits).
func (w *incident) personsOf(identity, claimed string) []string {
	var out []string
	if p := w.st.Policy.People.PersonOf(identity); p != "" {
		out = append(out, p)
	}
	if claimed != "" && !slices.Contains(out, claimed) {
		out = append(out, claimed)
	}
	return out
}

// requesterPersons is who started the incident, with the kind of the channel they used.
func (w *incident) requesterPersons() []string {
	var out []string
	if w.status.RequesterPerson != "" {
		out = append(out, w.status.RequesterPerson)
	}
	if p := w.requesterPerson(); p != "" && !slices.Contains(out, p) {
		out = append(out, p)
	}
	return out
}

// requesterPerson maps the requester to a person under the incident's policy. A requester
// that is not a valid identity (only a raw start can send one) stands for itself.
func (w *incident) requesterPerson() string {
	if strings.TrimSpace(w.status.Requester) == "" {
		return ""
	}
	id := trust.Qualify(w.status.Requester, w.status.Source)
	if p := w.st.Policy.People.PersonOf(id); p != "" {
		return p
	}
	return "invalid:" + strings.ToLower(strings.TrimSpace(w.status.Requester))
}

func overlap(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

func personText(persons []string) string {
	if len(persons) == 0 {
		return "this approver"
	}
	return trust.Display(persons[0])
}

// whoText names an approver on the timeline: "alice (slack:U0123ALICE)" when people maps
// the identity to a person, else the identity.
func whoText(approver, person string) string {
	if person == "" || strings.Contains(person, ":") || strings.EqualFold(person, approver) {
		return approver
	}
	return person + " (" + approver + ")"
}

// ensureDecisionKeys: an incident started before decisions were signed has no keys in its
// policy. Its first signed decision loads the worker's current keys and people once, so it
// can still be decided; every later decision is checked against what was loaded.
func (w *incident) ensureDecisionKeys(ctx workflow.Context) {
	if len(w.st.Policy.DecisionKeys) > 0 || w.keysLoaded {
		return
	}
	w.keysLoaded = true
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var policy activities.Policy
	if err := workflow.ExecuteLocalActivity(lctx, activities.PolicyActivity).Get(lctx, &policy); err != nil {
		w.logger.Error("Could not load the decision keys", "error", err)
		return
	}
	w.st.Policy.DecisionKeys = policy.DecisionKeys
	if w.st.Policy.People == nil {
		w.st.Policy.People = policy.People
	}
	if w.st.Policy.ExternalGroups == nil {
		w.st.Policy.ExternalGroups = policy.ExternalGroups
	}
}

// refuse puts a refused decision on the timeline (who tried, why) and returns the error
// the decider sees. Nothing else changes. Without a verified claim every field is the
// sender's word: quoted, shortened and marked unverified.
func (w *incident) refuse(ctx workflow.Context, d Decision, c *trust.Claim, why error) error {
	w.progress++
	quoted := func(s string) string { return fmt.Sprintf("%q", clip(s)) }
	verdict, step, via, who, actor := quoted(d.Verdict), quoted(d.StepID), quoted(d.Via), quoted(d.Approver)+" (unverified)", ""
	if c != nil {
		verdict, step, via = c.Verdict, c.StepID, c.Via
		actor = trust.Display(c.Identity)
		who = whoText(actor, c.Person)
	}
	text := fmt.Sprintf("refused: %s of step %s by %s via %s: %v", verdict, step, who, via, why)
	w.event(ctx, EventDecisionRefused, clip(d.StepID), actor, text,
		map[string]string{"verdict": clip(verdict), "via": clip(via), "verified": fmt.Sprint(c != nil)})
	return temporal.NewNonRetryableApplicationError(why.Error(), ErrTypeDecisionRefused, nil)
}

// clip shortens what a sender wrote to a line's worth, so a refusal cannot flood the timeline.
func clip(s string) string {
	const limit = 80
	if r := []rune(s); len(r) > limit {
		return string(r[:limit]) + "…"
	}
	return s
}

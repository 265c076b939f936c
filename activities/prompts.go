package activities

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/ports"
)

// PromptActivities read prompt changes, propose rollbacks and freeze prompt deploys.
type PromptActivities struct {
	Prompts ports.Prompts
	Freezer ports.Freezer
	Logger  *slog.Logger // nil: slog.Default()
}

func (a *PromptActivities) freezerReady() error {
	if a.Freezer == nil {
		return notConfigured("no freezer configured: the worker registers the freeze workflow client; this worker was built without it (check the worker's wiring)")
	}
	return nil
}

// Changes lists the prompt commits of the last `since` (prompts.changes).
func (a *PromptActivities) Changes(ctx context.Context, in StepInput) (StepResult, error) {
	if a.Prompts == nil {
		return skipped(ctx, a.Logger, in, PortPrompts, noPromptsRepo), nil
	}
	since, err := paramsOf(ActionPromptsChanges, in).positiveDuration("since")
	if err != nil {
		return StepResult{}, err
	}
	now := stepNow(in)
	return withHeartbeat(ctx, func(ctx context.Context) (StepResult, error) {
		commits, err := a.Prompts.Changes(ctx, now.Add(-since), now)
		if err != nil {
			return StepResult{}, classify(ActionPromptsChanges, err)
		}
		listed := make([]any, 0, min(len(commits), maxCommitsInOutputs))
		for _, c := range commits[:min(len(commits), maxCommitsInOutputs)] {
			listed = append(listed, commitOutput(c))
		}
		out := map[string]any{"count": len(commits), "commits": listed, "suspect": "", "last_good": "", "newest": ""}
		if len(commits) == 0 {
			return StepResult{
				Summary: fmt.Sprintf("no prompt changes in the last %s", since),
				Outputs: out,
			}, nil
		}
		oldest := commits[len(commits)-1]
		out["suspect"] = oldest.SHA
		out["last_good"] = oldest.Parent
		out["newest"] = commits[0].SHA
		return StepResult{
			Summary: fmt.Sprintf("%s in the last %s; oldest suspect %s %q by %s",
				plural(len(commits), "prompt change", "prompt changes"), since, oldest.Short,
				shorten(oldest.Message, maxSummaryMessageRunes), oldest.Author),
			Outputs: out,
		}, nil
	})
}

func commitOutput(c ports.PromptCommit) map[string]any {
	files := make([]any, 0, len(c.Files))
	for _, f := range c.Files {
		files = append(files, map[string]any{"path": f.Path, "added": f.Added, "deleted": f.Deleted})
	}
	out := map[string]any{
		"sha": c.SHA, "short": c.Short, "author": c.Author,
		"date": c.Date.UTC().Format(time.RFC3339), "message": c.Message, "files": files,
	}
	if c.PR != 0 {
		out["pr"] = c.PR
	}
	if c.URL != "" {
		out["url"] = c.URL
	}
	return out
}

// RollbackPR proposes a rollback of the prompts on branch quench/rollback-<incident>
// (prompts.rollback_pr). Nothing is merged: a human reviews the branch.
func (a *PromptActivities) RollbackPR(ctx context.Context, in StepInput) (StepResult, error) {
	if a.Prompts == nil {
		return skipped(ctx, a.Logger, in, PortPrompts, noPromptsRepo), nil
	}
	p := paramsOf(ActionPromptsRollback, in)
	since, err := p.positiveDuration("since")
	if err != nil {
		return StepResult{}, err
	}
	if _, err := identityOf(ActionPromptsRollback, in); err != nil {
		return StepResult{}, err
	}
	short := in.ShortID
	if short == "" {
		// The short ID is the ID's last 6 hex; derive it the same way for a hand-run step.
		short = in.IncidentID[max(0, len(in.IncidentID)-6):]
	}
	now := stepNow(in)
	req := ports.RollbackRequest{
		Branch:   rollbackBranchPrefix + short,
		Good:     p.str("good"),
		Since:    now.Add(-since),
		Until:    now,
		Message:  rollbackMessage(in),
		At:       now,
		Through:  p.str("through"),
		Incident: in.IncidentID,
		Evidence: p.str("evidence"),
	}
	return withHeartbeat(ctx, func(ctx context.Context) (StepResult, error) {
		rb, err := a.Prompts.Rollback(ctx, req)
		if err != nil {
			return StepResult{}, classify(ActionPromptsRollback, err)
		}
		reverted := make([]any, 0, len(rb.Reverted))
		shorts := make([]string, 0, len(rb.Reverted))
		for _, sha := range rb.Reverted {
			reverted = append(reverted, sha)
			shorts = append(shorts, shortSHA(sha))
		}
		out := map[string]any{
			"branch": rb.Branch, "commit": rb.Commit, "url": rb.URL,
			"reverted": reverted, "noop": rb.NoOp,
		}
		if rb.NoOp {
			return StepResult{Summary: "no rollback proposed: " + rb.Reason, Outputs: out, NoOp: true}, nil
		}
		if rb.Applied {
			return appliedRollback(rb, out), nil
		}
		summary := fmt.Sprintf("rollback proposed on branch %s (commit %s): restores the prompts to %s",
			rb.Branch, shortSHA(rb.Commit), shortSHA(rb.Good))
		if rb.PR != 0 {
			out["pr"] = rb.PR
			summary = fmt.Sprintf("rollback pull request #%d proposed (branch %s, commit %s): restores the prompts to %s",
				rb.PR, rb.Branch, shortSHA(rb.Commit), shortSHA(rb.Good))
		}
		if len(shorts) > 0 {
			summary += fmt.Sprintf(", reverting %s (%s)", plural(len(shorts), "commit", "commits"), strings.Join(shorts, ", "))
		}
		res := StepResult{Summary: summary, Outputs: out}
		if rb.URL != "" {
			name := "rollback branch " + rb.Branch
			if rb.PR != 0 {
				name = fmt.Sprintf("rollback pull request #%d", rb.PR)
			}
			res.Links = []ports.Link{{Name: name, URL: rb.URL}}
		}
		return res, nil
	})
}

func rollbackMessage(in StepInput) string {
	title := in.Title
	if title == "" {
		title = in.Runbook
	}
	return fmt.Sprintf("quench: roll back prompts (incident %s)\n\n%s\n\nIncident: %s\nRunbook: %s, step %s",
		in.ShortID, title, in.IncidentID, in.Runbook, in.StepID)
}

func shortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// Freeze holds prompt deploys of a scope frozen until the TTL passes or the incident lifts
// it (prompts.freeze); the unfreeze is registered as the undo.
func (a *PromptActivities) Freeze(ctx context.Context, in StepInput) (StepResult, error) {
	if err := a.freezerReady(); err != nil {
		return StepResult{}, err
	}
	p := paramsOf(ActionPromptsFreeze, in)
	scope, err := p.required("scope", "what is frozen, e.g. prompts")
	if err != nil {
		return StepResult{}, err
	}
	ttl, err := p.positiveDuration("ttl")
	if err != nil {
		return StepResult{}, err
	}
	id, err := identityOf(ActionPromptsFreeze, in)
	if err != nil {
		return StepResult{}, err
	}
	reason := p.str("reason")
	if reason == "" {
		reason = fmt.Sprintf("incident %s (%s)", in.ShortID, in.Runbook)
		if in.Title != "" {
			reason = fmt.Sprintf("incident %s: %s", in.ShortID, in.Title)
		}
	}
	until := stepNow(in).Add(ttl).UTC()
	return withHeartbeat(ctx, func(ctx context.Context) (StepResult, error) {
		if err := a.Freezer.Hold(ctx, scope, id.holder, reason, until); err != nil {
			return StepResult{}, classify(ActionPromptsFreeze, err)
		}
		return StepResult{
			Summary: fmt.Sprintf("prompt deploys frozen (scope %s) until %s", scope, until.Format(time.RFC3339)),
			Outputs: map[string]any{"scope": scope, "until": until.Format(time.RFC3339)},
			Undo: &UndoAction{
				Key:         "freeze/" + scope,
				Action:      ActionPromptsUnfreeze,
				Params:      map[string]string{"scope": scope},
				Description: fmt.Sprintf("lift this incident's freeze of %s", scope),
			},
		}, nil
	})
}

// Unfreeze releases this incident's hold on a scope (prompts.unfreeze). Other incidents'
// holds stay.
func (a *PromptActivities) Unfreeze(ctx context.Context, in StepInput) (StepResult, error) {
	if err := a.freezerReady(); err != nil {
		return StepResult{}, err
	}
	scope, err := paramsOf(ActionPromptsUnfreeze, in).required("scope", "what is unfrozen, e.g. prompts")
	if err != nil {
		return StepResult{}, err
	}
	id, err := identityOf(ActionPromptsUnfreeze, in)
	if err != nil {
		return StepResult{}, err
	}
	return withHeartbeat(ctx, func(ctx context.Context) (StepResult, error) {
		if err := a.Freezer.Release(ctx, scope, id.holder); err != nil {
			return StepResult{}, classify(ActionPromptsUnfreeze, err)
		}
		res := StepResult{
			Summary: fmt.Sprintf("this incident's freeze of %s lifted", scope),
			Outputs: map[string]any{"scope": scope},
			Clears:  []string{"freeze/" + scope},
		}
		inspector, ok := a.Freezer.(ports.FreezeInspector)
		if !ok {
			return res, nil
		}
		frozen, err := inspector.Frozen(ctx, scope)
		if err != nil {
			return StepResult{}, classify(ActionPromptsUnfreeze, err)
		}
		res.Outputs["frozen"] = frozen
		if frozen {
			res.Summary += "; still frozen by other holders"
		}
		return res, nil
	})
}

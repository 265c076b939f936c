package ports

import (
	"context"
	"time"
)

// FreezeEnforcement is a scope's freeze state for a host to enforce.
type FreezeEnforcement struct {
	Scope   string   `json:"scope"`
	Frozen  bool     `json:"frozen"`
	Holders []string `json:"holders,omitempty"` // incident IDs holding the freeze
	Reason  string   `json:"reason,omitempty"`  // the first holder's reason
}

// EnforceResult says what a host did about a freeze.
type EnforceResult struct {
	// Enforced is false when no host enforces this scope (GitHub not configured, or another
	// scope): nothing was done and the freeze workflow schedules no sweep.
	Enforced bool `json:"enforced"`
	// SweepEvery asks the freeze workflow to enforce again this often while the scope is
	// frozen, catching pull requests opened meanwhile; zero means no sweep.
	SweepEvery time.Duration `json:"sweep_every,omitempty"`
	Summary    string        `json:"summary,omitempty"`
}

// FreezeEnforcer makes a prompts host enforce a freeze. Enforcing the same state twice is
// harmless.
type FreezeEnforcer interface {
	EnforceFreeze(ctx context.Context, f FreezeEnforcement) (EnforceResult, error)
}

// Prompts reads the history of the prompts in a repository and proposes rollbacks.
type Prompts interface {
	// Changes lists commits on the base branch that touch the prompts path, committed in
	// [since, until], newest first.
	Changes(ctx context.Context, since, until time.Time) ([]PromptCommit, error)
	// Rollback creates Branch with one commit that restores the prompts path to its last good
	// state. A retry with the same request returns the same commit (AlreadyExisted).
	Rollback(ctx context.Context, req RollbackRequest) (RollbackResult, error)
}

// PromptCommit is one change to the prompts.
type PromptCommit struct {
	SHA     string       `json:"sha"`
	Short   string       `json:"short"`
	Parent  string       `json:"parent,omitempty"` // first parent: the state before this change
	Author  string       `json:"author"`
	Date    time.Time    `json:"date"`
	Message string       `json:"message"` // the subject line
	Files   []FileChange `json:"files"`
	// PR is the pull request that brought the change in, when the host knows it (GitHub).
	PR int `json:"pr,omitempty"`
	// URL shows the commit on the host, when there is one.
	URL string `json:"url,omitempty"`
}

// FileChange is one file of a commit, under the prompts path.
type FileChange struct {
	Path    string `json:"path"`
	Added   int    `json:"added"`
	Deleted int    `json:"deleted"`
}

// RollbackRequest says what to restore. Good, when set, is the commit to restore to;
// otherwise the last good state is the parent of the oldest commit touching the prompts
// path in [Since, Until].
type RollbackRequest struct {
	Branch  string
	Good    string
	Since   time.Time
	Until   time.Time
	Message string
	// At is the commit's author and committer time: the workflow's step time, so a retry
	// builds a byte-identical commit.
	At time.Time
	// Through, when set, is the newest suspect commit (what the responder reviewed): a later
	// commit that changed one of the files to restore is a conflict a human resolves.
	// Empty: every commit up to Until is a suspect.
	Through string
	// Incident is the incident ID and Evidence a one-line evidence summary, for a pull
	// request body (hosts without pull requests ignore them).
	Incident string
	Evidence string
}

// RollbackResult is the proposed rollback.
type RollbackResult struct {
	Branch   string       `json:"branch"`
	Commit   string       `json:"commit,omitempty"`
	Base     string       `json:"base,omitempty"` // the base branch head the commit sits on
	Good     string       `json:"good,omitempty"` // the commit whose prompts were restored
	Reverted []string     `json:"reverted,omitempty"`
	Files    []FileChange `json:"files,omitempty"` // what the rollback commit changes
	URL      string       `json:"url,omitempty"`
	PR       int          `json:"pr,omitempty"` // the pull request proposing it, on hosts that have them
	// AlreadyExisted: the branch was already there with exactly this rollback (a retry).
	AlreadyExisted bool `json:"already_existed,omitempty"`
	// NoOp: nothing to roll back; Reason says why.
	NoOp   bool   `json:"noop,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Applied: the rollback is live, not a proposal (a prompt store that deploys by label,
	// such as Langfuse, moves the label back); Moves records each label before and after.
	Applied bool        `json:"applied,omitempty"`
	Moves   []LabelMove `json:"moves,omitempty"`
}

// LabelMove is a deployment label of a prompt moved from one version to another.
type LabelMove struct {
	Prompt string `json:"prompt"`
	Label  string `json:"label"`
	From   int    `json:"from"` // 0: the label was on no version
	To     int    `json:"to"`
}

// Freezer holds and releases freezes of prompt deploys. The worker implements it with
// signal-with-start on the scope's freeze workflow; holds are keyed by holder, so repeating
// a Hold or a Release is harmless.
type Freezer interface {
	Hold(ctx context.Context, scope, holder, reason string, until time.Time) error
	Release(ctx context.Context, scope, holder string) error
}

// FreezeInspector is optionally implemented by a Freezer to tell whether a scope is still
// frozen (by other holders) after a release.
type FreezeInspector interface {
	Frozen(ctx context.Context, scope string) (bool, error)
}

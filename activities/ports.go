package activities

import (
	"context"
	"time"
)

// The ports below are what the activities need from the outside world. Each is implemented
// by an adapter in internal/targets/... (the embedded defaults: a routing table, a local git
// repository, a JSONL request log, a directory evidence store) and by stateful fakes in tests.
//
// An adapter marks an error that a retry cannot fix (unknown route, bad commit, a branch
// that exists with other content) with Permanent; the activity then fails without retries.

// Gateway points routes at LLM providers.
type Gateway interface {
	Switch(ctx context.Context, req SwitchRequest) (RouteChange, error)
	Restore(ctx context.Context, req RestoreRequest) (RouteChange, error)
}

// SwitchRequest points Route at To ("fallback" = the provider after the active one).
// Holder (the incident ID) owns the saved previous provider that Restore puts back; Key
// (the step's idempotency key) makes a retry return the first result.
type SwitchRequest struct {
	Route  string
	To     string
	Holder string
	Key    string
}

// RestoreRequest puts back the provider Holder saved when it first switched Route.
type RestoreRequest struct {
	Route  string
	Holder string
	Key    string
}

// RouteChange is what a switch or restore did.
type RouteChange struct {
	Route   string `json:"route"`
	From    string `json:"from"`
	To      string `json:"to"`
	Version int64  `json:"version"`
	// NoOp: nothing changed (already on that provider, or nothing saved to restore).
	NoOp bool `json:"noop,omitempty"`
	// Note explains a no-op or a surprise (the route was changed by someone else meanwhile).
	Note string    `json:"note,omitempty"`
	At   time.Time `json:"at"`
}

// KeyBlocker is a gateway that can refuse one agent (or API) key on a route: the way to
// stop a looping agent without taking the route down for everyone. Optional: a Gateway
// that does not implement it makes gateway.block fail as not configured.
type KeyBlocker interface {
	Block(ctx context.Context, req BlockRequest) (BlockChange, error)
	Unblock(ctx context.Context, req BlockRequest) (BlockChange, error)
}

// BlockRequest blocks (or unblocks) AgentKey on Route. Holder (the incident ID) owns the
// block: only its own blocks are lifted by its unblock. Key is the step's idempotency key.
type BlockRequest struct {
	Route    string
	AgentKey string
	Holder   string
	Key      string
}

// BlockChange is what a block or unblock did.
type BlockChange struct {
	Route    string    `json:"route"`
	AgentKey string    `json:"agent_key"`
	Blocked  bool      `json:"blocked"` // the key's state after the change
	Version  int64     `json:"version"`
	NoOp     bool      `json:"noop,omitempty"`
	Note     string    `json:"note,omitempty"`
	At       time.Time `json:"at"`
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

// Traffic reads LLM request traffic.
type Traffic interface {
	Snapshot(ctx context.Context, req SnapshotRequest) (TrafficSnapshot, error)
	Measure(ctx context.Context, in VerifyInput) (VerifyResult, error)
}

// SnapshotRequest asks for the incident window [Now-Window, Now] compared with the baseline
// window [Now-Window-Baseline, Now-Window].
type SnapshotRequest struct {
	Window   time.Duration
	Baseline time.Duration
	Now      time.Time
	Route    string // empty: all routes
	Samples  int    // max redacted samples
}

// TrafficSnapshot is an evidence bundle ready to store, with its headline.
type TrafficSnapshot struct {
	Bundle   []byte // JSON document; its top-level "headline" field holds Headline
	Headline TrafficHeadline
}

// TrafficHeadline is the part of a traffic bundle that goes into workflow history. Every
// bundle carries it under the top-level key "headline", so a retry that finds the bundle
// already stored can answer from it.
type TrafficHeadline struct {
	Requests          int     `json:"requests"`
	BaselineRequests  int     `json:"baseline_requests"`
	ErrorRate         float64 `json:"error_rate"`
	BaselineErrorRate float64 `json:"baseline_error_rate"`
	TopChange         string  `json:"top_change"`
}

// EvidenceStore keeps evidence bundles, immutable once written.
type EvidenceStore interface {
	// Put stores data as incident/name; the same bytes again return the same ref, other
	// bytes under an existing name are refused.
	Put(ctx context.Context, incident, name string, data []byte) (EvidenceRef, error)
	// Get returns a stored bundle, its digest verified; ok is false when there is none.
	Get(ctx context.Context, incident, name string) (ref EvidenceRef, data []byte, ok bool, err error)
}

// Notifier posts a message to chat. Nil means log only.
type Notifier interface {
	Post(ctx context.Context, level, text, incidentID string) error
}

// Package workflows is quench's deterministic half: the runbook interpreter (one workflow
// execution per incident) and the freeze workflow (one per frozen scope). No I/O, clocks or
// randomness here; side effects are activities, named by the runbook's actions.
//
// This file is the contract with the outside: names of workflows, signals, updates and
// queries, and the types they carry. The CLI, the HTTP API, ingest and Slack use only these.
package workflows

import (
	"time"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/trust"
	"github.com/quench-dev/quench/runbooks"
)

// TaskQueue is the one task queue quench's workers poll.
const TaskQueue = "quench"

// Workflow type names.
const (
	IncidentWorkflowName = "incident"
	FreezeWorkflowName   = "freeze"
)

// Signals, updates and queries on an incident.
const (
	SignalAlert   = "alert"   // alert.Alert: a new, repeated or resolved alert of the group
	SignalAlerts  = "alerts"  // []alert.Alert: several alerts of the group at once (ingest's group commit)
	SignalResolve = "resolve" // Resolve: a human says the condition is over
	SignalAbort   = "abort"   // Abort: stop now, run undos
	SignalNote    = "note"    // Note: a line on the timeline
	UpdateDecide  = "decide"  // Decision -> DecisionResult, validated
	QueryStatus   = "status"  // -> Status
)

// Signals and queries on a freeze workflow.
const (
	SignalFreeze   = "freeze"   // Hold
	SignalUnfreeze = "unfreeze" // Release
	QueryFreeze    = "state"    // -> FreezeState
)

// Search attributes quench registers and sets (all Keyword).
const (
	SearchRunbook  = "QuenchRunbook"
	SearchStatus   = "QuenchStatus"
	SearchService  = "QuenchService"
	SearchSeverity = "QuenchSeverity"
	SearchShortID  = "QuenchShortID"
)

// SearchAttributes lists them all, for registration.
var SearchAttributes = []string{SearchRunbook, SearchStatus, SearchService, SearchSeverity, SearchShortID}

// Incident states (Status.State and the QuenchStatus search attribute).
const (
	StateRunning   = "running"
	StateAwaiting  = "awaiting_approval"
	StateClosing   = "closing" // running undos
	StateCompleted = "completed"
	StateResolved  = "resolved" // completed after a human or the alert resolved it
	StateAborted   = "aborted"
	StateFailed    = "failed"
)

// StateVerifying: a step's verify measures the traffic after its change (Status.Verifying).
const StateVerifying = "verifying"

// IncidentInput starts an incident. State is set only by continue-as-new.
type IncidentInput struct {
	IncidentID string            `json:"incident_id"` // = workflow ID
	ShortID    string            `json:"short_id"`    // last 6 hex of the ID
	Spec       runbooks.Spec     `json:"spec"`        // resolved and validated, carries its digest
	Params     map[string]string `json:"params"`      // resolved (defaults, alert labels, k=v)
	Alert      *alert.Alert      `json:"alert,omitempty"`
	// AlertSignalled: Alert also arrives in the signal of the signal-with-start that starts
	// the incident (ingest), so it is counted there, once, not at start.
	AlertSignalled bool           `json:"alert_signalled,omitempty"`
	Requester      string         `json:"requester"` // who started it: "cli:alice", "slack:U123", "alertmanager"
	Source         string         `json:"source"`    // cli | slack | api | alertmanager | grafana | ...
	Severity       string         `json:"severity,omitempty"`
	Service        string         `json:"service,omitempty"`
	State          *IncidentState `json:"state,omitempty"`
	// Limits overrides the interpreter's size limits (nil or zero fields: the defaults).
	Limits *Limits `json:"limits,omitempty"`
	// Policy is the worker's policy as the starter resolved it (same config), so the first
	// workflow task needs no local activity to load it. Nil (older starters, starters without
	// one): the incident loads it with the incident.policy local activity, as before.
	Policy *activities.Policy `json:"policy,omitempty"`
	// Alerts are the alerts of the ingest commit that started the incident (an eager start
	// instead of a signal-with-start): counted at start exactly as if signalled first.
	Alerts []alert.Alert `json:"alerts,omitempty"`
	// Speed divides the incident's waits (verify's poll, window and deadline, wait steps,
	// approval timeouts): `quench demo --speed`. 0 or 1 is real time.
	Speed float64 `json:"speed,omitempty"`
	// Revision is the interpreter revision the starter asked for (StartRevision); 0 for
	// incidents started before revisions existed. It selects, deterministically for every
	// replay, the command sequence of the first run (see StartRevision).
	Revision int `json:"revision,omitempty"`
	// Gateway lists what the gateway can do (ports.Capability values) as the starter's
	// configuration says: `when: incident.gateway.pin_model` reads it, the same in every
	// replay. Nil (older starters): every capability reads false.
	Gateway []string `json:"gateway,omitempty"`
}

// StartRevision is the Revision a starter whose workers all run this code puts in a new
// incident's input (an older worker ignores it and runs revision 0's commands, which a
// newer replay would then not match: starters upgraded before workers keep 0). Revision 1: the
// start set every search attribute (so the first run does not upsert them again), and
// gateway.switch reads the route's state with a local activity in the same workflow task
// as the switch is scheduled from (no gateway-read version marker, no activity round trip).
const StartRevision = 1

// Limits bound what an incident keeps. They travel in the input, not in package variables,
// so every run of one incident (and every replay of it) uses the same values, and a test
// that lowers them cannot leak into another.
type Limits struct {
	// TimelineCap is the number of timeline events kept in state (default 500); older ones
	// are dropped and counted in Status.TimelineDropped.
	TimelineCap int `json:"timeline_cap,omitempty"`
	// HistoryLimit is the history length past which the incident continues as new at the
	// next safe point (default 8000; Temporal warns at 10,240 events).
	HistoryLimit int `json:"history_limit,omitempty"`
	// MaxTrackedAlerts bounds the distinct alert fingerprints the state remembers (default
	// 5000): the state travels through continue-as-new, and a sender with ever new
	// fingerprints must not grow it without end. Past it resolved ones are forgotten
	// first; a new one while all still fire is counted in AlertSummary.Untracked.
	MaxTrackedAlerts int `json:"max_tracked_alerts,omitempty"`
}

// Resolve is the payload of SignalResolve.
type Resolve struct {
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
	// RequestKey names the request that sent the signal (e.g. a Slack command's
	// trigger_id): the same key again within RequestKeyWindow is ignored, so a replayed
	// request that reaches another quench process changes nothing.
	RequestKey string `json:"request_key,omitempty"`
}

// Abort is the payload of SignalAbort.
type Abort struct {
	By         string `json:"by"`
	Reason     string `json:"reason,omitempty"`
	RequestKey string `json:"request_key,omitempty"` // as Resolve.RequestKey
}

// Note is the payload of SignalNote.
type Note struct {
	By         string `json:"by"`
	Text       string `json:"text"`
	RequestKey string `json:"request_key,omitempty"` // as Resolve.RequestKey
}

// Verdicts of a decision.
const (
	VerdictApprove = "approve"
	VerdictReject  = "reject"
)

// Decision is the payload of UpdateDecide. Digest must equal the pending approval's digest,
// so an approver approves exactly the params they were shown.
//
// A decision counts only with a Proof: a claim signed by the quench front door that
// authenticated the decider (incidents.Service signs it). Who decided, through which
// channel, with which verified groups and why are then the proof's, not these fields;
// StepID, Digest and Verdict must equal the proof's. Anything else (a raw update sent with
// the Temporal SDK, a forged or replayed proof) is refused and the attempt is put on the
// timeline. Decisions recorded before proofs existed replay as they ran.
type Decision struct {
	StepID   string `json:"step_id"` // may be empty when exactly one approval is pending
	Digest   string `json:"digest"`  // may be empty only from a trusted caller that just read it (CLI shows it)
	Approver string `json:"approver"`
	// Groups are groups the front door verified the approver in with their owner (Slack
	// user groups as "slack:S0123"); the incident's policy maps them to approver groups.
	Groups  []string `json:"groups,omitempty"`
	Verdict string   `json:"verdict"` // approve | reject
	Reason  string   `json:"reason,omitempty"`
	Via     string   `json:"via,omitempty"` // cli | slack | api
	// Proof is the front door's signed claim of this decision.
	Proof *trust.Proof `json:"proof,omitempty"`
}

// ErrTypeDecisionRefused is the application error type of a decision the incident refused
// (and recorded on its timeline).
const ErrTypeDecisionRefused = "DecisionRefused"

// ClaimFor is the claim a front door signs for decision d, made by identity (already
// checked and qualified), on incident incidentID. The signer adds the person, time and nonce.
func ClaimFor(incidentID, identity string, d Decision) trust.Claim {
	return trust.Claim{Identity: identity, Via: d.Via, IncidentID: incidentID, StepID: d.StepID, Digest: d.Digest,
		Verdict: d.Verdict, Reason: d.Reason, Groups: d.Groups}
}

// DecisionResult tells the decider what their decision did.
type DecisionResult struct {
	StepID    string `json:"step_id"`
	Outcome   string `json:"outcome"`   // approved | rejected | counted (quorum not reached yet)
	Remaining int    `json:"remaining"` // approvals still needed
	// Undo: the decision was on the step's undo at close, not on the step itself.
	Undo bool `json:"undo,omitempty"`
	// Subject names what was decided ("step failback (gateway.restore)", "the undo of step
	// block (gateway.unblock)"), so a caller need not word "Step block approved" for an undo.
	Subject string `json:"subject,omitempty"`
}

// Status is the answer to QueryStatus: everything a human needs to see the incident.
type Status struct {
	IncidentID string `json:"incident_id"`
	ShortID    string `json:"short_id"`
	Runbook    string `json:"runbook"`
	Title      string `json:"title"`
	State      string `json:"state"`
	Severity   string `json:"severity,omitempty"`
	Service    string `json:"service,omitempty"`
	Requester  string `json:"requester"`
	// RequesterPerson is the person behind Requester (the policy's people), for four-eyes.
	RequesterPerson string              `json:"requester_person,omitempty"`
	Source          string              `json:"source"`
	Resolved        bool                `json:"resolved"`
	StartedAt       time.Time           `json:"started_at"`
	ClosedAt        *time.Time          `json:"closed_at,omitempty"`
	Params          map[string]string   `json:"params,omitempty"`
	Steps           []StepState         `json:"steps"`
	Pending         []PendingApproval   `json:"pending,omitempty"`
	Undo            []UndoEntry         `json:"undo,omitempty"` // the stack, oldest first
	Alerts          AlertSummary        `json:"alerts"`
	Evidence        []ports.EvidenceRef `json:"evidence,omitempty"`
	Timeline        []Event             `json:"timeline"`
	// TimelineDropped counts old events dropped to keep the state small.
	TimelineDropped int `json:"timeline_dropped,omitempty"`
	Runs            int `json:"runs"` // continue-as-new generations so far
	// Chat is where the incident's chat card is (answers of the status query only).
	Chat *ports.ChatRef `json:"chat,omitempty"`
	// Verifying is the verify in progress, if any (State is then StateVerifying).
	Verifying *Verifying `json:"verifying,omitempty"`
}

// Verifying is a step's verify while it waits for the traffic after the change: what it
// waits for, until when, and what it measured last.
type Verifying struct {
	StepID string `json:"step_id"`
	Signal string `json:"signal"`
	// Condition is the pass condition in words: "error_rate below 0.05 over at least 20
	// requests that started after the change, served by fallback".
	Condition string   `json:"condition"`
	Below     *float64 `json:"below,omitempty"`
	Above     *float64 `json:"above,omitempty"`
	// MinRequests is how many requests the window must hold before it is judged.
	MinRequests int `json:"min_requests"`
	// Since: only requests that started at or after it count (when the step's change ended).
	Since time.Time `json:"since"`
	// Provider: only requests served by it count, where the traffic source knows.
	Provider string `json:"provider,omitempty"`
	// Every is the poll interval and Window the longest span measured ("30s", "2m0s").
	Every  runbooks.Duration `json:"every"`
	Window runbooks.Duration `json:"window"`
	// Deadline: the verify passes before it or the change is reverted and the incident escalates.
	Deadline time.Time    `json:"deadline"`
	Polls    int          `json:"polls"`
	Last     *Measurement `json:"last,omitempty"`
}

// Measurement is one reading of a verify's signal.
type Measurement struct {
	At       time.Time `json:"at"`
	Value    float64   `json:"value"`
	Requests int       `json:"requests"`
	// Enough: the window held MinRequests requests, so the value was judged.
	Enough bool `json:"enough"`
	// Passes: the value meets the condition (meaningful only when Enough).
	Passes bool   `json:"passes"`
	Detail string `json:"detail,omitempty"`
	Error  string `json:"error,omitempty"` // the measurement failed (it is tried again)
}

// Step states.
const (
	StepPending  = "pending"
	StepRunning  = "running"
	StepAwaiting = "awaiting_approval"
	StepDone     = "done"
	StepSkipped  = "skipped"
	StepRejected = "rejected"
	StepFailed   = "failed"
	StepReverted = "reverted" // verify failed and the change was undone
	StepCanceled = "canceled" // the incident was aborted while it ran
)

// StepVerifying: the step's change is made; its verify measures the traffic after it.
const StepVerifying = "verifying"

// StepState is one step's progress.
type StepState struct {
	ID      string `json:"id"`
	Action  string `json:"action"`
	Title   string `json:"title,omitempty"`
	State   string `json:"state"`
	Summary string `json:"summary,omitempty"`
	Error   string `json:"error,omitempty"`
	// SkipReason says why a skipped step did not run (a false `when`, a port not configured).
	SkipReason string `json:"skip_reason,omitempty"`
	// NotConfigured names the port whose absence skipped the step (traffic, prompts).
	NotConfigured string            `json:"not_configured,omitempty"`
	Params        map[string]string `json:"params,omitempty"` // rendered
	Outputs       map[string]any    `json:"outputs,omitempty"`
	Links         []ports.Link      `json:"links,omitempty"`
	StartedAt     *time.Time        `json:"started_at,omitempty"`
	EndedAt       *time.Time        `json:"ended_at,omitempty"`
	// Health is what a fail-back step measured of the provider it returns to (failback.go).
	Health *ProviderHealth `json:"health,omitempty"`
}

// PendingApproval is an approval gate waiting for decisions.
type PendingApproval struct {
	StepID      string            `json:"step_id"`
	Action      string            `json:"action"`
	Undo        bool              `json:"undo,omitempty"` // approving an undo at close
	Prompt      string            `json:"prompt,omitempty"`
	Params      map[string]string `json:"params"`
	Digest      string            `json:"digest"`
	Groups      []string          `json:"groups,omitempty"`
	Quorum      int               `json:"quorum"`
	FourEyes    bool              `json:"four_eyes,omitempty"`
	RequestedAt time.Time         `json:"requested_at"`
	Deadline    *time.Time        `json:"deadline,omitempty"`
	OnTimeout   string            `json:"on_timeout"`
	Escalated   bool              `json:"escalated,omitempty"`
	Approvals   []DecisionRecord  `json:"approvals,omitempty"`
}

// DecisionRecord is an accepted decision.
type DecisionRecord struct {
	Approver string `json:"approver"` // the identity, as trust.Display shows it
	// Person is the person behind Approver, as the front door's signed claim names them.
	Person  string    `json:"person,omitempty"`
	Verdict string    `json:"verdict"`
	Reason  string    `json:"reason,omitempty"`
	Via     string    `json:"via,omitempty"`
	At      time.Time `json:"at"`
	// Auto: quench decided by itself on measured health (failback.go); never set from a decision.
	Auto bool `json:"auto,omitempty"`
}

// UndoEntry is a registered compensation on the stack.
type UndoEntry struct {
	StepID string                `json:"step_id"`
	Undo   activities.UndoAction `json:"undo"`
	Keep   bool                  `json:"keep,omitempty"`
	Gate   *runbooks.Approval    `json:"gate,omitempty"`  // the undo needs this approval
	State  string                `json:"state,omitempty"` // "" registered | done | kept | rejected | failed
}

// AlertSummary counts the alerts an incident has seen.
type AlertSummary struct {
	Received int `json:"received"` // every alert signal
	Distinct int `json:"distinct"` // distinct (fingerprint, status) seen
	Firing   int `json:"firing"`   // fingerprints currently firing
	// Untracked counts firing alerts with a new fingerprint that arrived while the incident
	// already tracked Limits.MaxTrackedAlerts fingerprints, all firing.
	Untracked  int        `json:"untracked,omitempty"`
	LastStatus string     `json:"last_status,omitempty"`
	LastAt     *time.Time `json:"last_at,omitempty"`
}

// Event kinds on the timeline.
const (
	EventStarted          = "started"
	EventStepStarted      = "step_started"
	EventStepDone         = "step_done"
	EventStepSkipped      = "step_skipped"
	EventStepFailed       = "step_failed"
	EventStepRetry        = "step_retry"
	EventApprovalAsked    = "approval_requested"
	EventDecision         = "decision"
	EventDecisionRefused  = "decision_refused" // who tried and why it did not count
	EventApprovalTimeout  = "approval_timeout"
	EventEscalated        = "escalated"
	EventAlert            = "alert"
	EventResolved         = "resolved"
	EventAborted          = "aborted"
	EventNote             = "note"
	EventVerify           = "verify"
	EventUndo             = "undo"
	EventRollbackProposal = "rollback_proposed"
	EventClosed           = "closed"
)

// EventVerifying: a verify starts waiting for the traffic after the change.
const EventVerifying = "verifying"

// Event is one line of the timeline.
type Event struct {
	At     time.Time         `json:"at"`
	Kind   string            `json:"kind"`
	StepID string            `json:"step_id,omitempty"`
	Actor  string            `json:"actor,omitempty"`
	Text   string            `json:"text"`
	Data   map[string]string `json:"data,omitempty"`
}

// IncidentState is the interpreter's whole state: the query answer plus what it needs to
// carry on after continue-as-new.
type IncidentState struct {
	Status     Status            `json:"status"`
	NextStep   int               `json:"next_step"`
	Policy     activities.Policy `json:"policy"`
	SeenAlerts map[string]string `json:"seen_alerts,omitempty"` // fingerprint -> last status
	// Deliveries is, per fingerprint, the last ingest inbox delivery seen (alert.Delivery).
	Deliveries  map[string]string `json:"deliveries,omitempty"`
	Aborted     bool              `json:"aborted,omitempty"`
	AbortReason string            `json:"abort_reason,omitempty"`
	// Chat is the incident's chat card (only when Policy.ChatEnabled).
	Chat *ChatState `json:"chat,omitempty"`
	// Nonces are the nonces of the fresh signed decisions seen, so each counts once.
	Nonces trust.NonceLog `json:"nonces,omitempty"`
	// Requests are the request keys of the signals acted on, so a replayed request counts
	// once whichever process it reached (kept in history, not in a process's memory).
	Requests trust.NonceLog `json:"requests,omitempty"`
}

// FreezeInput starts the freeze workflow of one scope. State is set by continue-as-new.
type FreezeInput struct {
	Scope string       `json:"scope"`
	State *FreezeState `json:"state,omitempty"`
	// Limits overrides the freeze workflow's size limits (nil or zero fields: the defaults).
	Limits *FreezeLimits `json:"limits,omitempty"`
}

// FreezeLimits bound what a freeze workflow keeps; like Limits they travel in the input.
type FreezeLimits struct {
	// HistoryCap is the number of freeze events kept in FreezeState.History (default 100).
	HistoryCap int `json:"history_cap,omitempty"`
	// HistoryLimit is the history length past which the workflow continues as new (default 4000).
	HistoryLimit int `json:"history_limit,omitempty"`
}

// Hold is the payload of SignalFreeze: Holder (an incident ID) freezes the scope until Until.
type Hold struct {
	Holder string    `json:"holder"`
	Reason string    `json:"reason,omitempty"`
	Until  time.Time `json:"until"`
}

// Release is the payload of SignalUnfreeze.
type Release struct {
	Holder string `json:"holder"`
	By     string `json:"by,omitempty"`
}

// FreezeState answers QueryFreeze.
type FreezeState struct {
	Scope   string        `json:"scope"`
	Frozen  bool          `json:"frozen"`
	Holds   []Hold        `json:"holds,omitempty"`
	History []FreezeEvent `json:"history,omitempty"` // newest last, capped
}

// FreezeEvent is a change of a scope's freeze.
type FreezeEvent struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"` // freeze | unfreeze | expired
	Holder string    `json:"holder"`
	Reason string    `json:"reason,omitempty"`
}

// FreezeWorkflowID is the workflow ID of a scope's freeze workflow.
func FreezeWorkflowID(scope string) string { return "quench-freeze-" + scope }

// Package activities holds the side-effecting half of quench: each activity is a method on a
// struct that holds its ports (narrow interfaces declared here, implemented in
// internal/targets/...). Every step activity takes a StepInput and returns a StepResult, so
// the workflow runs any catalog action the same way, by name.
//
// Every activity is idempotent: it derives its side effect's identity from
// StepInput.IdempotencyKey (workflow ID + step ID), and a retry finds and returns what the
// first attempt did.
package activities

import (
	"crypto/ed25519"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/trust"
)

// StepInput is what the workflow hands to a step activity.
type StepInput struct {
	IncidentID string `json:"incident_id"` // the workflow ID
	ShortID    string `json:"short_id"`
	Runbook    string `json:"runbook"`
	Title      string `json:"title"`
	StepID     string `json:"step_id"`
	Action     string `json:"action"`
	// IdempotencyKey is IncidentID + "/" + StepID (+ "/undo" for an undo run).
	IdempotencyKey string `json:"idempotency_key"`
	// Params are the step's rendered `with:` values, defaults filled in, types checked.
	Params map[string]string `json:"params"`
	// Now is the workflow's time when the step started: windows are measured from here, so a
	// retry after a crash looks at the same window.
	Now time.Time `json:"now"`
	// Chat is where a notify step posts when the worker has chat; nil (an incident without
	// chat, or started by an older quench): the adapter's default channel.
	Chat *ChatTarget `json:"chat,omitempty"`
}

// ChatTarget is where a notify step posts in chat, as the incident knows it.
type ChatTarget struct {
	Thread  *ports.ChatRef `json:"thread,omitempty"`  // the incident card, once posted
	Channel string         `json:"channel,omitempty"` // the runbook's channel, until then
	// Skip says why the message does not go to chat (chat is off for the incident, or the
	// incident's thread carries it already, as an escalation): log and timeline only.
	Skip string `json:"skip,omitempty"`
}

// StepResult is what a step activity reports back; it goes into workflow history, so it
// holds references and digests, never bulk data.
type StepResult struct {
	Summary string         `json:"summary"`           // one line for the timeline
	Outputs map[string]any `json:"outputs,omitempty"` // for later templates and `when`
	// Undo is the change that reverses this step, registered on the incident's undo stack.
	Undo *UndoAction `json:"undo,omitempty"`
	// Clears lists undo keys this step made unnecessary (a fail back clears the switch's undo).
	Clears   []string            `json:"clears,omitempty"`
	Evidence []ports.EvidenceRef `json:"evidence,omitempty"`
	Links    []ports.Link        `json:"links,omitempty"`
	// NoOp: there was nothing to do (e.g. nothing to roll back). Not an error.
	NoOp bool `json:"noop,omitempty"`
	// Posted is where a notify step posted its message in chat, so the incident's thread
	// does not repeat it.
	Posted *ports.ChatRef `json:"posted,omitempty"`
}

// UndoAction is a registered compensation: run Action with Params when the incident closes.
type UndoAction struct {
	Key         string            `json:"key"` // e.g. "gateway/chat", "freeze/prompts"
	Action      string            `json:"action"`
	Params      map[string]string `json:"params,omitempty"`
	Description string            `json:"description"`
}

// Policy is the worker's configuration an incident needs inside the workflow: read once at
// start by a local activity and kept in workflow state, so it is deterministic on replay.
type Policy struct {
	// Groups maps an approver group to its members: people (names in People) or
	// identities ("alice" is cli:alice, "slack:U123", "api:deploy-bot").
	Groups map[string][]string `json:"groups,omitempty"`
	// People maps a person to their identities: quorum counts people, four-eyes compares them.
	People trust.People `json:"people,omitempty"`
	// ExternalGroups maps a group a front door verified with its owner ("slack:S0123", a
	// Slack user group) to the approver groups its members are in.
	ExternalGroups map[string][]string `json:"external_groups,omitempty"`
	// DecisionKeys are the public keys whose signed decisions count (never a private key).
	DecisionKeys []ed25519.PublicKey `json:"decision_keys,omitempty"`
	// OpenGroups: a group that is not configured admits anyone (four-eyes still holds).
	// On for `quench dev` without a config file, off otherwise.
	OpenGroups bool `json:"open_groups,omitempty"`
	// EscalationGroup is told when an approval times out and a runbook names none.
	EscalationGroup string `json:"escalation_group,omitempty"`
	// ChatEnabled: a chat adapter is configured; the workflow announces to it.
	ChatEnabled bool `json:"chat_enabled,omitempty"`
	// UIURL is the Temporal Web UI base URL, for links.
	UIURL string `json:"ui_url,omitempty"`
}

// Activity names that are not catalog actions.
const (
	PolicyActivity = "incident.policy" // local activity: returns Policy
	VerifyActivity = "traffic.measure" // VerifyInput -> VerifyResult
	// GatewayReadActivity reads a route's state before gateway.switch changes it, so what
	// the switch replaces is in history first: StepInput -> ports.RouteState.
	GatewayReadActivity = "gateway.read"
	// GatewayReadPinActivity reads a route's model before gateway.pin_model changes it
	// (StepInput -> ports.PinState), like GatewayReadActivity for a switch.
	GatewayReadPinActivity = "gateway.read_pin"
)

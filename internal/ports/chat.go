package ports

import (
	"context"
	"time"
)

// Chat is the chat port (Slack): one card per incident, updated in place, and its thread.
// Every method is idempotent: PostCard finds a card already posted for the incident, and
// PostThread finds a reply already posted under the same key, so a retried activity or a
// restarted worker never posts twice.
type Chat interface {
	PostCard(ctx context.Context, channel string, card Card) (ChatRef, error)
	UpdateCard(ctx context.Context, ref ChatRef, card Card) error
	PostThread(ctx context.Context, ref ChatRef, reply ChatReply) error
}

// ChatRef is where a card lives: its channel and message timestamp.
type ChatRef struct {
	Channel string `json:"channel"`
	TS      string `json:"ts"`
}

// Card is what the incident card shows. The adapter renders it (Block Kit for Slack).
type Card struct {
	IncidentID string            `json:"incident_id"`
	ShortID    string            `json:"short_id"`
	Runbook    string            `json:"runbook"`
	Title      string            `json:"title"`
	State      string            `json:"state"`
	Severity   string            `json:"severity,omitempty"`
	Service    string            `json:"service,omitempty"`
	Requester  string            `json:"requester,omitempty"`
	UIURL      string            `json:"ui_url,omitempty"` // the incident in the Temporal Web UI
	Steps      []CardStep        `json:"steps,omitempty"`
	Pending    []CardApproval    `json:"pending,omitempty"`   // undecided approvals: buttons
	Decisions  []CardDecision    `json:"decisions,omitempty"` // decided ones: who, when, why
	Evidence   []EvidenceRef     `json:"evidence,omitempty"`
	Links      []Link            `json:"links,omitempty"`
	Params     map[string]string `json:"params,omitempty"`
	Closed     bool              `json:"closed,omitempty"`
	// Verifying is the verify in progress, if any.
	Verifying *CardVerifying `json:"verifying,omitempty"`
}

// CardVerifying is a verify in progress on the card: what it waits for, until when, and the
// latest measurement in words.
type CardVerifying struct {
	StepID    string    `json:"step_id"`
	Condition string    `json:"condition"`
	Deadline  time.Time `json:"deadline"`
	Latest    string    `json:"latest,omitempty"`
}

// CardStep is one step's line on the card.
type CardStep struct {
	ID      string `json:"id"`
	Action  string `json:"action"`
	State   string `json:"state"`
	Summary string `json:"summary,omitempty"`
}

// CardApproval is an approval waiting for a click: exactly what will run, and its digest.
type CardApproval struct {
	StepID      string            `json:"step_id"`
	Action      string            `json:"action"`
	Undo        bool              `json:"undo,omitempty"`
	Prompt      string            `json:"prompt,omitempty"`
	Params      map[string]string `json:"params,omitempty"`
	Digest      string            `json:"digest"`
	Groups      []string          `json:"groups,omitempty"`
	Destructive bool              `json:"destructive,omitempty"` // the action changes the world: confirm first
	Deadline    *time.Time        `json:"deadline,omitempty"`
	Escalated   bool              `json:"escalated,omitempty"`
}

// CardDecision is a decision already taken, shown where the buttons were.
type CardDecision struct {
	StepID string    `json:"step_id"`
	Text   string    `json:"text"` // who decided what, and why
	At     time.Time `json:"at"`
}

// ChatReply is one thread reply.
type ChatReply struct {
	// Key identifies the reply within the incident (e.g. the timeline position), so a retry
	// finds the reply the first attempt posted.
	Key       string `json:"key"`
	Kind      string `json:"kind"` // the timeline event kind
	StepID    string `json:"step_id,omitempty"`
	Text      string `json:"text"`
	Broadcast bool   `json:"broadcast,omitempty"` // a milestone: also shown in the channel
	// Mention is a quench group to mention (an escalation); the adapter maps it to a chat
	// group or users.
	Mention string `json:"mention,omitempty"`
	// IncidentID is the incident the card belongs to (the replies' metadata carries it).
	IncidentID string `json:"incident_id,omitempty"`
	// Retry is set by the activity on a retried attempt: only then can an earlier attempt
	// have posted the reply already, so only then does the adapter look for it.
	Retry bool `json:"-"`
}

// Notifier posts a runbook's notify message to chat. Nil means log only.
type Notifier interface {
	// Notify posts n in its thread (or channel) and returns where it landed. A retried
	// attempt (n.Retry) first looks for the post an earlier attempt made under n.Key.
	Notify(ctx context.Context, n Notification) (ChatRef, error)
}

// Notification is one notify message.
type Notification struct {
	IncidentID string `json:"incident_id"`
	// Key identifies the message within the incident (the step's idempotency key).
	Key   string `json:"key"`
	Level string `json:"level"` // info | warning | critical
	Text  string `json:"text"`
	// Thread is the incident card's thread; nil (no card yet): a top-level post in Channel.
	Thread *ChatRef `json:"thread,omitempty"`
	// Channel is the runbook's channel; "" = the adapter's default.
	Channel string `json:"channel,omitempty"`
	Retry   bool   `json:"-"`
}

// Link is a named URL shown on the timeline (a rollback branch, a PR, a dashboard).
type Link struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

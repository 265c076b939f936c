package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
)

// Chat activity names. The incident workflow calls them only when Policy.ChatEnabled.
const (
	ChatCardActivity  = "chat.card"  // CardInput -> ChatRef: post the incident card once, then update it
	ChatReplyActivity = "chat.reply" // ReplyInput: one line in the card's thread
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

// CardInput posts the card (Ref nil) or updates it.
type CardInput struct {
	Channel string   `json:"channel,omitempty"` // "" = the adapter's default channel
	Ref     *ChatRef `json:"ref,omitempty"`
	Card    Card     `json:"card"`
}

// ReplyInput posts a thread reply under the card.
type ReplyInput struct {
	Ref   ChatRef   `json:"ref"`
	Reply ChatReply `json:"reply"`
}

// ChatActivities announce an incident to chat.
type ChatActivities struct {
	Chat Chat // nil: chat is not configured on this worker
}

// Card posts the incident card the first time (finding one a previous attempt posted) and
// updates it in place afterwards (chat.card).
func (a *ChatActivities) Card(ctx context.Context, in CardInput) (ChatRef, error) {
	if a.Chat == nil {
		return ChatRef{}, notConfigured("chat.card: this worker has no chat configured; add the slack: section to its config (or turn chat off for the incident)")
	}
	if in.Ref != nil {
		return *in.Ref, classify(ChatCardActivity, a.Chat.UpdateCard(ctx, *in.Ref, in.Card))
	}
	ref, err := a.Chat.PostCard(ctx, in.Channel, in.Card)
	return ref, classify(ChatCardActivity, err)
}

// Reply posts one line in the card's thread (chat.reply).
func (a *ChatActivities) Reply(ctx context.Context, in ReplyInput) error {
	if a.Chat == nil {
		return notConfigured("chat.reply: this worker has no chat configured; add the slack: section to its config")
	}
	in.Reply.Retry = !activity.IsActivity(ctx) || activity.GetInfo(ctx).Attempt > 1
	return classify(ChatReplyActivity, a.Chat.PostThread(ctx, in.Ref, in.Reply))
}

// RegisterChat registers the chat activities. Workers register them even without chat, so
// an incident that announces to chat fails its announcement with a message rather than
// waiting for a worker that has them.
func RegisterChat(r worker.ActivityRegistry, chat Chat) {
	a := &ChatActivities{Chat: chat}
	r.RegisterActivityWithOptions(a.Card, activity.RegisterOptions{Name: ChatCardActivity})
	r.RegisterActivityWithOptions(a.Reply, activity.RegisterOptions{Name: ChatReplyActivity})
}

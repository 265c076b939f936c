package activities

import (
	"context"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/quench-dev/quench/internal/ports"
)

// Chat activity names. The incident workflow calls them only when Policy.ChatEnabled.
const (
	ChatCardActivity  = "chat.card"  // CardInput -> ChatRef: post the incident card once, then update it
	ChatReplyActivity = "chat.reply" // ReplyInput: one line in the card's thread
)

// CardInput posts the card (Ref nil) or updates it.
type CardInput struct {
	Channel string         `json:"channel,omitempty"` // "" = the adapter's default channel
	Ref     *ports.ChatRef `json:"ref,omitempty"`
	Card    ports.Card     `json:"card"`
}

// ReplyInput posts a thread reply under the card.
type ReplyInput struct {
	Ref   ports.ChatRef   `json:"ref"`
	Reply ports.ChatReply `json:"reply"`
}

// ChatActivities announce an incident to chat.
type ChatActivities struct {
	Chat ports.Chat // nil: chat is not configured on this worker
}

// Card posts the incident card the first time (finding one a previous attempt posted) and
// updates it in place afterwards (chat.card).
func (a *ChatActivities) Card(ctx context.Context, in CardInput) (ports.ChatRef, error) {
	if a.Chat == nil {
		return ports.ChatRef{}, notConfigured("chat.card: this worker has no chat configured; add the slack: section to its config (or turn chat off for the incident)")
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
func RegisterChat(r worker.ActivityRegistry, chat ports.Chat) {
	a := &ChatActivities{Chat: chat}
	r.RegisterActivityWithOptions(a.Card, activity.RegisterOptions{Name: ChatCardActivity})
	r.RegisterActivityWithOptions(a.Reply, activity.RegisterOptions{Name: ChatReplyActivity})
}

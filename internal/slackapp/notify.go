package slackapp

import (
	"context"

	"github.com/slack-go/slack"

	"github.com/quench-dev/quench/internal/ports"
)

var _ ports.Notifier = (*Client)(nil)

// levelMarks lead a notify message by its level, so a warning stands out in a busy thread.
var levelMarks = map[string]string{"warning": ":warning: ", "critical": ":rotating_light: "}

// Notify posts a runbook's notify message through the same paced client as the card: in
// the card's thread when the incident has one (a critical one also shown in the channel),
// else as a top-level message in the runbook's or the default channel. A retried attempt
// finds the post an earlier attempt made (by its metadata) instead of posting twice.
func (c *Client) Notify(ctx context.Context, n ports.Notification) (ports.ChatRef, error) {
	channel := n.Channel
	if n.Thread != nil {
		channel = n.Thread.Channel
	}
	if channel == "" {
		channel = c.opts.Channel
	}
	if channel == "" {
		return ports.ChatRef{}, ports.Permanentf("no Slack channel for notify: set slack.channel (a channel ID like C0123) or the runbook's channel")
	}
	if n.Retry {
		if ts, err := c.findNotification(ctx, channel, n); err != nil {
			return ports.ChatRef{}, err
		} else if ts != "" {
			return ports.ChatRef{Channel: channel, TS: ts}, nil
		}
	}
	if err := c.pace(ctx, channel); err != nil {
		return ports.ChatRef{}, err
	}
	opts := []slack.MsgOption{
		slack.MsgOptionText(levelMarks[n.Level]+escape(n.Text), false),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: MetadataEventType,
			EventPayload: map[string]any{metaIncident: n.IncidentID, metaKind: "notify", metaKey: n.Key}}),
	}
	if n.Thread != nil {
		opts = append(opts, slack.MsgOptionTS(n.Thread.TS))
		if n.Level == "critical" {
			opts = append(opts, slack.MsgOptionBroadcast())
		}
	}
	ch, ts, err := c.api.PostMessageContext(ctx, channel, opts...)
	if err != nil {
		return ports.ChatRef{}, Classify(err)
	}
	return ports.ChatRef{Channel: ch, TS: ts}, nil
}

// findNotification looks for n among the thread's replies, or the channel's recent messages.
func (c *Client) findNotification(ctx context.Context, channel string, n ports.Notification) (string, error) {
	var msgs []slack.Message
	if n.Thread != nil {
		replies, _, _, err := c.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: channel, Timestamp: n.Thread.TS, Limit: 1000, IncludeAllMetadata: true,
		})
		if err != nil {
			return "", Classify(err)
		}
		msgs = replies
	} else {
		res, err := c.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
			ChannelID: channel, Limit: 200, IncludeAllMetadata: true,
		})
		if err != nil {
			return "", Classify(err)
		}
		msgs = res.Messages
	}
	for _, m := range msgs {
		if isOurs(m.Metadata, n.IncidentID, "notify", n.Key) {
			return m.Timestamp, nil
		}
	}
	return "", nil
}

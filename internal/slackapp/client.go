// Package slackapp is quench's Slack app over slack-go: the chat adapter the incident
// workflow announces through (one card per incident, updated in place, a thread of steps),
// the approval buttons and the Reject modal, the /quench slash command, and the two
// transports that deliver Slack's requests (signed HTTP and Socket Mode) to the same handlers.
package slackapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/quench-dev/quench/internal/ports"
)

// Message metadata quench attaches to what it posts, so a retry finds its earlier post.
const (
	MetadataEventType = "quench_incident"
	metaIncident      = "incident_id"
	metaKind          = "kind" // card | reply
	metaKey           = "key"
)

// Options configure the Slack client.
type Options struct {
	BotToken string // xoxb-...
	// APIURL is Slack's Web API base URL ("" = https://slack.com/api/); tests point it at a fake.
	APIURL string
	// Channel is the default channel ID for incident cards (a runbook may name its own).
	Channel string
	// Mentions maps a quench group to the mention that reaches it: a Slack user group ID
	// (S...) or user IDs (U...). Escalations use it.
	Mentions map[string][]string
	// Escalation is mentioned on every escalation when set (a user group or user ID).
	Escalation string
	// PageBase is the incident page's base URL (web.url, or quench's HTTP address): the
	// card links to <PageBase>/incidents/<short ID>. "" for no link.
	PageBase string
	// Pace is the least time between two posts to one channel (default 1 s, Slack's limit).
	Pace       time.Duration
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Client is the chat adapter (ports.Chat) and the Web API the handlers use.
type Client struct {
	api  *slack.Client
	opts Options

	mu   sync.Mutex
	next map[string]time.Time // channel -> earliest time of the next post
}

var _ ports.Chat = (*Client)(nil)

// NewClient returns a Client. slack-go's own retries stay off: Temporal owns retries.
func NewClient(opts Options) *Client {
	if opts.Pace == 0 {
		opts.Pace = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Client{api: newAPI(opts.BotToken, opts.APIURL, opts.HTTPClient), opts: opts, next: map[string]time.Time{}}
}

func newAPI(token, apiURL string, hc *http.Client, extra ...slack.Option) *slack.Client {
	var o []slack.Option
	if apiURL != "" {
		if !strings.HasSuffix(apiURL, "/") {
			apiURL += "/"
		}
		o = append(o, slack.OptionAPIURL(apiURL))
	}
	if hc != nil {
		o = append(o, slack.OptionHTTPClient(hc))
	}
	return slack.New(token, append(o, extra...)...)
}

// API is the underlying slack-go client.
func (c *Client) API() *slack.Client { return c.api }

// Check calls auth.test, so a bad token is reported at start rather than at the first incident.
func (c *Client) Check(ctx context.Context) (*slack.AuthTestResponse, error) {
	res, err := c.api.AuthTestContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("slack auth.test: %w", Classify(err))
	}
	return res, nil
}

// PostCard posts the incident's card, or returns the one a previous attempt posted.
func (c *Client) PostCard(ctx context.Context, channel string, card ports.Card) (ports.ChatRef, error) {
	if channel == "" {
		channel = c.opts.Channel
	}
	if channel == "" {
		return ports.ChatRef{}, ports.Permanentf("no Slack channel for incident cards: set slack.channel (a channel ID like C0123) or the runbook's channel")
	}
	if ts, err := c.findCard(ctx, channel, card.IncidentID); err != nil {
		return ports.ChatRef{}, err
	} else if ts != "" {
		return ports.ChatRef{Channel: channel, TS: ts}, nil
	}
	if err := c.pace(ctx, channel); err != nil {
		return ports.ChatRef{}, err
	}
	ch, ts, err := c.api.PostMessageContext(ctx, channel,
		slack.MsgOptionText(cardText(card), false),
		slack.MsgOptionBlocks(CardBlocks(c.withPage(card))...),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: MetadataEventType,
			EventPayload: map[string]any{metaIncident: card.IncidentID, metaKind: "card"}}),
	)
	if err != nil {
		return ports.ChatRef{}, Classify(err)
	}
	return ports.ChatRef{Channel: ch, TS: ts}, nil
}

// withPage adds the link to the incident's page first among the card's links.
func (c *Client) withPage(card ports.Card) ports.Card {
	if c.opts.PageBase == "" || card.ShortID == "" {
		return card
	}
	page := ports.Link{Name: "Incident page", URL: strings.TrimRight(c.opts.PageBase, "/") + "/incidents/" + url.PathEscape(card.ShortID)}
	card.Links = append([]ports.Link{page}, card.Links...)
	return card
}

// findCard looks for the incident's card among the channel's recent messages.
func (c *Client) findCard(ctx context.Context, channel, incidentID string) (string, error) {
	res, err := c.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: channel, Limit: 200, IncludeAllMetadata: true,
	})
	if err != nil {
		return "", Classify(err)
	}
	for _, m := range res.Messages {
		if isOurs(m.Metadata, incidentID, "card", "") {
			return m.Timestamp, nil
		}
	}
	return "", nil
}

// UpdateCard replaces the card's content (chat.update).
func (c *Client) UpdateCard(ctx context.Context, ref ports.ChatRef, card ports.Card) error {
	if err := c.pace(ctx, ref.Channel); err != nil {
		return err
	}
	_, _, _, err := c.api.UpdateMessageContext(ctx, ref.Channel, ref.TS,
		slack.MsgOptionText(cardText(card), false),
		slack.MsgOptionBlocks(CardBlocks(c.withPage(card))...),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: MetadataEventType,
			EventPayload: map[string]any{metaIncident: card.IncidentID, metaKind: "card"}}),
	)
	return Classify(err)
}

// PostThread posts a reply under the card, unless one with the same key is already there.
func (c *Client) PostThread(ctx context.Context, ref ports.ChatRef, reply ports.ChatReply) error {
	incidentID := reply.IncidentID
	if reply.Retry {
		msgs, _, _, err := c.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: ref.Channel, Timestamp: ref.TS, Limit: 1000, IncludeAllMetadata: true,
		})
		if err != nil {
			return Classify(err)
		}
		for _, m := range msgs {
			if isOurs(m.Metadata, incidentID, "reply", reply.Key) {
				return nil
			}
		}
	}
	if err := c.pace(ctx, ref.Channel); err != nil {
		return err
	}
	opts := []slack.MsgOption{
		slack.MsgOptionTS(ref.TS),
		slack.MsgOptionText(c.replyText(reply), false),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: MetadataEventType,
			EventPayload: map[string]any{metaIncident: incidentID, metaKind: "reply", metaKey: reply.Key}}),
	}
	if reply.Broadcast {
		opts = append(opts, slack.MsgOptionBroadcast())
	}
	_, _, err := c.api.PostMessageContext(ctx, ref.Channel, opts...)
	return Classify(err)
}

func isOurs(md slack.SlackMetadata, incidentID, kind, key string) bool {
	if md.EventType != MetadataEventType {
		return false
	}
	id, _ := md.EventPayload[metaIncident].(string)
	k, _ := md.EventPayload[metaKind].(string)
	rk, _ := md.EventPayload[metaKey].(string)
	return id == incidentID && k == kind && rk == key
}

// replyText is the reply's line, with the mention an escalation needs.
func (c *Client) replyText(r ports.ChatReply) string {
	text := escape(r.Text)
	if r.Mention == "" {
		return text
	}
	return c.mention(r.Mention) + " " + text
}

// mention turns a quench group into the Slack mention that reaches it.
func (c *Client) mention(group string) string {
	ids := c.opts.Mentions[group]
	if c.opts.Escalation != "" {
		ids = []string{c.opts.Escalation}
	}
	if len(ids) == 0 {
		return "@" + escape(group)
	}
	parts := make([]string, 0, len(ids))
	for _, id := range ids {
		parts = append(parts, MentionOf(id))
	}
	return strings.Join(parts, " ")
}

// MentionOf is the mention markup of a Slack user group (S...) or user (U.../W...) ID,
// which come from the configuration only. Anything not shaped like one is shown as text.
func MentionOf(id string) string {
	switch {
	case slackGroupID.MatchString(id):
		return "<!subteam^" + id + ">"
	case slackUserID.MatchString(id):
		return "<@" + id + ">"
	}
	return "@" + escape(id)
}

// pace spaces posts to one channel by Options.Pace (Slack allows about one per second).
func (c *Client) pace(ctx context.Context, channel string) error {
	c.mu.Lock()
	now := time.Now()
	at := c.next[channel]
	if at.Before(now) {
		at = now
	}
	c.next[channel] = at.Add(c.opts.Pace)
	c.mu.Unlock()
	if wait := time.Until(at); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// fixes say what to do about the Slack errors no retry can fix.
var fixes = map[string]string{
	"channel_not_found": "the channel does not exist or the bot cannot see it: set slack.channel (or the runbook's channel) to a channel ID like C0123 and invite the app",
	"not_in_channel":    "the app is not in the channel: run /invite @quench in it",
	"is_archived":       "the channel is archived: unarchive it or pick another in slack.channel",
	"invalid_auth":      "the bot token is not valid: set slack.bot_token to the app's xoxb- token (OAuth & Permissions)",
	"not_authed":        "no bot token was sent: set slack.bot_token",
	"account_inactive":  "the bot token belongs to a deactivated app or user: reinstall the app and update slack.bot_token",
	"token_revoked":     "the bot token was revoked: reinstall the app and update slack.bot_token",
	"missing_scope":     "the app lacks an OAuth scope: reinstall it from deploy/slack/manifest.yaml",
	"message_not_found": "the incident card was deleted in Slack",
}

// Classify maps slack-go errors to what Temporal should do: a rate limit waits Slack's
// Retry-After, a configuration problem fails without retries and says how to fix it, the
// rest (5xx, network) are retried.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return ports.RetryAfter(fmt.Errorf("slack rate limit: %w", err), rl.RetryAfter)
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		if fix, ok := fixes[se.Err]; ok {
			return ports.Permanentf("slack %s: %s", se.Err, fix)
		}
		return fmt.Errorf("slack: %w", err)
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return fmt.Errorf("slack answered HTTP %d; retrying: %w", sc.Code, err)
	}
	return fmt.Errorf("slack: %w", err)
}

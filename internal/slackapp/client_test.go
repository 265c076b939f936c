package slackapp

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/slackapp/slackfake"
)

func newTestClient(t *testing.T) (*Client, *slackfake.Fake) {
	t.Helper()
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	c := NewClient(Options{BotToken: "xoxb-test", APIURL: fake.APIURL(), Channel: "C1", Pace: time.Millisecond,
		Mentions: map[string][]string{"sre": {"S123"}}})
	return c, fake
}

func testCard() ports.Card {
	return ports.Card{IncidentID: "inc-provider-outage-0123456789abcdef", ShortID: "abcdef", Runbook: "provider-outage",
		Title: "LLM provider outage", State: "awaiting_approval", Requester: "slack:U9",
		Steps: []ports.CardStep{{ID: "failover", Action: "gateway.switch", State: "done", Summary: "route chat: openai -> fallback"}},
		Pending: []ports.CardApproval{{StepID: "failback", Action: "gateway.restore", Params: map[string]string{"route": "chat"},
			Digest: "sha256:0123456789abcdef0123", Groups: []string{"sre"}, Destructive: true}},
	}
}

func TestPostCardIsIdempotent(t *testing.T) {
	c, fake := newTestClient(t)
	ctx := context.Background()
	ref, err := c.PostCard(ctx, "", testCard())
	require.NoError(t, err)
	assert.Equal(t, "C1", ref.Channel)

	// A retried activity (the first attempt's answer was lost) finds the card it posted.
	again, err := c.PostCard(ctx, "", testCard())
	require.NoError(t, err)
	assert.Equal(t, ref, again)
	require.Len(t, fake.Calls("chat.postMessage"), 1, "one card, however often the post is retried")

	msgs := fake.Messages("C1")
	require.Len(t, msgs, 1)
	require.NotNil(t, msgs[0].Metadata)
	assert.Equal(t, MetadataEventType, msgs[0].Metadata.EventType)
	assert.Equal(t, "inc-provider-outage-0123456789abcdef", msgs[0].Metadata.EventPayload["incident_id"])
	assert.Contains(t, msgs[0].Blocks, ActionApprove)
	assert.Contains(t, msgs[0].Blocks, "route=chat", "the button shows the rendered params")
	assert.Contains(t, msgs[0].Blocks, "0123456789ab", "and the digest")
	assert.Contains(t, msgs[0].Blocks, `"confirm"`, "a destructive step asks to confirm")

	// Another incident gets its own card.
	other := testCard()
	other.IncidentID = "inc-other-1"
	ref2, err := c.PostCard(ctx, "", other)
	require.NoError(t, err)
	assert.NotEqual(t, ref.TS, ref2.TS)
}

func TestUpdateCardReplacesButtons(t *testing.T) {
	c, fake := newTestClient(t)
	ctx := context.Background()
	ref, err := c.PostCard(ctx, "", testCard())
	require.NoError(t, err)
	decided := testCard()
	decided.Pending = nil
	decided.State = "running"
	decided.Decisions = []ports.CardDecision{{StepID: "failback", Text: "slack:U2 approved step failback via slack", At: time.Unix(1700000000, 0)}}
	require.NoError(t, c.UpdateCard(ctx, ref, decided))

	msgs := fake.Messages("C1")
	require.Len(t, msgs, 1, "updated in place")
	assert.Equal(t, 1, msgs[0].Updates)
	assert.NotContains(t, msgs[0].Blocks, ActionApprove)
	assert.Contains(t, msgs[0].Blocks, "slack:U2 approved step failback")
}

func TestPostThreadIsIdempotentAndMentions(t *testing.T) {
	c, fake := newTestClient(t)
	ctx := context.Background()
	ref, err := c.PostCard(ctx, "", testCard())
	require.NoError(t, err)
	reply := ports.ChatReply{Key: "7", Kind: "escalated", Text: "step failback has waited 30m", Broadcast: true, Mention: "sre",
		IncidentID: testCard().IncidentID}
	require.NoError(t, c.PostThread(ctx, ref, reply))
	assert.Empty(t, fake.Calls("conversations.replies"), "a first attempt has nothing to look for")
	reply.Retry = true
	require.NoError(t, c.PostThread(ctx, ref, reply)) // the activity's retry finds the first attempt's reply
	assert.Len(t, fake.Calls("conversations.replies"), 1)
	note := ports.ChatReply{Key: "8", Kind: "note", Text: "a <b> & c", IncidentID: testCard().IncidentID, Retry: true}
	require.NoError(t, c.PostThread(ctx, ref, note)) // a retry of a reply never posted posts it

	var thread []slackfake.Message
	for _, m := range fake.Messages("C1") {
		if m.ThreadTS == ref.TS {
			thread = append(thread, m)
		}
	}
	require.Len(t, thread, 2)
	assert.Equal(t, "<!subteam^S123> step failback has waited 30m", thread[0].Text)
	assert.True(t, thread[0].Broadcast)
	assert.Equal(t, "a &lt;b&gt; &amp; c", thread[1].Text)
	assert.False(t, thread[1].Broadcast)
}

func TestSlackErrorsBecomeTemporalErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failure   slackfake.Failure
		permanent bool
		delay     time.Duration
		says      string
	}{
		{"rate limited", slackfake.Failure{Status: http.StatusTooManyRequests, RetryAfter: 7}, false, 7 * time.Second, "rate limit"},
		{"server error", slackfake.Failure{Status: http.StatusInternalServerError}, false, 0, "HTTP 500"},
		{"channel not found", slackfake.Failure{SlackError: "channel_not_found"}, true, 0, "set slack.channel"},
		{"not in channel", slackfake.Failure{SlackError: "not_in_channel"}, true, 0, "/invite @quench"},
		{"invalid auth", slackfake.Failure{SlackError: "invalid_auth"}, true, 0, "slack.bot_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, fake := newTestClient(t)
			fake.Fail("chat.postMessage", tc.failure)
			_, err := c.PostCard(context.Background(), "", testCard())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.says)
			assert.Equal(t, tc.permanent, ports.IsPermanent(err))
			delay, ok := ports.RetryDelay(err)
			assert.Equal(t, tc.delay > 0, ok)
			assert.Equal(t, tc.delay, delay)

			// Through the activity, Temporal sees the same decision.
			actErr := (&activities.ChatActivities{Chat: c}).Reply(context.Background(), activities.ReplyInput{Ref: ports.ChatRef{Channel: "C1", TS: "nope"}})
			require.Error(t, actErr) // thread_not_found: retryable, not one of the fixable ones

			fake.Fail("chat.postMessage", tc.failure)
			_, cardErr := (&activities.ChatActivities{Chat: c}).Card(context.Background(), activities.CardInput{Card: testCard()})
			var appErr *temporal.ApplicationError
			if tc.permanent || tc.delay > 0 {
				require.True(t, errors.As(cardErr, &appErr), "%v", cardErr)
				assert.Equal(t, tc.permanent, appErr.NonRetryable())
				assert.Equal(t, tc.delay, appErr.NextRetryDelay())
			} else {
				assert.False(t, errors.As(cardErr, &appErr), "a 500 is retried with the activity's backoff")
			}
		})
	}
}

func TestPacingSpacesPostsPerChannel(t *testing.T) {
	c := NewClient(Options{Pace: time.Hour}) // the schedule, not the clock, is under test
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, c.pace(ctx, "C1"), "the first post goes at once")
	require.NoError(t, c.pace(ctx, "C2"), "another channel is not held up")
	cancel()
	err := c.pace(ctx, "C1")
	require.ErrorIs(t, err, context.Canceled, "the second post to C1 waits for its slot")
	c.mu.Lock()
	defer c.mu.Unlock()
	assert.Equal(t, time.Hour, c.next["C1"].Sub(c.next["C2"]).Round(time.Minute), "C1's slots are an hour apart")
}

func TestCheckReportsABadToken(t *testing.T) {
	c, fake := newTestClient(t)
	res, err := c.Check(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "UBOT", res.UserID)
	fake.Fail("auth.test", slackfake.Failure{SlackError: "invalid_auth"})
	_, err = c.Check(context.Background())
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "xoxb-"), err.Error())
}

// The card links to the incident's page when quench knows where the page is.
func TestCardLinksToTheIncidentPage(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	c := NewClient(Options{BotToken: "xoxb-test", APIURL: fake.APIURL(), Channel: "C1", Pace: time.Millisecond, PageBase: "https://quench.example/"})
	ctx := context.Background()
	card := testCard()
	ref, err := c.PostCard(ctx, "", card)
	require.NoError(t, err)
	assert.Contains(t, fake.Messages("C1")[0].Blocks, "https://quench.example/incidents/abcdef|Incident page")
	assert.Empty(t, card.Links, "the caller's card is not changed")
	require.NoError(t, c.UpdateCard(ctx, ref, card))
	assert.Contains(t, fake.Messages("C1")[0].Blocks, "https://quench.example/incidents/abcdef|Incident page", "an update keeps the link")

	plain, fake2 := newTestClient(t)
	_, err = plain.PostCard(ctx, "", testCard())
	require.NoError(t, err)
	assert.NotContains(t, fake2.Messages("C1")[0].Blocks, "Incident page", "no page base, no link")
}

package slackapp

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/slackapp/slackfake"
)

func notifyInput(stepID, level, text string, chat *activities.ChatTarget) activities.StepInput {
	id := testCard().IncidentID
	return activities.StepInput{IncidentID: id, StepID: stepID, Action: activities.ActionNotify, IdempotencyKey: id + "/" + stepID,
		Params: map[string]string{"text": text, "level": level}, Chat: chat}
}

// A notify step lands in the incident card's thread, marked by its level and escaped; a
// critical one is also shown in the channel.
func TestNotifyPostsInTheCardsThread(t *testing.T) {
	c, fake := newTestClient(t)
	ctx := context.Background()
	card, err := c.PostCard(ctx, "", testCard())
	require.NoError(t, err)
	act := &activities.NotifyActivities{Notifier: c}

	res, err := act.Notify(ctx, notifyInput("tell", "warning", "key <k1> blocked", &activities.ChatTarget{Thread: &card}))
	require.NoError(t, err)
	assert.Equal(t, "key <k1> blocked", res.Summary, "the timeline has the text as written")
	require.NotNil(t, res.Posted)
	_, err = act.Notify(ctx, notifyInput("page", "critical", "fallback failing too", &activities.ChatTarget{Thread: &card}))
	require.NoError(t, err)

	msgs := fake.Messages("C1")
	require.Len(t, msgs, 3)
	reply := msgs[1]
	assert.Equal(t, card.TS, reply.ThreadTS)
	assert.Equal(t, res.Posted.TS, reply.TS)
	assert.Equal(t, ":warning: key &lt;k1&gt; blocked", reply.Text)
	assert.False(t, reply.Broadcast)
	require.NotNil(t, reply.Metadata)
	assert.Equal(t, "notify", reply.Metadata.EventPayload["kind"])
	assert.Equal(t, card.TS, msgs[2].ThreadTS)
	assert.Equal(t, ":rotating_light: fallback failing too", msgs[2].Text)
	assert.True(t, msgs[2].Broadcast, "a critical message is shown in the channel too")
}

// Before the card is posted, the message goes to the runbook's channel (else the default).
func TestNotifyWithoutAThreadPostsInTheChannel(t *testing.T) {
	c, fake := newTestClient(t)
	act := &activities.NotifyActivities{Notifier: c}
	_, err := act.Notify(context.Background(), notifyInput("tell", "info", "to the runbook's channel", &activities.ChatTarget{Channel: "C2"}))
	require.NoError(t, err)
	_, err = act.Notify(context.Background(), notifyInput("tell2", "info", "to the default", nil))
	require.NoError(t, err)
	require.Len(t, fake.Messages("C2"), 1)
	assert.Equal(t, "to the runbook's channel", fake.Messages("C2")[0].Text)
	assert.Empty(t, fake.Messages("C2")[0].ThreadTS)
	require.Len(t, fake.Messages("C1"), 1)
	assert.Equal(t, "to the default", fake.Messages("C1")[0].Text)
}

// A rate limit is retried after Slack's Retry-After; the retry finds nothing posted and
// posts once. A retry after a post whose answer was lost finds it and posts nothing.
func TestNotifyRateLimitedThenRetried(t *testing.T) {
	c, fake := newTestClient(t)
	ctx := context.Background()
	card, err := c.PostCard(ctx, "", testCard())
	require.NoError(t, err)
	act := &activities.NotifyActivities{Notifier: c}
	in := notifyInput("tell", "warning", "blocked", &activities.ChatTarget{Thread: &card})

	fake.Fail("chat.postMessage", slackfake.Failure{Status: http.StatusTooManyRequests, RetryAfter: 3})
	_, err = act.Notify(ctx, in)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.False(t, appErr.NonRetryable())
	assert.Equal(t, 3*time.Second, appErr.NextRetryDelay(), "Temporal waits Slack's Retry-After")

	res, err := act.Notify(ctx, in) // the retry
	require.NoError(t, err)
	res2, err := act.Notify(ctx, in) // a retry after an answer that was lost
	require.NoError(t, err)
	assert.Equal(t, res.Posted, res2.Posted)
	assert.Len(t, fake.Messages("C1"), 2, "the card and one reply")
	assert.Len(t, fake.Calls("chat.postMessage"), 3, "the card, the rate-limited post and one reply")
}

// A configuration problem no retry fixes does not fail the step (its undos would reverse
// the mitigation): the timeline says the message did not reach chat, and why.
func TestNotifyChannelProblemDoesNotFailTheStep(t *testing.T) {
	c, fake := newTestClient(t)
	fake.Fail("chat.postMessage", slackfake.Failure{SlackError: "not_in_channel"})
	res, err := (&activities.NotifyActivities{Notifier: c}).Notify(context.Background(), notifyInput("tell", "info", "hello", nil))
	require.NoError(t, err)
	assert.Contains(t, res.Summary, "hello (not posted to chat:")
	assert.Contains(t, res.Summary, "/invite @quench")
	assert.Nil(t, res.Posted)

	// A 5xx is retried by Temporal with the step's backoff.
	fake.Fail("chat.postMessage", slackfake.Failure{Status: http.StatusBadGateway})
	_, err = (&activities.NotifyActivities{Notifier: c}).Notify(context.Background(), notifyInput("tell2", "info", "hello", nil))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 502")
}

// Skip (chat is off for the incident, or the thread has the message already) keeps the
// message out of chat.
func TestNotifySkipStaysOutOfChat(t *testing.T) {
	c, fake := newTestClient(t)
	res, err := (&activities.NotifyActivities{Notifier: c}).Notify(context.Background(),
		notifyInput("escalate", "critical", "page sre", &activities.ChatTarget{Skip: "the escalation is in the thread"}))
	require.NoError(t, err)
	assert.Equal(t, "page sre", res.Summary)
	assert.Nil(t, res.Posted)
	assert.Empty(t, fake.Calls("chat.postMessage"))
}

// Notify shares the card's per-channel pacing: one client, one schedule.
func TestNotifySharesTheCardsPace(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	c := NewClient(Options{BotToken: "xoxb-test", APIURL: fake.APIURL(), Channel: "C1", Pace: time.Hour})
	card, err := c.PostCard(context.Background(), "", testCard())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Notify(ctx, ports.Notification{IncidentID: "x", Key: "x/tell", Text: "waits", Thread: &card})
	require.ErrorIs(t, err, context.Canceled, "the reply waits for the channel's next slot after the card")
	assert.Len(t, fake.Calls("chat.postMessage"), 1)
}

package activities_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
)

// failingChat answers every call with err and records the replies it was asked for.
type failingChat struct {
	err     error
	replies []ports.ChatReply
}

func (c *failingChat) PostCard(context.Context, string, ports.Card) (ports.ChatRef, error) {
	return ports.ChatRef{}, c.err
}
func (c *failingChat) UpdateCard(context.Context, ports.ChatRef, ports.Card) error {
	return c.err
}
func (c *failingChat) PostThread(_ context.Context, _ ports.ChatRef, r ports.ChatReply) error {
	c.replies = append(c.replies, r)
	return c.err
}

func TestChatActivitiesWithoutChatFailForGood(t *testing.T) {
	a := &activities.ChatActivities{}
	_, err := a.Card(context.Background(), activities.CardInput{})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	assert.True(t, appErr.NonRetryable())
	assert.Equal(t, activities.ErrTypeNotConfigured, appErr.Type())
	assert.Contains(t, appErr.Message(), "slack:")
}

func TestChatActivitiesClassifyAdapterErrors(t *testing.T) {
	limited := &activities.ChatActivities{Chat: &failingChat{err: ports.RetryAfter(errors.New("slack rate limit"), 3*time.Second)}}
	_, err := limited.Card(context.Background(), activities.CardInput{})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	assert.False(t, appErr.NonRetryable())
	assert.Equal(t, 3*time.Second, appErr.NextRetryDelay())

	gone := &failingChat{err: ports.Permanentf("slack channel_not_found: invite the app")}
	err = (&activities.ChatActivities{Chat: gone}).Reply(context.Background(), activities.ReplyInput{Reply: ports.ChatReply{Key: "1"}})
	require.True(t, errors.As(err, &appErr))
	assert.True(t, appErr.NonRetryable())
	require.Len(t, gone.replies, 1)
	assert.True(t, gone.replies[0].Retry, "outside a first attempt the adapter looks for an earlier post")
}

func TestChatReplyLooksUpOnlyOnRetries(t *testing.T) {
	env := (&testsuite.WorkflowTestSuite{}).NewTestActivityEnvironment()
	chat := &failingChat{}
	env.RegisterActivityWithOptions((&activities.ChatActivities{Chat: chat}).Reply, activity.RegisterOptions{Name: activities.ChatReplyActivity})
	_, err := env.ExecuteActivity(activities.ChatReplyActivity, activities.ReplyInput{Reply: ports.ChatReply{Key: "1"}})
	require.NoError(t, err)
	require.Len(t, chat.replies, 1)
	assert.False(t, chat.replies[0].Retry, "a first attempt posts without looking")
}

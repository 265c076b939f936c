package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/runbooks"
)

// recordingChat is a stateful fake of the chat port: one card per incident, replies by key.
type recordingChat struct {
	mu       sync.Mutex
	posts    int
	cards    []ports.Card // every card content posted or updated, in order
	replies  []ports.ChatReply
	postErr  error
	replyErr error
}

func (c *recordingChat) PostCard(_ context.Context, channel string, card ports.Card) (ports.ChatRef, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.postErr != nil {
		return ports.ChatRef{}, c.postErr
	}
	c.posts++
	c.cards = append(c.cards, card)
	return ports.ChatRef{Channel: "C" + channel, TS: fmt.Sprintf("1.%d", c.posts)}, nil
}

func (c *recordingChat) UpdateCard(_ context.Context, ref ports.ChatRef, card ports.Card) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ref.TS != "1.1" {
		return fmt.Errorf("update of an unknown card %s", ref.TS)
	}
	c.cards = append(c.cards, card)
	return nil
}

func (c *recordingChat) PostThread(_ context.Context, ref ports.ChatRef, r ports.ChatReply) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.replyErr != nil {
		return c.replyErr
	}
	c.replies = append(c.replies, r)
	return nil
}

func (c *recordingChat) kinds() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.replies {
		out = append(out, r.Kind+" "+r.StepID)
	}
	return out
}

func withChat(h *harness) *recordingChat {
	chat := &recordingChat{}
	h.policy.ChatEnabled = true
	h.policy.UIURL = "http://ui"
	activities.RegisterChat(h.env, chat)
	return chat
}

func TestChatCardFollowsTheIncident(t *testing.T) {
	h := newHarness(t)
	chat := withChat(h)
	var whileWaiting ports.Card
	var queried Status
	h.at(time.Minute, func() {
		queried = h.status()
		chat.mu.Lock()
		defer chat.mu.Unlock()
		whileWaiting = chat.cards[len(chat.cards)-1]
	})
	h.decideAt(2*time.Minute, approve("failback", "bob"))
	spec := gatedFailback(runbooks.Approval{Groups: []string{"sre"}})
	spec.Channel = "incidents"
	st := h.run(testInput(spec))
	require.Equal(t, StateCompleted, st.State)

	assert.Equal(t, 1, chat.posts, "one card per incident")
	assert.Equal(t, &ports.ChatRef{Channel: "Cincidents", TS: "1.1"}, queried.Chat, "the status query says where the card is (the incident page links it)")
	assert.Nil(t, st.Chat, "the card's place is in query answers only, not in the state the incident keeps")
	require.Len(t, whileWaiting.Pending, 1, "the card shows the approval while it waits")
	p := whileWaiting.Pending[0]
	assert.Equal(t, "failback", p.StepID)
	assert.Equal(t, map[string]string{"route": "chat"}, p.Params)
	assert.Equal(t, runbooks.ParamsDigest(runbooks.ActionGatewayRestore, map[string]string{"route": "chat"}), p.Digest)
	assert.True(t, p.Destructive, "gateway.restore changes the world: the button asks to confirm")
	assert.Equal(t, "http://ui/namespaces/default-test-namespace/workflows/"+testIncidentID, whileWaiting.UIURL)

	final := chat.cards[len(chat.cards)-1]
	assert.Equal(t, StateCompleted, final.State)
	assert.True(t, final.Closed)
	assert.Empty(t, final.Pending, "after the decision the buttons are gone")
	require.Len(t, final.Decisions, 1)
	assert.Contains(t, final.Decisions[0].Text, "bob approved step failback")

	assert.Equal(t, []string{
		"step_done failover", "undo failover", "approval_requested failback", "decision failback",
		"step_done failback", "undo failback", "step_done after", "closed ",
	}, chat.kinds())
	keys := map[string]bool{}
	for _, r := range chat.replies {
		assert.False(t, keys[r.Key], "reply key %s used twice", r.Key)
		keys[r.Key] = true
		assert.Equal(t, r.Kind == EventApprovalAsked || r.Kind == EventClosed, r.Broadcast, "milestones are broadcast: %s", r.Kind)
	}
}

func TestChatEscalationMentionsTheGroup(t *testing.T) {
	h := newHarness(t)
	chat := withChat(h)
	h.decideAt(45*time.Minute, approve("failback", "bob"))
	st := h.run(testInput(gatedFailback(runbooks.Approval{Groups: []string{"sre"}, Timeout: runbooks.Duration(30 * time.Minute)})))
	require.Equal(t, StateCompleted, st.State)

	var escalations []ports.ChatReply
	for _, r := range chat.replies {
		if r.Kind == EventEscalated {
			escalations = append(escalations, r)
		}
	}
	require.Len(t, escalations, 1)
	assert.Equal(t, "incident-commanders", escalations[0].Mention)
	assert.True(t, escalations[0].Broadcast)
}

func TestChatFailureDoesNotStopTheIncident(t *testing.T) {
	h := newHarness(t)
	chat := withChat(h)
	chat.postErr = ports.Permanentf("slack channel_not_found: set slack.channel")
	st := h.run(testInput(testSpec(switchStep("failover"), notifyStep("after", "done"))))

	assert.Equal(t, StateCompleted, st.State)
	assert.Equal(t, []string{"gateway.switch failover", "notify after", "gateway.restore failover/undo"}, h.sequence())
	assert.Empty(t, chat.replies, "nothing is posted once chat is off")
	notes := eventsOf(st, EventNote, "")
	require.NotEmpty(t, notes)
	assert.True(t, strings.Contains(notes[0].Text, "channel_not_found"), notes[0].Text)
}

func TestChatOffPostsNothing(t *testing.T) {
	h := newHarness(t)
	chat := &recordingChat{}
	activities.RegisterChat(h.env, chat) // registered, but the policy says chat is off
	st := h.run(testInput(testSpec(switchStep("failover"))))
	assert.Equal(t, StateCompleted, st.State)
	assert.Zero(t, chat.posts)
	assert.Empty(t, chat.replies)
}

func TestChatCardSurvivesContinueAsNew(t *testing.T) {
	chat := &recordingChat{}
	in := handOverOften(testInput(testSpec(switchStep("failover"), notifyStep("one", "1"), notifyStep("two", "2"))))
	generations := 0
	for {
		generations++
		require.Less(t, generations, 10, "the incident never finished")
		h := newHarness(t)
		h.policy.ChatEnabled = true
		activities.RegisterChat(h.env, chat)
		h.env.SetCurrentHistoryLength(100) // hand over at every safe point
		h.env.ExecuteWorkflow(IncidentWorkflowName, in)
		require.True(t, h.env.IsWorkflowCompleted())
		var can *workflow.ContinueAsNewError
		if err := h.env.GetWorkflowError(); errors.As(err, &can) {
			var next IncidentInput
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
			require.NotNil(t, next.State.Chat, "the card's place is handed over")
			require.NotNil(t, next.State.Chat.Card)
			in = next
			continue
		}
		closedStatus(t, h.env)
		break
	}
	assert.Greater(t, generations, 1)
	assert.Equal(t, 1, chat.posts, "one card across generations")
	assert.Equal(t, []string{"step_done failover", "undo failover", "step_done one", "step_done two", "undo failover", "closed "}, chat.kinds(),
		"every line once, none lost at a hand-over")
	assert.True(t, chat.cards[len(chat.cards)-1].Closed)
}

func TestReplyTextNamesTheActorOnce(t *testing.T) {
	assert.Equal(t, "incident resolved: fixed — cli:root",
		replyText(Event{Kind: EventResolved, Actor: "cli:root", Text: "incident resolved: fixed"}),
		"a thread line has no actor column: the actor follows the text")
	assert.Equal(t, "bob approved step failback (gateway.restore) via cli",
		replyText(Event{Kind: EventDecision, Actor: "bob", Text: "bob approved step failback (gateway.restore) via cli"}),
		"a text that names its actor is not signed twice")
	assert.Equal(t, "step a done", replyText(Event{Kind: EventStepDone, Text: "step a done"}))
}

package workflows

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
)

// ChatState is what the incident keeps about its chat card, across continue-as-new.
type ChatState struct {
	// Card is the card's place once posted: later runs update it, never post another.
	Card *ports.ChatRef `json:"card,omitempty"`
	// Decisions replace the buttons on the card once taken (newest last, capped).
	Decisions []ports.CardDecision `json:"decisions,omitempty"`
	// Off says why chat was given up for this incident (e.g. the channel does not exist).
	Off string `json:"off,omitempty"`
}

// maxCardDecisions bounds the decisions the card lists.
const maxCardDecisions = 10

// replyKinds are the timeline events posted in the card's thread; true marks milestones,
// also broadcast to the channel. Every event updates the card.
var replyKinds = map[string]bool{
	EventStepDone: false, EventStepFailed: false, EventStepSkipped: false, EventVerify: false,
	EventDecision: false, EventDecisionRefused: false, EventApprovalTimeout: false, EventNote: false, EventUndo: false,
	EventApprovalAsked: true, EventEscalated: true, EventResolved: true, EventAborted: true,
	EventRollbackProposal: true, EventClosed: true,
}

// announcer is this run's chat outbox: events wait here until the announcing coroutine has
// posted them, so a slow or rate-limited chat never holds up the runbook.
type announcer struct {
	replies []ports.ChatReply
	dirty   bool // the card shows an older state
	busy    bool // an announcement is in flight
}

// startChat starts announcing to chat, only when the worker's policy says chat is
// configured: incidents without chat run exactly the commands they always did.
func (w *incident) startChat(ctx workflow.Context) {
	if !w.st.Policy.ChatEnabled || w.chat != nil {
		return
	}
	if w.st.Chat == nil {
		w.st.Chat = &ChatState{}
	}
	w.chat = &announcer{dirty: w.st.Chat.Card == nil}
	// Disconnected: a canceled incident still closes its card.
	actx, _ := workflow.NewDisconnectedContext(ctx)
	workflow.Go(actx, w.runAnnouncer)
}

// announce queues an event for chat; event calls it for every timeline line.
func (w *incident) announce(ev Event, position int) {
	if w.chat == nil || w.st.Chat.Off != "" {
		return
	}
	w.chat.dirty = true
	if ev.Kind == EventDecision {
		d := ports.CardDecision{StepID: ev.StepID, Text: ev.Text, At: ev.At}
		w.st.Chat.Decisions = append(w.st.Chat.Decisions, d)
		if over := len(w.st.Chat.Decisions) - maxCardDecisions; over > 0 {
			w.st.Chat.Decisions = append([]ports.CardDecision(nil), w.st.Chat.Decisions[over:]...)
		}
	}
	broadcast, reply := replyKinds[ev.Kind]
	if !reply || ev.Data[chatPostedKey] != "" {
		return
	}
	r := ports.ChatReply{Key: strconv.Itoa(position), Kind: ev.Kind, StepID: ev.StepID, Text: replyText(ev),
		Broadcast: broadcast, IncidentID: w.status.IncidentID}
	if ev.Kind == EventEscalated {
		r.Mention = ev.Data["group"]
	}
	w.chat.replies = append(w.chat.replies, r)
}

// replyText is an event's line in the chat thread. A thread line has no actor column, so
// the actor follows the text unless the text already names them ("bob approved ...").
func replyText(ev Event) string {
	if ev.Actor == "" || strings.Contains(ev.Text, ev.Actor) {
		return ev.Text
	}
	return ev.Text + " — " + ev.Actor
}

// runAnnouncer posts the card once, then each queued reply and an update of the card.
func (w *incident) runAnnouncer(ctx workflow.Context) {
	a := w.chat
	for {
		if err := workflow.Await(ctx, func() bool { return a.dirty || len(a.replies) > 0 }); err != nil {
			return
		}
		a.busy = true
		if w.st.Chat.Card == nil {
			a.dirty = false
			ref, err := w.postCard(ctx, nil)
			if err != nil {
				w.chatOff(ctx, err)
				a.busy = false
				continue
			}
			w.st.Chat.Card = &ref
		}
		batch := a.replies
		a.replies = nil
		for _, r := range batch {
			if err := w.postReply(ctx, r); err != nil {
				if isNonRetryable(err) {
					w.chatOff(ctx, err)
					break
				}
				w.logger.Warn("Could not post to the incident's chat thread; going on", "kind", r.Kind, "error", err)
			}
		}
		if a.dirty && w.st.Chat.Off == "" {
			a.dirty = false
			if _, err := w.postCard(ctx, w.st.Chat.Card); err != nil {
				if isNonRetryable(err) {
					w.chatOff(ctx, err)
				} else {
					w.logger.Warn("Could not update the incident card; the next change retries", "error", err)
				}
			}
		}
		a.busy = false
	}
}

// flushChat waits until everything announced so far is posted: before the run ends, so the
// card shows the final state and no reply is lost to continue-as-new.
func (w *incident) flushChat(ctx workflow.Context) {
	if w.chat == nil {
		return
	}
	a := w.chat
	_ = workflow.Await(ctx, func() bool {
		return w.st.Chat.Off != "" || (!a.busy && !a.dirty && len(a.replies) == 0)
	})
}

// chatOff gives chat up for this incident after a failure no retry fixes, and says so.
func (w *incident) chatOff(ctx workflow.Context, err error) {
	w.st.Chat.Off = errorText(err)
	w.chat.replies = nil
	w.logger.Error("Chat is off for this incident", "error", err)
	w.event(ctx, EventNote, "", "quench", "chat: "+w.st.Chat.Off+"; quench stops posting to chat for this incident", nil)
}

var chatRetry = temporal.RetryPolicy{
	InitialInterval:    time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    30 * time.Second,
	MaximumAttempts:    8,
}

func chatOptions(ctx workflow.Context, summary string) workflow.Context {
	retry := chatRetry
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &retry,
		Summary:             summary,
	})
}

func (w *incident) postCard(ctx workflow.Context, ref *ports.ChatRef) (ports.ChatRef, error) {
	in := activities.CardInput{Channel: w.in.Spec.Channel, Ref: ref, Card: w.card(ctx)}
	var out ports.ChatRef
	err := workflow.ExecuteActivity(chatOptions(ctx, "chat card"), activities.ChatCardActivity, in).Get(ctx, &out)
	return out, err
}

func (w *incident) postReply(ctx workflow.Context, r ports.ChatReply) error {
	in := activities.ReplyInput{Ref: *w.st.Chat.Card, Reply: r}
	return workflow.ExecuteActivity(chatOptions(ctx, "chat "+r.Kind), activities.ChatReplyActivity, in).Get(ctx, nil)
}

// card is the incident as the chat card shows it now.
func (w *incident) card(ctx workflow.Context) ports.Card {
	s := w.status
	c := ports.Card{
		IncidentID: s.IncidentID, ShortID: s.ShortID, Runbook: s.Runbook, Title: s.Title,
		State: s.State, Severity: s.Severity, Service: s.Service, Requester: s.Requester,
		Params: s.Params, Evidence: s.Evidence, Closed: w.closed,
		Decisions: w.st.Chat.Decisions,
	}
	if ui := w.st.Policy.UIURL; ui != "" {
		c.UIURL = fmt.Sprintf("%s/namespaces/%s/workflows/%s", ui, url.PathEscape(workflow.GetInfo(ctx).Namespace), url.PathEscape(s.IncidentID))
	}
	for _, st := range s.Steps {
		c.Steps = append(c.Steps, ports.CardStep{ID: st.ID, Action: st.Action, State: st.State, Summary: st.Summary})
		c.Links = append(c.Links, st.Links...)
	}
	if w.closed {
		return c
	}
	if v := s.Verifying; v != nil {
		c.Verifying = &ports.CardVerifying{StepID: v.StepID, Condition: v.Condition, Deadline: v.Deadline, Latest: latestText(v)}
	}
	for _, p := range s.Pending {
		if verdictOf(p) != "" {
			continue
		}
		action, _ := w.action(p.Action)
		c.Pending = append(c.Pending, ports.CardApproval{
			StepID: p.StepID, Action: p.Action, Undo: p.Undo, Prompt: p.Prompt, Params: p.Params,
			Digest: p.Digest, Groups: p.Groups, Destructive: action.SideEffect,
			Deadline: p.Deadline, Escalated: p.Escalated,
		})
	}
	return c
}

func isNonRetryable(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.NonRetryable()
}

// chatPostedKey marks a timeline event whose text a step already posted in chat (notify).
const chatPostedKey = "chat_posted"

// chatTarget is where a notify activity posts: the card's thread once posted, else the
// runbook's channel. skipInThread, when the incident's own thread will carry the message
// (an escalation), keeps it out of chat; so does chat being off for the incident.
func (w *incident) chatTarget(skipInThread string) *activities.ChatTarget {
	t := &activities.ChatTarget{Channel: w.in.Spec.Channel}
	switch {
	case w.st.Chat != nil && w.st.Chat.Off != "":
		t.Skip = "chat is off for this incident: " + w.st.Chat.Off
	case w.chat != nil && skipInThread != "":
		t.Skip = skipInThread
	case w.st.Chat != nil && w.st.Chat.Card != nil:
		ref := *w.st.Chat.Card
		t.Thread = &ref
	}
	return t
}

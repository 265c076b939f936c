package slackapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// Incidents is what the Slack app does to incidents: a part of incidents.Client.
type Incidents interface {
	Start(ctx context.Context, req incidents.StartRequest) (incidents.Started, error)
	Status(ctx context.Context, ref string) (workflows.Status, error)
	Decide(ctx context.Context, ref string, d workflows.Decision) (workflows.DecisionResult, error)
	Signal(ctx context.Context, ref, name string, payload any) (string, error)
	List(ctx context.Context, f incidents.ListFilter) ([]incidents.Summary, error)
}

// Handler answers Slack's slash commands and interactions, whichever transport brought
// them. It answers at once (Slack wants an answer within 3 s) and does slow work (Temporal
// calls) afterwards, reporting through response_url or an ephemeral message.
type Handler struct {
	Incidents Incidents
	API       *slack.Client // bot token: ephemeral messages, views.open
	Groups    *GroupResolver
	Logger    *slog.Logger
	// WorkTimeout bounds the work after an ack (default 30 s).
	WorkTimeout time.Duration
	// PostResponse posts to a response_url; nil uses slack.PostWebhookContext.
	PostResponse func(ctx context.Context, url string, msg *slack.WebhookMessage) error

	wg sync.WaitGroup
}

// Wait waits for the work started by earlier requests (tests, shutdown).
func (h *Handler) Wait() { h.wg.Wait() }

// later runs fn after the ack, detached from the request.
func (h *Handler) later(fn func(ctx context.Context)) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		timeout := h.WorkTimeout
		if timeout == 0 {
			timeout = 30 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		fn(ctx)
	}()
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.Default()
	}
	return h.Logger
}

// respond posts the result of slow work to the command's response_url.
func (h *Handler) respond(ctx context.Context, url string, inChannel bool, text string) {
	if url == "" {
		return
	}
	// parse=none: Slack must not turn bare names into mentions; quench writes its own.
	msg := &slack.WebhookMessage{Text: text, ResponseType: slack.ResponseTypeEphemeral, Parse: "none"}
	if inChannel {
		msg.ResponseType = slack.ResponseTypeInChannel
	}
	post := h.PostResponse
	if post == nil {
		post = slack.PostWebhookContext
	}
	if err := post(ctx, url, msg); err != nil {
		h.logger().Warn("could not answer through Slack's response_url", "err", err)
	}
}

// ephemeral tells one user something only they see.
func (h *Handler) ephemeral(ctx context.Context, channel, user, text string) {
	if channel == "" || h.API == nil {
		return
	}
	if _, err := h.API.PostEphemeralContext(ctx, channel, user, slack.MsgOptionText(text, false)); err != nil {
		h.logger().Warn("could not send an ephemeral message", "channel", channel, "user", user, "err", Classify(err))
	}
}

// decide sends a decision as the Slack user, with the Slack user groups Slack says they
// are in (the incident's policy maps them to approver groups). The service signs it: this
// process verified the click. A refusal the incident did not record itself (it records its
// own) is noted on its timeline; either way it is returned.
func (h *Handler) decide(ctx context.Context, userID, ref, stepID, digest, verdict, reason string) (workflows.DecisionResult, error) {
	var groups []string
	if h.Groups != nil {
		groups = h.Groups.VerifiedGroups(ctx, userID)
	}
	d := workflows.Decision{StepID: stepID, Digest: digest, Approver: "slack:" + userID, Groups: groups,
		Verdict: verdict, Reason: reason, Via: "slack"}
	res, err := h.Incidents.Decide(ctx, ref, d)
	if err != nil {
		recorded := errors.Is(err, incidents.ErrRefused)
		// The service says "approve refused: <why>"; the why is what the people need.
		err = errors.New(strings.TrimPrefix(err.Error(), verdict+" refused: "))
		step := stepID
		if step == "" {
			step = "the pending step"
		}
		if !recorded {
			note := workflows.Note{By: "slack:" + userID, Text: fmt.Sprintf("refused: %s of %s via slack: %v", verdict, step, err)}
			if _, nerr := h.Incidents.Signal(ctx, ref, workflows.SignalNote, note); nerr != nil {
				h.logger().Warn("could not record a refused decision on the timeline", "incident", ref, "err", nerr)
			}
		}
	}
	return res, err
}

// Interaction handles a block action or a view submission. The returned value is the body
// of the immediate answer (nil: an empty 200).
func (h *Handler) Interaction(cb slack.InteractionCallback) any {
	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		for _, a := range cb.ActionCallback.BlockActions {
			h.blockAction(cb, a)
		}
		return nil
	case slack.InteractionTypeViewSubmission:
		if cb.View.CallbackID != CallbackReject {
			return nil
		}
		return h.rejectSubmitted(cb)
	}
	return nil
}

func (h *Handler) blockAction(cb slack.InteractionCallback, a *slack.BlockAction) {
	if a.ActionID != ActionApprove && a.ActionID != ActionReject {
		return
	}
	user, channel := cb.User.ID, cb.Channel.ID
	v, err := decodeButton(a.Value)
	if err != nil {
		h.later(func(ctx context.Context) { h.ephemeral(ctx, channel, user, escape(err.Error())) })
		return
	}
	if a.ActionID == ActionReject {
		v.Channel = channel
		trigger := cb.TriggerID
		h.later(func(ctx context.Context) {
			if _, err := h.API.OpenViewContext(ctx, trigger, rejectModal(v)); err != nil {
				h.logger().Warn("could not open the Reject modal", "err", Classify(err))
				h.ephemeral(ctx, channel, user, fmt.Sprintf("Could not open the reason dialog (%s). Type `/quench reject %s REASON` instead.", escape(err.Error()), escape(ShortOf(v.IncidentID))))
			}
		})
		return
	}
	h.later(func(ctx context.Context) {
		if _, err := h.decide(ctx, user, v.IncidentID, v.StepID, v.Digest, workflows.VerdictApprove, ""); err != nil {
			h.ephemeral(ctx, channel, user, "Not approved: "+escape(err.Error()))
		}
	})
}

// rejectSubmitted handles the Reject modal: a reason is required.
func (h *Handler) rejectSubmitted(cb slack.InteractionCallback) any {
	var reason string
	if cb.View.State != nil {
		reason = strings.TrimSpace(cb.View.State.Values[reasonBlock][reasonInput].Value)
	}
	if reason == "" {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{reasonBlock: "Say why, so the timeline shows it."})
	}
	v, err := decodeButton(cb.View.PrivateMetadata)
	if err != nil {
		return slack.NewErrorsViewSubmissionResponse(map[string]string{reasonBlock: err.Error()})
	}
	user := cb.User.ID
	h.later(func(ctx context.Context) {
		if _, err := h.decide(ctx, user, v.IncidentID, v.StepID, v.Digest, workflows.VerdictReject, reason); err != nil {
			h.ephemeral(ctx, v.Channel, user, "Not rejected: "+escape(err.Error()))
		}
	})
	return nil
}

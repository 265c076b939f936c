package activities

import (
	"context"
	"fmt"
	"log/slog"

	"go.temporal.io/sdk/activity"

	"github.com/quench-dev/quench/internal/ports"
)

// NotifyActivities post messages to the log and, when configured, to chat.
type NotifyActivities struct {
	Notifier ports.Notifier // nil: log only
	Logger   *slog.Logger
}

var notifyLevels = map[string]slog.Level{
	"info":     slog.LevelInfo,
	"warning":  slog.LevelWarn,
	"critical": slog.LevelError,
}

// Notify logs the text at the param's level and posts it to chat (notify): in the incident
// card's thread once there is one, else in the runbook's (or default) channel. The Summary
// is the text, so it is on the incident timeline whatever chat does.
func (a *NotifyActivities) Notify(ctx context.Context, in StepInput) (StepResult, error) {
	p := paramsOf(ActionNotify, in)
	text, err := p.required("text", "the message to post")
	if err != nil {
		return StepResult{}, err
	}
	levelName := p.str("level")
	level, ok := notifyLevels[levelName]
	if !ok {
		return StepResult{}, invalidParams(ActionNotify, "param \"level\" is %q; use info, warning or critical", levelName)
	}
	return withHeartbeat(ctx, func(ctx context.Context) (StepResult, error) {
		logger := a.Logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.Log(ctx, level, text, "incident", in.IncidentID, "step", in.StepID, "runbook", in.Runbook)
		res := StepResult{Summary: text}
		if a.Notifier == nil || (in.Chat != nil && in.Chat.Skip != "") {
			return res, nil
		}
		n := ports.Notification{IncidentID: in.IncidentID, Key: in.IdempotencyKey, Level: levelName, Text: text,
			Retry: !activity.IsActivity(ctx) || activity.GetInfo(ctx).Attempt > 1}
		if in.Chat != nil {
			n.Thread, n.Channel = in.Chat.Thread, in.Chat.Channel
		}
		ref, err := a.Notifier.Notify(ctx, n)
		if err != nil {
			if ports.IsPermanent(err) {
				// No retry fixes a configuration problem, and a message that could not be
				// posted must not fail the incident (its undos would reverse the mitigation):
				// the timeline has the text and why chat did not get it.
				logger.Warn("Could not post a notify step to chat", "incident", in.IncidentID, "step", in.StepID, "err", err)
				res.Summary = fmt.Sprintf("%s (not posted to chat: %v)", text, err)
				return res, nil
			}
			return StepResult{}, classify(ActionNotify, err)
		}
		res.Posted = &ref
		return res, nil
	})
}

// PolicyActivities hand the worker's configuration to an incident.
type PolicyActivities struct {
	Policy Policy
}

// Load returns the configured policy (incident.policy, a local activity).
func (a *PolicyActivities) Load(ctx context.Context) (Policy, error) {
	return a.Policy, nil
}

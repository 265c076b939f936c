package activities

import (
	"context"
	"log/slog"

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

// Notify logs the text at the param's level and posts it to chat (notify). The Summary is
// the text, so it shows on the incident timeline too.
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
		if a.Notifier != nil {
			if err := a.Notifier.Post(ctx, levelName, text, in.IncidentID); err != nil {
				return StepResult{}, classify(ActionNotify, err)
			}
		}
		return StepResult{Summary: text}, nil
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

package activities

import (
	"context"
	"log/slog"
)

// Skip says a step did not run because a port it needs is not configured (no traffic
// source, no prompts repository). It is not a failure: the workflow marks the step
// skipped with this reason and goes on, nobody is paged, and the log line is INFO.
type Skip struct {
	Port   string `json:"port"`   // the port that is not configured: traffic, prompts
	Reason string `json:"reason"` // what is missing and how to configure it
}

// Ports a step can be skipped for.
const (
	PortTraffic = "traffic"
	PortPrompts = "prompts"
)

// Messages for what is not configured: they say what to set.
const (
	noTrafficSource = "no traffic source configured: start quench with --traffic-log FILE (a JSONL request log with OpenTelemetry gen_ai.* fields)"
	noPromptsRepo   = "no prompts repository configured: start quench with --prompts-repo PATH (a local git repository; --prompts-path for the folder inside it), or set github.repo in the config"
)

// skipped logs at INFO that the step is skipped and returns the result saying so.
func skipped(ctx context.Context, logger *slog.Logger, in StepInput, port, reason string) StepResult {
	if logger == nil {
		logger = slog.Default()
	}
	logger.LogAttrs(ctx, slog.LevelInfo, "step skipped: "+port+" not configured",
		slog.String("incident", in.IncidentID), slog.String("step", in.StepID),
		slog.String("action", in.Action), slog.String("reason", reason))
	return StepResult{Summary: "skipped: " + reason, Skipped: &Skip{Port: port, Reason: reason}}
}

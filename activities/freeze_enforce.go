package activities

import (
	"context"

	"github.com/quench-dev/quench/internal/ports"
)

// EnforceFreezeActivity is run by the freeze workflow on every change of a scope's freeze
// (and periodically while frozen, when the host asks for it): it makes the prompts host
// enforce the state, e.g. failing commit statuses and a repository variable on GitHub.
const EnforceFreezeActivity = "prompts.enforce_freeze"

// FreezeEnforceActivities hold the enforcer the freeze workflow drives.
type FreezeEnforceActivities struct {
	Enforcer ports.FreezeEnforcer // nil: no host enforces freezes; the activity does nothing
}

// Enforce applies a scope's freeze state on the prompts host (prompts.enforce_freeze).
func (a *FreezeEnforceActivities) Enforce(ctx context.Context, in ports.FreezeEnforcement) (ports.EnforceResult, error) {
	if a.Enforcer == nil {
		return ports.EnforceResult{Summary: "no prompts host enforces freezes (configure github: to enforce them on GitHub)"}, nil
	}
	if in.Scope == "" {
		return ports.EnforceResult{}, invalidParams(EnforceFreezeActivity, "the freeze enforcement has no scope")
	}
	return withHeartbeat(ctx, func(ctx context.Context) (ports.EnforceResult, error) {
		res, err := a.Enforcer.EnforceFreeze(ctx, in)
		if err != nil {
			return ports.EnforceResult{}, classify(EnforceFreezeActivity, err)
		}
		return res, nil
	})
}

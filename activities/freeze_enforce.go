package activities

import (
	"context"
	"time"
)

// EnforceFreezeActivity is run by the freeze workflow on every change of a scope's freeze
// (and periodically while frozen, when the host asks for it): it makes the prompts host
// enforce the state, e.g. failing commit statuses and a repository variable on GitHub.
const EnforceFreezeActivity = "prompts.enforce_freeze"

// FreezeEnforcement is a scope's freeze state for a host to enforce.
type FreezeEnforcement struct {
	Scope   string   `json:"scope"`
	Frozen  bool     `json:"frozen"`
	Holders []string `json:"holders,omitempty"` // incident IDs holding the freeze
	Reason  string   `json:"reason,omitempty"`  // the first holder's reason
}

// EnforceResult says what a host did about a freeze.
type EnforceResult struct {
	// Enforced is false when no host enforces this scope (GitHub not configured, or another
	// scope): nothing was done and the freeze workflow schedules no sweep.
	Enforced bool `json:"enforced"`
	// SweepEvery asks the freeze workflow to enforce again this often while the scope is
	// frozen, catching pull requests opened meanwhile; zero means no sweep.
	SweepEvery time.Duration `json:"sweep_every,omitempty"`
	Summary    string        `json:"summary,omitempty"`
}

// FreezeEnforcer makes a prompts host enforce a freeze. Enforcing the same state twice is
// harmless.
type FreezeEnforcer interface {
	EnforceFreeze(ctx context.Context, f FreezeEnforcement) (EnforceResult, error)
}

// FreezeEnforceActivities hold the enforcer the freeze workflow drives.
type FreezeEnforceActivities struct {
	Enforcer FreezeEnforcer // nil: no host enforces freezes; the activity does nothing
}

// Enforce applies a scope's freeze state on the prompts host (prompts.enforce_freeze).
func (a *FreezeEnforceActivities) Enforce(ctx context.Context, in FreezeEnforcement) (EnforceResult, error) {
	if a.Enforcer == nil {
		return EnforceResult{Summary: "no prompts host enforces freezes (configure github: to enforce them on GitHub)"}, nil
	}
	if in.Scope == "" {
		return EnforceResult{}, invalidParams(EnforceFreezeActivity, "the freeze enforcement has no scope")
	}
	return withHeartbeat(ctx, func(ctx context.Context) (EnforceResult, error) {
		res, err := a.Enforcer.EnforceFreeze(ctx, in)
		if err != nil {
			return EnforceResult{}, classify(EnforceFreezeActivity, err)
		}
		return res, nil
	})
}

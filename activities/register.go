package activities

import (
	"log/slog"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/quench-dev/quench/internal/ports"
)

// Deps are the ports the activities run against. A nil port leaves its activities
// registered: steps that need traffic or prompts are then skipped with the reason (Skip),
// the others fail without retries, with a message that says which flag to set.
type Deps struct {
	Gateway  ports.Gateway
	Prompts  ports.Prompts
	Freezer  ports.Freezer
	Traffic  ports.Traffic
	Evidence ports.EvidenceStore
	// Probes measure a provider directly before a fail back (probes.<provider>); nil: none.
	Probes   Probes
	Notifier ports.Notifier // nil: notify logs only
	Policy   Policy
	Logger   *slog.Logger
	// FreezeEnforcer makes the prompts host enforce freezes (GitHub); nil: nothing to enforce.
	FreezeEnforcer ports.FreezeEnforcer
}

// Register registers every activity under its catalog name, plus traffic.measure and the
// incident.policy local activity.
func Register(r worker.ActivityRegistry, deps Deps) {
	gateway := &GatewayActivities{Gateway: deps.Gateway}
	prompts := &PromptActivities{Prompts: deps.Prompts, Freezer: deps.Freezer, Logger: deps.Logger}
	traffic := &TrafficActivities{Traffic: deps.Traffic, Evidence: deps.Evidence, Probes: deps.Probes, Logger: deps.Logger}
	notify := &NotifyActivities{Notifier: deps.Notifier, Logger: deps.Logger}
	policy := &PolicyActivities{Policy: deps.Policy}
	enforce := &FreezeEnforceActivities{Enforcer: deps.FreezeEnforcer}

	for name, fn := range map[string]any{
		ActionGatewaySwitch:    gateway.Switch,
		ActionGatewayRestore:   gateway.Restore,
		GatewayReadActivity:    gateway.Read,
		ActionGatewayBlock:     gateway.Block,
		ActionGatewayUnblock:   gateway.Unblock,
		ActionGatewayPinModel:  gateway.PinModel,
		ActionGatewayUnpin:     gateway.UnpinModel,
		GatewayReadPinActivity: gateway.ReadPin,
		ActionTrafficSnapshot:  traffic.Snapshot,
		VerifyActivity:         traffic.Measure,
		HealthActivity:         traffic.Health,
		ActionPromptsChanges:   prompts.Changes,
		ActionPromptsFreeze:    prompts.Freeze,
		ActionPromptsUnfreeze:  prompts.Unfreeze,
		ActionPromptsRollback:  prompts.RollbackPR,
		ActionNotify:           notify.Notify,
		PolicyActivity:         policy.Load,
		EnforceFreezeActivity:  enforce.Enforce,
	} {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

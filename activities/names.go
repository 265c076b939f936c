package activities

import (
	"fmt"

	"github.com/quench-dev/quench/runbooks"
)

// Catalog action names implemented by activities in this package: the catalog's own
// constants, so a rename in runbooks cannot leave an activity registered under the old name.
const (
	ActionGatewaySwitch   = runbooks.ActionGatewaySwitch
	ActionGatewayRestore  = runbooks.ActionGatewayRestore
	ActionGatewayBlock    = runbooks.ActionGatewayBlock
	ActionGatewayUnblock  = runbooks.ActionGatewayUnblock
	ActionGatewayPinModel = runbooks.ActionGatewayPinModel
	ActionGatewayUnpin    = runbooks.ActionGatewayUnpin
	ActionTrafficSnapshot = runbooks.ActionTrafficSnapshot
	ActionPromptsChanges  = runbooks.ActionPromptsChanges
	ActionPromptsFreeze   = runbooks.ActionPromptsFreeze
	ActionPromptsUnfreeze = runbooks.ActionPromptsUnfreeze
	ActionPromptsRollback = runbooks.ActionPromptsRollback
	ActionNotify          = runbooks.ActionNotify
)

const (
	rollbackBranchPrefix   = "quench/rollback-" // + the incident's short ID
	maxCommitsInOutputs    = 50                 // commits listed in prompts.changes outputs (count has them all)
	maxSummaryMessageRunes = 80
)

// identity is who a step acts as and under which key its side effect is recorded.
type identity struct {
	holder string // the incident ID: owns saved state (a switch's previous provider, a freeze hold)
	key    string // the step's idempotency key: a retry returns the first result
}

func identityOf(action string, in StepInput) (identity, error) {
	if in.IncidentID == "" {
		return identity{}, invalidParams(action, "the step input has no incident_id; steps run inside an incident workflow, start one with `quench incident start`")
	}
	key := in.IdempotencyKey
	if key == "" {
		key = in.IncidentID + "/" + in.StepID
	}
	return identity{holder: in.IncidentID, key: key}, nil
}

// shorten cuts s to n runes for a one-line summary.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

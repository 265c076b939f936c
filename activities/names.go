package activities

import "fmt"

// Catalog action names (runbooks.Catalog) implemented by activities in this package.
const (
	ActionGatewaySwitch   = "gateway.switch"
	ActionGatewayRestore  = "gateway.restore"
	ActionGatewayBlock    = "gateway.block"
	ActionGatewayUnblock  = "gateway.unblock"
	ActionTrafficSnapshot = "traffic.snapshot"
	ActionPromptsChanges  = "prompts.changes"
	ActionPromptsFreeze   = "prompts.freeze"
	ActionPromptsUnfreeze = "prompts.unfreeze"
	ActionPromptsRollback = "prompts.rollback_pr"
	ActionNotify          = "notify"
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

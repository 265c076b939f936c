package activities

import (
	"fmt"
	"strings"

	"github.com/quench-dev/quench/internal/ports"
)

// appliedRollback reports a rollback a label-deployed prompt store made live (Langfuse:
// the production label moved back): every label's version before and after goes to the
// step outputs and the timeline.
func appliedRollback(rb ports.RollbackResult, out map[string]any) StepResult {
	moves := make([]any, 0, len(rb.Moves))
	var done []string
	for _, m := range rb.Moves {
		moves = append(moves, map[string]any{"prompt": m.Prompt, "label": m.Label, "before": m.From, "after": m.To})
		if m.From == m.To {
			done = append(done, fmt.Sprintf("%s: %s already on v%d", m.Prompt, m.Label, m.To))
			continue
		}
		done = append(done, fmt.Sprintf("%s: %s moved from %s to v%d", m.Prompt, m.Label, versionText(m.From), m.To))
	}
	out["applied"] = true
	out["moves"] = moves
	return StepResult{Summary: "prompts rolled back: " + strings.Join(done, "; "), Outputs: out}
}

func versionText(v int) string {
	if v == 0 {
		return "no version"
	}
	return fmt.Sprintf("v%d", v)
}

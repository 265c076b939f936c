package e2e

import "testing"

// The README check is only as good as its matcher: it must fail on drift.
func TestREADMEOutputMatcher(t *testing.T) {
	out := "Started incident 9a8b7c (prompt-regression): Prompt regression\n" +
		"Steps\n  ID  ACTION  STATE\n  changes   prompts.changes   done   1 prompt change; oldest suspect 6d8e30a \"v2\" by bob\n" +
		"  rollback  prompts.rollback_pr  awaiting_approval\n" +
		"Waiting for approval: step rollback (prompts.rollback_pr)\n"
	for _, c := range []struct {
		name string
		want []string
		ok   bool
	}{
		{"exact with the ID and a commit swapped", []string{"Started incident 3fa9c1 (prompt-regression): Prompt regression", "...",
			`  changes prompts.changes done 1 prompt change; oldest suspect 1234abc "v2" by bob`, "...", "Waiting for approval: step rollback (prompts.rollback_pr)"}, true},
		{"prefix line", []string{"...", "  rollback   prompts.rollback_pr ...", "..."}, true},
		{"a word changed", []string{"...", "  rollback prompts.rollback_pr awaiting approval", "..."}, false},
		{"a line the output does not have", []string{"...", "Resolved incident 3fa9c1", "..."}, false},
		{"lines out of order", []string{"...", "Waiting for approval: step rollback (prompts.rollback_pr)", "Steps", "..."}, false},
		{"output longer than shown, without ...", []string{"Started incident 3fa9c1 (prompt-regression): Prompt regression"}, false},
		{"another incident ID", []string{"Started incident 111111 (prompt-regression): Prompt regression", "..."}, false},
	} {
		miss := matchOutput(c.want, out, "3fa9c1", "9a8b7c")
		if (miss == "") != c.ok {
			t.Errorf("%s: mismatch %q, want ok=%v", c.name, miss, c.ok)
		}
	}
}

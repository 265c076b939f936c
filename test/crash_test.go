package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// TestPromptRegressionSurvivesKillWhileAwaitingApproval is the core promise: a newcomer
// starts an incident, quench is SIGKILLed while the rollback waits for approval, it is
// started again, the approval and resolve go through, and every side effect happened once.
func TestPromptRegressionSurvivesKillWhileAwaitingApproval(t *testing.T) {
	repo := promptsRepo(t)
	cfg := newDevConfig(t, "--prompts-repo", repo, "--traffic-log", writeTraffic(t, t.TempDir()))
	dev := startDev(t, cfg)

	started := decodeJSON[incidents.Started](t, dev.mustQuench(t, "incident", "start", "prompt-regression", "--as", "carol", "-o", "json"))
	w := dev.watch(t, started.IncidentID)
	w.waitFor(t, workflows.EventApprovalAsked, "rollback")
	w.stop()

	dev.Kill()
	dev = startDev(t, cfg)

	// Four-eyes: the requester may not approve her own incident's rollback.
	res := dev.quench(t, "incident", "approve", started.ShortID, "--as", "carol")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "four eyes") {
		t.Fatalf("self-approval under four-eyes: exit %d, stderr %q; want a refusal naming four eyes", res.ExitCode, res.Stderr)
	}

	w = dev.watch(t, started.IncidentID)
	dev.mustQuench(t, "incident", "approve", started.ShortID, "--as", "dave", "--reason", "diff looks right")
	w.waitFor(t, workflows.EventStepStarted, "recovered")
	dev.mustQuench(t, "incident", "resolve", started.ShortID, "--as", "dave", "--reason", "answers are long again")
	w.waitFor(t, workflows.EventClosed, "")

	final := decodeJSON[workflows.Status](t, dev.mustQuench(t, "incident", "show", started.ShortID, "-o", "json"))
	assertCompletedOnce(t, final, repo, started.ShortID)
	assertFrozenOnce(t, dev, started.IncidentID)

	// Approving a closed incident says so and changes nothing.
	res = dev.quench(t, "incident", "approve", started.ShortID, "--as", "erin")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "closed") {
		t.Fatalf("approve after close: exit %d, stderr %q; want a refusal saying it is closed", res.ExitCode, res.Stderr)
	}
	recordHistory(t, dev, started.IncidentID, "prompt-regression-kill-awaiting-approval")
}

// TestPromptRegressionSurvivesKillWhileActivityRuns kills quench while the traffic snapshot
// activity is in the middle of reading the request log. The log is a FIFO, so the test
// knows the activity is running (its open returned) without guessing with a sleep, and
// decides when it may finish.
func TestPromptRegressionSurvivesKillWhileActivityRuns(t *testing.T) {
	repo := promptsRepo(t)
	fifo := filepath.Join(t.TempDir(), "traffic.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := newDevConfig(t, "--prompts-repo", repo, "--traffic-log", fifo)
	dev := startDev(t, cfg)

	started := decodeJSON[incidents.Started](t, dev.mustQuench(t, "incident", "start", "prompt-regression", "--as", "carol", "-o", "json"))

	// Opening the FIFO for writing returns once the activity has opened it for reading.
	first := openWriter(t, fifo)
	dev.Kill()
	first.Close()

	dev = startDev(t, cfg)
	// The activity's retry opens the log again; this time it gets the data.
	second := openWriter(t, fifo)
	if _, err := second.Write(trafficLines(nowUTC())); err != nil {
		t.Fatal(err)
	}
	second.Close()

	w := dev.watch(t, started.IncidentID)
	w.waitFor(t, workflows.EventApprovalAsked, "rollback")
	dev.mustQuench(t, "incident", "approve", started.ShortID, "--as", "dave")
	w.waitFor(t, workflows.EventStepStarted, "recovered")
	dev.mustQuench(t, "incident", "resolve", started.ShortID, "--as", "dave")
	w.waitFor(t, workflows.EventClosed, "")

	final := decodeJSON[workflows.Status](t, dev.mustQuench(t, "incident", "show", started.ShortID, "-o", "json"))
	assertCompletedOnce(t, final, repo, started.ShortID)
	assertFrozenOnce(t, dev, started.IncidentID)
	if len(final.Evidence) != 1 {
		t.Fatalf("evidence refs = %d, want exactly 1: %+v", len(final.Evidence), final.Evidence)
	}
	evidenceDir := filepath.Join(cfg.DataDir, "evidence")
	files := 0
	_ = filepath.Walk(evidenceDir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files++
		}
		return nil
	})
	if files < 1 {
		t.Fatalf("no evidence file under %s", evidenceDir)
	}
	recordHistory(t, dev, started.IncidentID, "prompt-regression-kill-mid-activity")
}

// openWriter opens the FIFO for writing, which blocks until a reader opens it.
func openWriter(t *testing.T, fifo string) *os.File {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*60e9)
	defer cancel()
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		ch <- result{f, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.f
	case <-ctx.Done():
		t.Fatal("the traffic snapshot activity never opened the request log")
		return nil
	}
}

// assertCompletedOnce checks the final state: resolved, every step ran once, exactly one
// rollback branch with one commit restoring the good prompt on top of the bad head.
func assertCompletedOnce(t *testing.T, st workflows.Status, repo, shortID string) {
	t.Helper()
	if st.State != workflows.StateResolved {
		t.Fatalf("final state %q, want %q; timeline: %+v", st.State, workflows.StateResolved, st.Timeline)
	}
	done := map[string]int{}
	started := map[string]int{}
	for _, e := range st.Timeline {
		switch e.Kind {
		case workflows.EventStepDone:
			done[e.StepID]++
		case workflows.EventStepStarted:
			started[e.StepID]++
		}
	}
	for _, step := range []string{"freeze", "evidence", "changes", "rollback", "recovered"} {
		if done[step] != 1 || started[step] != 1 {
			t.Errorf("step %s: started %d times, done %d times on the timeline; want once each", step, started[step], done[step])
		}
	}
	branches := rollbackBranches(t, repo)
	if len(branches) != 1 {
		t.Fatalf("rollback branches: %v, want exactly one", keys(branches))
	}
	c, ok := branches["quench/rollback-"+shortID]
	if !ok {
		t.Fatalf("rollback branch for %s missing; have %v", shortID, keys(branches))
	}
	if got := fileAt(t, c, "prompts/answer.txt"); got != goodPrompt {
		t.Errorf("rollback commit has prompt %q, want the good one %q", got, goodPrompt)
	}
	if c.NumParents() != 1 {
		t.Fatalf("rollback commit has %d parents, want 1", c.NumParents())
	}
	parent, err := c.Parent(0)
	if err != nil {
		t.Fatal(err)
	}
	if got := fileAt(t, parent, "prompts/answer.txt"); got != badPrompt {
		t.Errorf("rollback commit's parent has %q, want the bad head %q", got, badPrompt)
	}
}

// assertFrozenOnce checks the freeze history: one freeze and one unfreeze by the incident,
// and the scope no longer frozen.
func assertFrozenOnce(t *testing.T, dev *devProcess, incidentID string) {
	t.Helper()
	st := decodeJSON[workflows.FreezeState](t, dev.mustQuench(t, "freeze", "status", "-o", "json"))
	counts := map[string]int{}
	for _, e := range st.History {
		if e.Holder == incidentID {
			counts[e.Kind]++
		}
	}
	if counts["freeze"] != 1 || counts["unfreeze"] != 1 || len(counts) != 2 {
		t.Fatalf("freeze history for %s: %v, want one freeze and one unfreeze; history %+v", incidentID, counts, st.History)
	}
	if st.Frozen {
		t.Fatalf("scope still frozen after close: %+v", st.Holds)
	}
	if res := dev.quench(t, "freeze", "check"); res.ExitCode != 0 {
		t.Fatalf("freeze check after close: exit %d (%s)", res.ExitCode, res.Stderr)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

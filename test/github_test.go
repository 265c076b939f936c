package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/targets/prompts/github/githubfake"
	"github.com/quench-dev/quench/workflows"
)

const (
	githubToken   = "e2e-github-token"
	githubSecret  = "e2e-webhook-secret"
	freezeContext = "quench/prompt-freeze"
	freezeVar     = "PROMPT_DEPLOY_FROZEN"
)

// TestPromptRegressionOnGitHub runs prompt-regression against a fake GitHub (in this test
// process, backed by a real in-memory git repository): the freeze shows on GitHub, a pull
// request opened during the freeze is marked by the webhook, quench is SIGKILLed right
// after GitHub created the rollback pull request but before quench heard back, and after a
// restart there is still exactly one pull request. Closing the incident lifts the freeze
// on GitHub too.
func TestPromptRegressionOnGitHub(t *testing.T) {
	fake := githubfake.New(githubfake.Options{Token: githubToken})
	t.Cleanup(fake.Close)
	fake.Commit("main", "prompt: answer with citations", "Alice Smith", time.Now().Add(-48*time.Hour),
		map[string]*string{"prompts/answer.txt": githubfake.Text(goodPrompt), "README.md": githubfake.Text("docs\n")})
	bad := fake.Commit("main", "prompt: shorter answers (#41)", "Bob Builder", time.Now().Add(-time.Hour),
		map[string]*string{"prompts/answer.txt": githubfake.Text(badPrompt)})
	fake.Branch("tone", bad)
	toneHead := fake.Commit("tone", "prompt: friendlier", "Dan Brown", time.Now().Add(-30*time.Minute),
		map[string]*string{"prompts/answer.txt": githubfake.Text(badPrompt + "Be friendly.\n")})
	fake.OpenPR("tone", "main", "Friendlier answers")

	t.Setenv("QUENCH_E2E_GITHUB_TOKEN", githubToken)
	t.Setenv("QUENCH_E2E_GITHUB_SECRET", githubSecret)
	configFile := filepath.Join(t.TempDir(), "quench.yaml")
	config := fmt.Sprintf(`github:
  repo: acme/prompts
  base_url: %s
  token: env:QUENCH_E2E_GITHUB_TOKEN
  webhook_secret: env:QUENCH_E2E_GITHUB_SECRET
  labels: [quench-rollback]
  sweep_interval: 10s
`, fake.URL())
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := newDevConfig(t, "--config", configFile, "--traffic-log", writeTraffic(t, t.TempDir()))
	dev := startDev(t, cfg)

	started := decodeJSON[incidents.Started](t, dev.mustQuench(t, "incident", "start", "prompt-regression", "--as", "carol", "-o", "json"))
	w := dev.watch(t, started.IncidentID)
	w.waitFor(t, workflows.EventApprovalAsked, "rollback")

	// The freeze is on GitHub: failing statuses on main's head and the open prompt PR, and
	// the variable a deploy job reads.
	head := fake.Head("main")
	waitUntil(t, "the freeze to show on GitHub", func() bool {
		v, _ := fake.Variable(freezeVar)
		return statusOf(fake, head) == "failure" && statusOf(fake, toneHead) == "failure" && v == "true"
	})
	changes := stepOutputs(t, dev, started.ShortID, "changes")
	if commits, _ := changes["commits"].([]any); len(commits) != 1 || commits[0].(map[string]any)["pr"] != float64(41) {
		t.Fatalf("prompts.changes outputs = %v; want the bad commit with its PR #41", changes)
	}

	// A pull request opened during the freeze is marked by the webhook at once.
	fake.Branch("sneaky", bad)
	sneakyHead := fake.Commit("sneaky", "prompt: ship it anyway", "Dan Brown", time.Now(),
		map[string]*string{"prompts/answer.txt": githubfake.Text("Ship it.\n")})
	sneakyPR := fake.OpenPR("sneaky", "main", "Ship it anyway")
	deliverPullRequest(t, dev.http, sneakyPR, "sneaky", sneakyHead)
	if got := statusOf(fake, sneakyHead); got != "failure" {
		t.Fatalf("status of the pull request opened during the freeze = %q, want failure", got)
	}

	// Approve; kill quench the moment GitHub has created the pull request.
	held := fake.HoldAfter("POST", "/pulls")
	dev.mustQuench(t, "incident", "approve", started.ShortID, "--as", "dave", "--reason", "diff looks right")
	select {
	case <-held.Reached:
	case <-time.After(3 * time.Minute):
		t.Fatal("the rollback never created its pull request")
	}
	w.stop()
	dev.Kill()
	held.Release()
	if n := len(fake.Pulls()); n != 3 {
		t.Fatalf("pull requests before the restart = %d, want 3 (two people's and quench's)", n)
	}

	dev = startDev(t, cfg)
	w = dev.watch(t, started.IncidentID)
	w.waitFor(t, workflows.EventStepStarted, "recovered")
	rollbacks := rollbackPulls(fake)
	if len(rollbacks) != 1 {
		t.Fatalf("rollback pull requests after the restart: %+v; want exactly one", rollbacks)
	}
	pr := rollbacks[0]
	if pr.Head != "quench/rollback-"+started.ShortID || pr.Base != "main" || pr.State != "open" ||
		len(pr.Labels) != 1 || pr.Labels[0] != "quench-rollback" || !strings.Contains(pr.Body, started.IncidentID) {
		t.Fatalf("rollback pull request = %+v", pr)
	}
	if got, _ := fake.File(fake.PullHead(pr.Number), "prompts/answer.txt"); got != goodPrompt {
		t.Fatalf("rollback restores %q, want the good prompt", got)
	}
	if got := statusOf(fake, fake.PullHead(pr.Number)); got != "success" {
		waitUntil(t, "the rollback pull request to pass the freeze", func() bool { return statusOf(fake, fake.PullHead(pr.Number)) == "success" })
	}
	rollback := stepOutputs(t, dev, started.ShortID, "rollback")
	if rollback["pr"] != float64(pr.Number) {
		t.Fatalf("rollback step outputs = %v; want pr %d", rollback, pr.Number)
	}

	dev.mustQuench(t, "incident", "resolve", started.ShortID, "--as", "dave", "--reason", "answers are long again")
	w.waitFor(t, workflows.EventClosed, "")
	assertFrozenOnce(t, dev, started.IncidentID)
	waitUntil(t, "the freeze to be lifted on GitHub", func() bool {
		_, set := fake.Variable(freezeVar)
		return !set && statusOf(fake, fake.Head("main")) == "success" && statusOf(fake, toneHead) == "success" &&
			statusOf(fake, sneakyHead) == "success"
	})
	if n := len(rollbackPulls(fake)); n != 1 {
		t.Fatalf("rollback pull requests at the end: %d, want 1", n)
	}
	recordHistory(t, dev, started.IncidentID, "prompt-regression-github-kill-after-pr")
}

func statusOf(f *githubfake.Fake, sha string) string {
	st, _ := f.LatestStatus(sha, freezeContext)
	return st.State
}

func rollbackPulls(f *githubfake.Fake) []githubfake.Pull {
	var out []githubfake.Pull
	for _, p := range f.Pulls() {
		if strings.HasPrefix(p.Head, "quench/rollback-") {
			out = append(out, p)
		}
	}
	return out
}

// stepOutputs reads a step's outputs from `quench incident show -o json`.
func stepOutputs(t *testing.T, dev *devProcess, id, step string) map[string]any {
	t.Helper()
	st := decodeJSON[workflows.Status](t, dev.mustQuench(t, "incident", "show", id, "-o", "json"))
	for _, s := range st.Steps {
		if s.ID == step {
			return s.Outputs
		}
	}
	t.Fatalf("no step %s in %+v", step, st.Steps)
	return nil
}

// deliverPullRequest posts a signed pull_request "opened" event to quench's GitHub hook.
func deliverPullRequest(t *testing.T, addr string, number int, ref, sha string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"action": "opened",
		"number": number,
		"pull_request": map[string]any{"number": number, "head": map[string]any{
			"ref": ref, "sha": sha, "repo": map[string]string{"full_name": "acme/prompts"}}},
		"repository": map[string]string{"full_name": "acme/prompts"},
	})
	mac := hmac.New(sha256.New, []byte(githubSecret))
	mac.Write(body)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/hooks/github", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "pull_request")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var msg map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&msg)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook delivery: %d %v", resp.StatusCode, msg)
	}
}

// waitUntil polls a condition on the fake (state another process changes) until it holds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

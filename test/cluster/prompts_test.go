package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/targets/prompts/github/githubfake"
	"github.com/quench-dev/quench/workflows"
)

// The prompts repository the fake GitHub serves: a good prompt two days old, the suspect
// change an hour ago.
const (
	githubToken   = "cluster-test-github-token"
	goodPrompt    = "Answer in full sentences and cite your sources.\n"
	badPrompt     = "Answer briefly.\n"
	freezeContext = "quench/prompt-freeze"
	freezeVar     = "PROMPT_DEPLOY_FROZEN"
)

// TestPromptRegressionOnGitHubOnACluster is issue 12's cluster scenario for the rollback
// pull request: prompt-regression with GitHub (the stateful fake, token auth) as the
// prompts target, on 2 workers and 2 servers with separate data dirs. An alert to server A
// starts it; the freeze shows on GitHub; the rollback is approved through server B; the
// worker running the rollback is killed -9 after GitHub created the pull request but
// before the worker heard back, and the other worker finishes the step. At the end GitHub
// saw one branch created and one pull request opened, the freeze was taken and lifted
// once, and both servers report the same incident.
func TestPromptRegressionOnGitHubOnACluster(t *testing.T) {
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

	c := newClusterWithSecrets(t, func(cfg map[string]any) {
		cfg["github"] = map[string]any{
			"repo":     "acme/prompts",
			"base_url": fake.URL(),
			"token":    "env:QUENCH_GITHUB_TOKEN",
			"labels":   []string{"quench-rollback"},
			// The shortest sweep: it re-applies statuses from whichever worker runs it, which
			// the once-checks below must tolerate.
			"sweep_interval": "10s",
		}
	}, map[string]string{"QUENCH_GITHUB_TOKEN": githubToken})
	c.startWorker("worker-1")
	c.startWorker("worker-2")
	a, b := c.startServer("server-a"), c.startServer("server-b")
	tc := c.client()

	group := "cluster-prompts-" + randomHex(4)
	fingerprint := "fp-" + randomHex(4)
	const alertname, summary = "LLMQualityDrop", "chat: answer quality dropped"
	fired := a.postAlertNamed(t, alertname, summary, "firing", group, fingerprint)
	if len(fired.Incidents) != 1 || fired.Incidents[0].Result != "started" || fired.Incidents[0].Runbook != "prompt-regression" {
		t.Fatalf("alert to server A: %+v, want one prompt-regression started", fired)
	}
	id, short := fired.Incidents[0].IncidentID, fired.Incidents[0].ShortID

	st := b.waitStatus(t, short, "the rollback to ask for approval", func(st workflows.Status) bool {
		return len(st.Pending) == 1 && st.Pending[0].StepID == "rollback"
	})
	// The freeze is on GitHub, set by whichever worker ran it: failing statuses on main's
	// head and on the open prompt pull request, and the variable a deploy job reads.
	mainHead := fake.Head("main")
	waitFor(t, "the freeze to show on GitHub", time.Minute, func() (bool, error) {
		v, _ := fake.Variable(freezeVar)
		m, tone := statusOf(fake, mainHead), statusOf(fake, toneHead)
		return m == "failure" && tone == "failure" && v == "true", fmt.Errorf("main %q, tone %q, %s=%q", m, tone, freezeVar, v)
	})

	// Approve through server B; GitHub creates the pull request and holds its answer, so
	// the rollback is in flight with its effect done.
	held := fake.HoldAfter("POST", "/pulls")
	var res workflows.DecisionResult
	b.mustCall(t, "POST", "/api/v1/incidents/"+short+"/decisions", apiToken,
		map[string]string{"verdict": "approve", "digest": st.Pending[0].Digest, "reason": "the diff restores the cited answers"},
		http.StatusOK, &res)
	if res.Outcome != "approved" {
		t.Fatalf("decision through server B: %+v, want approved", res)
	}
	select {
	case <-held.Reached:
	case <-time.After(2 * time.Minute):
		t.Fatal("the rollback never created its pull request on GitHub")
	}
	holder := c.workerByIdentity(t, pendingActivity(t, tc, id, "prompts.rollback_pr"))
	survivor := "worker-1"
	if holder == survivor {
		survivor = "worker-2"
	}
	t.Logf("%s runs the rollback of %s and GitHub has created its pull request: kill -9", holder, short)
	c.workers[holder].kill()
	delete(c.workers, holder)
	held.Release()
	if n := len(rollbackPulls(fake)); n != 1 {
		t.Fatalf("rollback pull requests once the worker died: %d, want 1", n)
	}

	// No replacement worker: the survivor must finish the rollback, reusing what is there.
	st = a.waitStatus(t, short, "the rollback to finish on "+survivor, func(st workflows.Status) bool {
		return stepIs(st, "rollback", workflows.StepDone) && stepIs(st, "recovered", workflows.StepRunning)
	}, c.workers[survivor])
	pulls := rollbackPulls(fake)
	if len(pulls) != 1 {
		t.Fatalf("rollback pull requests after the retry: %+v, want exactly one", pulls)
	}
	pr := pulls[0]
	if pr.Head != "quench/rollback-"+short || pr.Base != "main" || pr.State != "open" ||
		len(pr.Labels) != 1 || pr.Labels[0] != "quench-rollback" || !strings.Contains(pr.Body, id) {
		t.Fatalf("rollback pull request = %+v", pr)
	}
	if got, _ := fake.File(fake.PullHead(pr.Number), "prompts/answer.txt"); got != goodPrompt {
		t.Fatalf("the rollback pull request has prompt %q, want the good one %q", got, goodPrompt)
	}
	if out := stepOf(st, "rollback").Outputs; out["pr"] != float64(pr.Number) {
		t.Fatalf("rollback step outputs %v, want pr %d", out, pr.Number)
	}

	// The alert resolves through server A; the incident closes and lifts the freeze.
	if r := a.postAlertNamed(t, alertname, summary, "resolved", group, fingerprint); len(r.Incidents) != 1 || r.Incidents[0].IncidentID != id {
		t.Fatalf("resolved alert to server A: %+v, want it to reach %s", r, id)
	}
	final := b.waitStatus(t, short, "the incident to close resolved", func(st workflows.Status) bool {
		return st.State == workflows.StateResolved && st.ClosedAt != nil
	})
	waitFor(t, "the freeze to be lifted on GitHub", time.Minute, func() (bool, error) {
		_, set := fake.Variable(freezeVar)
		m, tone := statusOf(fake, fake.Head("main")), statusOf(fake, toneHead)
		return !set && m == "success" && tone == "success", fmt.Errorf("main %q, tone %q, %s set %v", m, tone, freezeVar, set)
	})

	// Every side effect once, from GitHub's own record of the calls.
	if n := successfulCalls(fake, "POST", "/pulls"); n != 1 {
		t.Errorf("GitHub answered %d pull request creations, want 1 (%v)", n, fake.Calls())
	}
	// The retry found the branch and the pull request and reused them: one tree, one
	// commit, one branch, and the labels (which the killed worker never got to) added once.
	for _, path := range []string{"/git/trees", "/git/commits", "/git/refs", fmt.Sprintf("/issues/%d/labels", pr.Number)} {
		if n := successfulCalls(fake, "POST", path); n != 1 {
			t.Errorf("GitHub answered POST %s %d times, want once (%v)", path, n, fake.Calls())
		}
	}
	// The freeze variable was created once and deleted once, whichever worker swept.
	if n, d := successfulCalls(fake, "POST", "/actions/variables"), successfulCalls(fake, "DELETE", "/actions/variables/"+freezeVar); n != 1 || d != 1 {
		t.Errorf("GitHub created the freeze variable %d times and deleted it %d times, want once each", n, d)
	}
	if n := successfulCalls(fake, "PATCH", "/actions/variables/"+freezeVar); n != 0 {
		t.Errorf("GitHub updated the freeze variable %d times, want never (it was set once)", n)
	}
	// Freeze statuses: set once per commit, whichever worker swept (a worker reads what
	// GitHub shows before writing, so the other worker's sweep repeats nothing).
	for name, sha := range map[string]string{"main": mainHead, "tone": toneHead} {
		failures := 0
		for _, s := range fake.Statuses(sha) {
			if s.Context == freezeContext && s.State == "failure" {
				failures++
			}
		}
		if failures != 1 {
			t.Errorf("%d failing freeze statuses on %s's head, want exactly 1", failures, name)
		}
	}
	var rollbackBranches []string
	for _, br := range fake.Branches() {
		if strings.HasPrefix(br, "quench/rollback-") {
			rollbackBranches = append(rollbackBranches, br)
		}
	}
	if len(rollbackBranches) != 1 {
		t.Errorf("rollback branches on GitHub: %v, want one", rollbackBranches)
	}
	tip, ok := fake.CommitOf(fake.Head(pr.Head))
	if !ok || len(tip.Parents) != 1 || tip.Parents[0] != mainHead {
		t.Errorf("rollback branch tip %+v, want one commit on main's head %s", tip, mainHead)
	}
	if n := len(rollbackPulls(fake)); n != 1 {
		t.Errorf("rollback pull requests at the end: %d, want 1", n)
	}
	counts := map[string]int{}
	for _, e := range final.Timeline {
		if e.Kind == workflows.EventStepDone {
			counts[e.StepID]++
		}
	}
	if counts["freeze"] != 1 || counts["rollback"] != 1 || counts["changes"] != 1 {
		t.Errorf("step_done events %v, want freeze, changes and rollback once each", counts)
	}
	c.assertFrozenOnce(t, id)

	// Both servers report the same incident.
	_, fromA := a.call("GET", "/api/v1/incidents/"+short, apiToken, nil)
	_, fromB := b.call("GET", "/api/v1/incidents/"+short, apiToken, nil)
	if !bytes.Equal(fromA, fromB) {
		t.Errorf("servers disagree on %s:\nA: %s\nB: %s", short, fromA, fromB)
	}
	assertNoSecretIn(t, c, final)
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

// successfulCalls counts the 2xx answers of the fake to method on exactly this path of
// the repository (CountCalls matches by prefix: /pulls would count /pulls/N/... too).
func successfulCalls(f *githubfake.Fake, method, path string) int {
	n := 0
	for _, call := range f.Calls() {
		if call.Method == method && call.Path == "/repos/"+f.Repo()+path && call.Status < 300 {
			n++
		}
	}
	return n
}

func stepOf(st workflows.Status, id string) workflows.StepState {
	for _, s := range st.Steps {
		if s.ID == id {
			return s
		}
	}
	return workflows.StepState{}
}

// assertFrozenOnce reads the freeze through `quench freeze status` against the cluster:
// the incident took the freeze once and lifted it once, and nothing holds it any more.
func (c *cluster) assertFrozenOnce(t testing.TB, incidentID string) {
	t.Helper()
	cmd := exec.Command(bins.quench, "freeze", "status", "-o", "json")
	cmd.Env = c.env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("quench freeze status: %v %s", err, out)
	}
	var st workflows.FreezeState
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("quench freeze status: %v: %s", err, out)
	}
	counts := map[string]int{}
	for _, e := range st.History {
		if e.Holder == incidentID {
			counts[e.Kind]++
		}
	}
	if counts["freeze"] != 1 || counts["unfreeze"] != 1 || len(counts) != 2 {
		t.Errorf("freeze history for %s: %v, want one freeze and one unfreeze; history %+v", incidentID, counts, st.History)
	}
	if st.Frozen {
		t.Errorf("scope still frozen after close: %+v", st.Holds)
	}
}

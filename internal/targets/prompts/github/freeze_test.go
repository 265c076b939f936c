package github

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/prompts/github/githubfake"
)

// repoWithPulls has a main head and three open pull requests: one touching the prompts,
// one touching only code, and quench's own rollback.
type repoWithPulls struct {
	f                        *githubfake.Fake
	prompts, code, rollback  int
	promptsHead, rollbackSHA string
}

func newRepoWithPulls(t *testing.T) *repoWithPulls {
	t.Helper()
	f := newFake(t, githubfake.Options{})
	base := f.Commit("main", "initial", "Alice Smith", now.Add(-48*time.Hour), map[string]*string{"prompts/system.txt": text(goodSystem), "src/app.go": text("package app\n")})
	r := &repoWithPulls{f: f}
	f.Branch("edit-prompt", base)
	r.promptsHead = f.Commit("edit-prompt", "tweak", "Dan Brown", now.Add(-time.Hour), map[string]*string{"prompts/system.txt": text(badSystem)})
	r.prompts = f.OpenPR("edit-prompt", "main", "Tweak the prompt")
	f.Branch("fix-code", base)
	f.Commit("fix-code", "fix", "Dan Brown", now.Add(-time.Hour), map[string]*string{"src/app.go": text("package app // fixed\n")})
	r.code = f.OpenPR("fix-code", "main", "Fix code")
	f.Branch("quench/rollback-abcdef", base)
	r.rollbackSHA = f.Commit("quench/rollback-abcdef", "roll back", "quench", now, map[string]*string{"prompts/system.txt": text(goodSystem + "\n")})
	r.rollback = f.OpenPR("quench/rollback-abcdef", "main", "quench: roll back prompts")
	return r
}

func frozenBy(holder string) ports.FreezeEnforcement {
	return ports.FreezeEnforcement{Scope: "prompts", Frozen: true, Holders: []string{holder}, Reason: "incident abcdef: answers got short"}
}

func TestFreezeAndUnfreezeOnGitHub(t *testing.T) {
	r := newRepoWithPulls(t)
	a := newAdapter(t, r.f, Options{SweepEvery: 30 * time.Second,
		IncidentURL: func(id string) string { return "https://quench.example.com/incidents/" + id }})
	ctx := context.Background()
	head := r.f.Head("main")
	codeHead := r.f.PullHead(r.code)

	res, err := a.EnforceFreeze(ctx, frozenBy("inc-x"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Enforced || res.SweepEvery != 30*time.Second {
		t.Fatalf("result = %+v", res)
	}
	want := map[string]string{head: "failure", r.promptsHead: "failure", r.rollbackSHA: "success"}
	for sha, state := range want {
		st, ok := r.f.LatestStatus(sha, DefaultStatusContext)
		if !ok || st.State != state {
			t.Errorf("status on %s = %+v (set %v), want %s", sha[:7], st, ok, state)
		}
	}
	if st, _ := r.f.LatestStatus(head, DefaultStatusContext); st.TargetURL != "https://quench.example.com/incidents/inc-x" ||
		!strings.Contains(st.Description, "answers got short") {
		t.Errorf("frozen status = %+v; want the incident's link and reason", st)
	}
	if _, ok := r.f.LatestStatus(codeHead, DefaultStatusContext); ok {
		t.Error("a pull request not touching the prompts got a freeze status")
	}
	if v, ok := r.f.Variable(DefaultFreezeVariable); !ok || v != "true" {
		t.Fatalf("variable = %q, %v; want true", v, ok)
	}

	// A sweep repeats the state without piling up statuses or reading files again.
	filesRead := countCalls(r.f, "GET", "/files", "")
	if _, err := a.EnforceFreeze(ctx, frozenBy("inc-x")); err != nil {
		t.Fatal(err)
	}
	if n := len(r.f.Statuses(head)); n != 1 {
		t.Fatalf("statuses on head after a sweep = %d, want 1", n)
	}
	if got := countCalls(r.f, "GET", "/files", ""); got != filesRead {
		t.Fatalf("a sweep read pull request files again (%d -> %d)", filesRead, got)
	}

	res, err = a.EnforceFreeze(ctx, ports.FreezeEnforcement{Scope: "prompts"})
	if err != nil || !res.Enforced {
		t.Fatalf("unfreeze: %+v, %v", res, err)
	}
	for _, sha := range []string{head, r.promptsHead, r.rollbackSHA} {
		if st, _ := r.f.LatestStatus(sha, DefaultStatusContext); st.State != "success" {
			t.Errorf("after unfreeze, status on %s = %+v; want success", sha[:7], st)
		}
	}
	if v, ok := r.f.Variable(DefaultFreezeVariable); ok {
		t.Fatalf("variable still set after unfreeze: %q", v)
	}
	// Unfreezing again is harmless.
	if _, err := a.EnforceFreeze(ctx, ports.FreezeEnforcement{Scope: "prompts"}); err != nil {
		t.Fatal(err)
	}
}

func TestFreezeOfAnotherScopeIsNotEnforced(t *testing.T) {
	r := newRepoWithPulls(t)
	a := newAdapter(t, r.f, Options{})
	res, err := a.EnforceFreeze(context.Background(), ports.FreezeEnforcement{Scope: "eval-sets", Frozen: true})
	if err != nil || res.Enforced {
		t.Fatalf("other scope: %+v, %v; want not enforced", res, err)
	}
	if len(r.f.Calls()) != 0 {
		t.Fatalf("calls for another scope: %v", r.f.Calls())
	}
}

func TestFreezeRaceOnTheVariable(t *testing.T) {
	r := newRepoWithPulls(t)
	a := newAdapter(t, r.f, Options{})
	// Another sweep creates the variable between this one's read and its create.
	r.f.SetVariable(DefaultFreezeVariable, "false")
	r.f.Fail(githubfake.Fault{Method: "GET", Path: "/actions/variables/" + DefaultFreezeVariable, Status: 404})
	if _, err := a.EnforceFreeze(context.Background(), frozenBy("inc-x")); err != nil {
		t.Fatal(err)
	}
	if v, _ := r.f.Variable(DefaultFreezeVariable); v != "true" {
		t.Fatalf("variable = %q after the create met 409; want it updated to true", v)
	}
}

// Several workers sweep the same freeze and remember nothing of each other's writes: a
// second adapter (another worker) finds the statuses already on GitHub and adds none.
func TestAnotherWorkersSweepAddsNoStatus(t *testing.T) {
	r := newRepoWithPulls(t)
	ctx := context.Background()
	first := newAdapter(t, r.f, Options{SweepEvery: 30 * time.Second})
	if _, err := first.EnforceFreeze(ctx, frozenBy("inc-x")); err != nil {
		t.Fatal(err)
	}
	head := r.f.Head("main")
	before := map[string]int{head: len(r.f.Statuses(head)), r.promptsHead: len(r.f.Statuses(r.promptsHead))}
	second := newAdapter(t, r.f, Options{SweepEvery: 30 * time.Second})
	if _, err := second.EnforceFreeze(ctx, frozenBy("inc-x")); err != nil {
		t.Fatal(err)
	}
	for sha, n := range before {
		if got := len(r.f.Statuses(sha)); got != n {
			t.Errorf("statuses on %s: %d after the other worker's sweep, want %d (no repeat)", sha[:7], got, n)
		}
	}
	// A change of state is still written by whichever worker sees it.
	if _, err := second.EnforceFreeze(ctx, ports.FreezeEnforcement{Scope: "prompts"}); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.f.LatestStatus(head, DefaultStatusContext); st.State != "success" {
		t.Fatalf("after the other worker lifted the freeze, head's status = %+v, want success", st)
	}
}

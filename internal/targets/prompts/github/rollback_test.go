package github

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/prompts/github/githubfake"
)

func request(branch string, since time.Duration) ports.RollbackRequest {
	return ports.RollbackRequest{
		Branch: branch, Since: now.Add(-since), Until: now, At: now, Incident: "inc-prompt-regression-0123456789abcdef",
		Message:  "quench: roll back prompts (incident abcdef)\n\nAnswers got short\n\nIncident: inc-prompt-regression-0123456789abcdef",
		Evidence: "output tokens p95 down 60% on prompt v7",
	}
}

// files reads what a commit holds under prompts/.
func promptFiles(t *testing.T, f *githubfake.Fake, sha string, names ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range names {
		if c, ok := f.File(sha, n); ok {
			out[n] = c
		}
	}
	return out
}

func TestRollbackOneBadCommit(t *testing.T) {
	f := newFake(t, githubfake.Options{})
	good := f.Commit("main", "initial prompts", "Alice Smith", now.Add(-48*time.Hour), map[string]*string{
		"prompts/system.txt": text(goodSystem), "README.md": text("v1\n")})
	bad := f.Commit("main", "prompts: be brief", "Bob Builder", now.Add(-time.Hour), map[string]*string{"prompts/system.txt": text(badSystem)})
	a := newAdapter(t, f, Options{Labels: []string{"rollback", "prompts"}, Reviewers: []string{"sre-lead"}, TeamReviewers: []string{"sre"}, Draft: true,
		IncidentURL: func(id string) string { return "https://quench.example.com/incidents/" + id }})

	res, err := a.Rollback(context.Background(), request("quench/rollback-abcdef", 24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.NoOp || res.AlreadyExisted || res.Good != good || res.Base != bad || !slices.Equal(res.Reverted, []string{bad}) || res.PR != 1 {
		t.Fatalf("result = %+v", res)
	}
	if len(res.Files) != 1 || res.Files[0] != (ports.FileChange{Path: "prompts/system.txt", Added: 1, Deleted: 1}) {
		t.Fatalf("files = %+v", res.Files)
	}
	if f.Head("quench/rollback-abcdef") != res.Commit {
		t.Fatalf("branch at %s, want the rollback commit %s", f.Head("quench/rollback-abcdef"), res.Commit)
	}
	c, _ := f.CommitOf(res.Commit)
	if !slices.Equal(c.Parents, []string{bad}) || !c.Author.When.Equal(now) || c.Author.Name != "quench" {
		t.Fatalf("rollback commit = %+v; want one parent (the head) authored by quench at the step time", c)
	}
	if got, _ := f.File(res.Commit, "prompts/system.txt"); got != goodSystem {
		t.Fatalf("restored prompt = %q", got)
	}
	if got, _ := f.File(res.Commit, "README.md"); got != "v1\n" {
		t.Fatalf("README changed: %q", got)
	}
	pulls := f.Pulls()
	if len(pulls) != 1 {
		t.Fatalf("pull requests: %+v", pulls)
	}
	pr := pulls[0]
	if pr.Head != "quench/rollback-abcdef" || pr.Base != "main" || !pr.Draft || pr.Title != "quench: roll back prompts (incident abcdef)" ||
		!slices.Equal(pr.Labels, []string{"rollback", "prompts"}) || !slices.Equal(pr.Reviewers, []string{"sre-lead"}) || !slices.Equal(pr.TeamReviewers, []string{"sre"}) {
		t.Fatalf("pull request = %+v", pr)
	}
	for _, want := range []string{
		"[inc-prompt-regression-0123456789abcdef](https://quench.example.com/incidents/inc-prompt-regression-0123456789abcdef)",
		"Answers got short", "output tokens p95 down 60% on prompt v7", bad[:7] + " prompts: be brief - Bob Builder (@bob)",
		"`prompts/system.txt`: restored",
	} {
		if !strings.Contains(pr.Body, want) {
			t.Errorf("pull request body lacks %q:\n%s", want, pr.Body)
		}
	}
	if !strings.HasSuffix(res.URL, "/pull/1") {
		t.Fatalf("url = %q", res.URL)
	}
}

func TestRollbackSeveralCommitsAddedAndDeletedFiles(t *testing.T) {
	h := newHistory(t)
	a := newAdapter(t, h.f, Options{})
	res, err := a.Rollback(context.Background(), request("quench/rollback-abcdef", 24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Good != h.readme1 || !slices.Equal(res.Reverted, []string{h.deleted, h.added, h.edit}) {
		t.Fatalf("good %s reverted %v; want %s and the three prompt commits", res.Good, res.Reverted, h.readme1)
	}
	got := promptFiles(t, h.f, res.Commit, "prompts/system.txt", "prompts/summary.txt", "prompts/tone.txt", "README.md")
	want := map[string]string{"prompts/system.txt": goodSystem, "prompts/summary.txt": summary, "README.md": "v3\n"}
	if len(got) != len(want) || got["prompts/system.txt"] != goodSystem || got["prompts/summary.txt"] != summary || got["README.md"] != "v3\n" {
		t.Fatalf("rollback tree = %v; want %v (tone.txt removed, summary.txt back, README untouched)", got, want)
	}
	body := h.f.Pulls()[0].Body
	for _, want := range []string{"`prompts/tone.txt`: removed", "`prompts/summary.txt`: brought back", "`prompts/system.txt`: restored"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

func TestRollbackRenamedFile(t *testing.T) {
	f := newFake(t, githubfake.Options{})
	f.Commit("main", "initial", "Alice Smith", now.Add(-48*time.Hour), map[string]*string{"prompts/old.txt": text(goodSystem)})
	f.Commit("main", "rename", "Bob Builder", now.Add(-time.Hour), map[string]*string{"prompts/old.txt": nil, "prompts/new.txt": text(goodSystem)})
	a := newAdapter(t, f, Options{})
	res, err := a.Rollback(context.Background(), request("quench/rollback-abcdef", 24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got := promptFiles(t, f, res.Commit, "prompts/old.txt", "prompts/new.txt"); len(got) != 1 || got["prompts/old.txt"] != goodSystem {
		t.Fatalf("after rolling back a rename: %v; want old.txt back and new.txt gone", got)
	}
}

func TestRollbackWithAGoodCommitGiven(t *testing.T) {
	h := newHistory(t)
	a := newAdapter(t, h.f, Options{})
	req := request("quench/rollback-abcdef", time.Hour) // the window alone would see only the delete
	req.Good = h.added
	res, err := a.Rollback(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Good != h.added || !slices.Equal(res.Reverted, []string{h.deleted}) {
		t.Fatalf("good %s reverted %v", res.Good, res.Reverted)
	}
	got := promptFiles(t, h.f, res.Commit, "prompts/system.txt", "prompts/summary.txt", "prompts/tone.txt")
	if got["prompts/system.txt"] != badSystem || got["prompts/summary.txt"] != summary || got["prompts/tone.txt"] != tone {
		t.Fatalf("rollback to %s = %v", h.added[:7], got)
	}

	req.Branch, req.Good = "quench/rollback-fedcba", "0000000000000000000000000000000000000000"
	if _, err := a.Rollback(context.Background(), req); !ports.IsPermanent(err) || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown good commit: %v; want a permanent error saying it is not found", err)
	}
}

func TestRollbackNothingToDo(t *testing.T) {
	h := newHistory(t)
	a := newAdapter(t, h.f, Options{})
	res, err := a.Rollback(context.Background(), request("quench/rollback-abcdef", time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !res.NoOp || !strings.Contains(res.Reason, "no commit on main changed prompts") {
		t.Fatalf("quiet window: %+v", res)
	}
	// A revert already on the branch: the prompts match the good state.
	h.f.Commit("main", "Revert the brief prompt", "Alice Smith", now.Add(-30*time.Minute), map[string]*string{"prompts/system.txt": text(goodSystem)})
	req := request("quench/rollback-abcdef", 6*time.Hour)
	req.Good = h.readme1 // good system prompt, summary, no tone: what the head has again
	f := h.f
	f.Commit("main", "restore tone and summary", "Alice Smith", now.Add(-20*time.Minute), map[string]*string{"prompts/tone.txt": nil, "prompts/summary.txt": text(summary)})
	res, err = a.Rollback(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.NoOp || !strings.Contains(res.Reason, "already matches") {
		t.Fatalf("already reverted: %+v", res)
	}
	if len(f.Pulls()) != 0 || len(f.Branches()) != 1 {
		t.Fatalf("a no-op wrote something: pulls %v branches %v", f.Pulls(), f.Branches())
	}
}

func TestRollbackConflictWithALaterChange(t *testing.T) {
	f := newFake(t, githubfake.Options{})
	f.Commit("main", "initial", "Alice Smith", now.Add(-48*time.Hour), map[string]*string{"prompts/system.txt": text(goodSystem), "prompts/other.txt": text("o1\n")})
	bad := f.Commit("main", "prompts: be brief", "Bob Builder", now.Add(-3*time.Hour), map[string]*string{"prompts/system.txt": text(badSystem)})
	later := f.Commit("main", "prompts: fix typo", "Erin Hale", now.Add(-time.Hour), map[string]*string{"prompts/system.txt": text(badSystem + "Typo fixed.\n")})
	a := newAdapter(t, f, Options{})
	req := request("quench/rollback-abcdef", 24*time.Hour)
	req.Through = bad // the responder reviewed the bad commit only
	_, err := a.Rollback(context.Background(), req)
	if !ports.IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent conflict", err)
	}
	for _, want := range []string{"conflict", "prompts/system.txt", later[:7], "prompts: fix typo", "Erin Hale"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("conflict error lacks %q: %v", want, err)
		}
	}
	if len(f.Branches()) != 1 || len(f.Pulls()) != 0 {
		t.Fatalf("a conflict wrote something: branches %v pulls %v", f.Branches(), f.Pulls())
	}

	// A later change to another file is no conflict: it stays, the suspect is reverted.
	f2 := newFake(t, githubfake.Options{})
	f2.Commit("main", "initial", "Alice Smith", now.Add(-48*time.Hour), map[string]*string{"prompts/system.txt": text(goodSystem), "prompts/other.txt": text("o1\n")})
	bad2 := f2.Commit("main", "prompts: be brief", "Bob Builder", now.Add(-3*time.Hour), map[string]*string{"prompts/system.txt": text(badSystem)})
	f2.Commit("main", "prompts: other", "Erin Hale", now.Add(-time.Hour), map[string]*string{"prompts/other.txt": text("o2\n")})
	req.Through = bad2
	res, err := newAdapter(t, f2, Options{}).Rollback(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := promptFiles(t, f2, res.Commit, "prompts/system.txt", "prompts/other.txt"); got["prompts/system.txt"] != goodSystem || got["prompts/other.txt"] != "o2\n" {
		t.Fatalf("rollback tree = %v; want system.txt restored and the later other.txt kept", got)
	}
	if !slices.Equal(res.Reverted, []string{bad2}) {
		t.Fatalf("reverted %v, want only %s", res.Reverted, bad2[:7])
	}
}

func TestRollbackRetryAfterPartialProgressMakesExactlyOnePR(t *testing.T) {
	h := newHistory(t)
	a := newAdapter(t, h.f, Options{Labels: []string{"rollback"}})
	req := request("quench/rollback-abcdef", 24*time.Hour)

	// The first attempt creates the branch, then GitHub fails the pull request.
	h.f.Fail(githubfake.Fault{Method: "POST", Path: "/pulls", Status: 502})
	if _, err := a.Rollback(context.Background(), req); err == nil || ports.IsPermanent(err) {
		t.Fatalf("first attempt: %v; want a retryable failure", err)
	}
	branchCommit := h.f.Head("quench/rollback-abcdef")
	if branchCommit == "" || len(h.f.Pulls()) != 0 {
		t.Fatalf("after the failed attempt: branch %q pulls %v; want the branch and no pull request", branchCommit, h.f.Pulls())
	}

	// The retry (a new process: nothing remembered) finds the branch and opens the PR only.
	b := newAdapter(t, h.f, Options{Labels: []string{"rollback"}})
	res, err := b.Rollback(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.AlreadyExisted || res.Commit != branchCommit || res.PR != 1 {
		t.Fatalf("retry = %+v; want the existing branch commit %s and PR #1", res, branchCommit)
	}
	// Another retry: the same PR, nothing new.
	again, err := b.Rollback(context.Background(), req)
	if err != nil || again.PR != res.PR || again.Commit != res.Commit || !again.AlreadyExisted {
		t.Fatalf("second retry = %+v, %v", again, err)
	}
	if pulls := h.f.Pulls(); len(pulls) != 1 || !slices.Equal(pulls[0].Labels, []string{"rollback"}) {
		t.Fatalf("pulls = %+v; want exactly one, labelled", pulls)
	}
	if n := h.f.CountCalls("POST", "/git/refs"); n != 1 {
		t.Fatalf("created %d refs, want 1", n)
	}
}

func TestRollbackRetryWhenTheBranchAppearsMeanwhile(t *testing.T) {
	h := newHistory(t)
	a := newAdapter(t, h.f, Options{})
	req := request("quench/rollback-abcdef", 24*time.Hour)
	first, err := a.Rollback(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	// A retry that raced past the branch lookup: CreateRef answers 422 "Reference already exists".
	h.f.Fail(githubfake.Fault{Method: "GET", Path: "/git/ref/heads/quench/rollback-abcdef", Status: 404})
	res, err := a.Rollback(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.PR != first.PR || res.Commit != first.Commit || len(h.f.Pulls()) != 1 {
		t.Fatalf("retry = %+v, first = %+v, pulls %d", res, first, len(h.f.Pulls()))
	}
	refused := 0
	for _, c := range h.f.Calls() {
		if c.Method == "POST" && strings.HasSuffix(c.Path, "/git/refs") && c.Status == 422 {
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("CreateRef refusals = %d; the retry should have met exactly one 422", refused)
	}
}

func TestRollbackRefusesAForeignBranch(t *testing.T) {
	h := newHistory(t)
	h.f.Branch("quench/rollback-abcdef", h.readme2) // someone's branch with that name
	a := newAdapter(t, h.f, Options{})
	_, err := a.Rollback(context.Background(), request("quench/rollback-abcdef", 24*time.Hour))
	if !ports.IsPermanent(err) || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("err = %v; want a permanent error about the existing branch", err)
	}
	if len(h.f.Pulls()) != 0 {
		t.Fatal("a pull request was opened for a foreign branch")
	}
}

func TestRollbackWalksTruncatedTrees(t *testing.T) {
	f := newFake(t, githubfake.Options{TruncateTreesOver: 3})
	files := map[string]*string{"prompts/system.txt": text(goodSystem)}
	for _, n := range []string{"a", "b", "c", "d"} {
		files["prompts/lib/"+n+".txt"] = text(n + "\n")
	}
	f.Commit("main", "initial", "Alice Smith", now.Add(-48*time.Hour), files)
	f.Commit("main", "break d", "Bob Builder", now.Add(-time.Hour), map[string]*string{"prompts/lib/d.txt": text("broken\n"), "prompts/system.txt": text(badSystem)})
	a := newAdapter(t, f, Options{})
	res, err := a.Rollback(context.Background(), request("quench/rollback-abcdef", 24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := promptFiles(t, f, res.Commit, "prompts/system.txt", "prompts/lib/a.txt", "prompts/lib/d.txt")
	if got["prompts/lib/d.txt"] != "d\n" || got["prompts/system.txt"] != goodSystem || got["prompts/lib/a.txt"] != "a\n" {
		t.Fatalf("rollback through truncated trees = %v", got)
	}
}

func TestRollbackRefusesBadBranches(t *testing.T) {
	h := newHistory(t)
	a := newAdapter(t, h.f, Options{})
	for _, branch := range []string{"", "main", "a..b", "has space"} {
		if _, err := a.Rollback(context.Background(), request(branch, 24*time.Hour)); !ports.IsPermanent(err) {
			t.Errorf("branch %q: %v; want a permanent refusal", branch, err)
		}
	}
}

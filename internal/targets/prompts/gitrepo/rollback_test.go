package gitrepo

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quench-dev/quench/internal/ports"
)

func rollbackReq(since time.Duration) ports.RollbackRequest {
	return ports.RollbackRequest{
		Branch:  "quench/rollback-abc123",
		Since:   now.Add(-since),
		Until:   now,
		Message: "quench: roll back prompts (incident abc123)",
		At:      now,
	}
}

func hashes(hs ...plumbing.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()
	}
	return out
}

func (f *fixture) branchTip(name string) string {
	f.t.Helper()
	ref, err := f.repo.Reference(plumbing.NewBranchReferenceName(name), true)
	if err != nil {
		f.t.Fatalf("branch %s: %v", name, err)
	}
	return ref.Hash().String()
}

func TestRollbackOneBadCommit(t *testing.T) {
	f := newFixture(t)
	good := f.commit("initial", now.Add(-48*time.Hour), map[string]*string{
		"prompts/system.txt": text(goodSystem), "README.md": text("v1\n"),
	})
	bad := f.commit("prompts: be brief", now.Add(-2*time.Hour), map[string]*string{"prompts/system.txt": text(badSystem)})
	later := f.commit("docs", now.Add(-time.Hour), map[string]*string{"README.md": text("v2\n")})

	res, err := f.open(Options{}).Rollback(context.Background(), rollbackReq(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.NoOp || res.AlreadyExisted || res.Good != good.String() || res.Base != later.String() ||
		!slices.Equal(res.Reverted, hashes(bad)) {
		t.Fatalf("result = %+v", res)
	}
	if f.branchTip("quench/rollback-abc123") != res.Commit {
		t.Fatal("the branch does not point at the rollback commit")
	}
	want := map[string]string{"prompts/system.txt": goodSystem, "README.md": "v2\n"}
	if got := f.files(res.Commit); !maps.Equal(got, want) {
		t.Fatalf("rollback tree = %v, want %v (prompts from the good commit, the rest from head)", got, want)
	}
	c, _ := f.repo.CommitObject(plumbing.NewHash(res.Commit))
	if len(c.ParentHashes) != 1 || c.ParentHashes[0] != later || !c.Committer.When.Equal(now) || c.Author.Name != "quench" {
		t.Fatalf("commit parents %v, time %v, author %s", c.ParentHashes, c.Committer.When, c.Author.Name)
	}
	if !strings.Contains(c.Message, "Reverts:\n- "+bad.String()[:7]+" prompts: be brief") || !strings.HasPrefix(c.Message, "quench: roll back prompts (incident abc123)") {
		t.Fatalf("message:\n%s", c.Message)
	}
	if len(res.Files) != 1 || res.Files[0] != (ports.FileChange{Path: "prompts/system.txt", Added: 1, Deleted: 1}) {
		t.Fatalf("files = %+v", res.Files)
	}
	if !strings.HasPrefix(res.URL, "file://") || !strings.HasSuffix(res.URL, "#quench/rollback-abc123") {
		t.Fatalf("url = %s", res.URL)
	}
	f.fsck()
}

func TestRollbackSeveralCommitsAddedAndDeletedFiles(t *testing.T) {
	h := newHistory(t)
	res, err := h.f.open(Options{}).Rollback(context.Background(), rollbackReq(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Good != h.readme1.String() || !slices.Equal(res.Reverted, hashes(h.deleted, h.added, h.edit)) {
		t.Fatalf("good %s reverted %v", res.Good, res.Reverted)
	}
	want := map[string]string{
		"prompts/system.txt":  goodSystem, // modified → restored
		"prompts/summary.txt": summary,    // deleted → back
		"README.md":           "v3\n",     // not a prompt: head's
	} // prompts/tone.txt was added → gone
	if got := h.f.files(res.Commit); !maps.Equal(got, want) {
		t.Fatalf("rollback tree = %v, want %v", got, want)
	}
	paths := []string{}
	for _, fc := range res.Files {
		paths = append(paths, fc.Path)
	}
	if !slices.Equal(paths, []string{"prompts/summary.txt", "prompts/system.txt", "prompts/tone.txt"}) {
		t.Fatalf("files = %+v", res.Files)
	}
	h.f.fsck()
}

func TestRollbackRemovesAnAddedFile(t *testing.T) {
	h := newHistory(t)
	// Window covering the added and the deleted file: system.txt keeps the bad edit.
	res, err := h.f.open(Options{}).Rollback(context.Background(), rollbackReq(3*time.Hour+30*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"prompts/system.txt": badSystem, "prompts/summary.txt": summary, "README.md": "v3\n"}
	if got := h.f.files(res.Commit); !maps.Equal(got, want) || res.Good != h.readme2.String() {
		t.Fatalf("rollback tree = %v (good %s), want %v", got, res.Good, want)
	}
}

func TestRollbackOnlyTheDeletedFile(t *testing.T) {
	h := newHistory(t)
	res, err := h.f.open(Options{}).Rollback(context.Background(), rollbackReq(150*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"prompts/system.txt": badSystem, "prompts/summary.txt": summary,
		"prompts/tone.txt": "Be friendly.\nBe warm.\n", "README.md": "v3\n",
	}
	if got := h.f.files(res.Commit); !maps.Equal(got, want) || !slices.Equal(res.Reverted, hashes(h.deleted)) {
		t.Fatalf("rollback tree = %v reverted %v, want %v", got, res.Reverted, want)
	}
}

func TestRollbackToAnExplicitGoodCommit(t *testing.T) {
	h := newHistory(t)
	req := rollbackReq(time.Hour) // the window is ignored when good is given
	req.Good = h.initial.String()[:10]
	res, err := h.f.open(Options{}).Rollback(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Good != h.initial.String() || !slices.Equal(res.Reverted, hashes(h.deleted, h.added, h.edit)) {
		t.Fatalf("result = %+v", res)
	}
	req.Good = "0123456789abcdef"
	req.Branch = "quench/rollback-other"
	if _, err := h.f.open(Options{}).Rollback(context.Background(), req); err == nil || !ports.IsPermanent(err) {
		t.Fatalf("unknown good commit: %v", err)
	}
}

func TestRollbackRemovesPromptsIntroducedInTheWindow(t *testing.T) {
	f := newFixture(t)
	f.commit("app", now.Add(-48*time.Hour), map[string]*string{"main.go": text("package main\n")})
	f.commit("first prompts", now.Add(-time.Hour), map[string]*string{"app/prompts/a.txt": text("A\n"), "app/prompts/b/c.txt": text("C\n")})
	res, err := f.open(Options{PromptsPath: "app/prompts/"}).Rollback(context.Background(), rollbackReq(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.files(res.Commit); !maps.Equal(got, map[string]string{"main.go": "package main\n"}) {
		t.Fatalf("rollback tree = %v, want only main.go (empty folders vanish)", got)
	}
	f.fsck()
}

func TestRollbackNothingToDo(t *testing.T) {
	h := newHistory(t)
	r := h.f.open(Options{})
	res, err := r.Rollback(context.Background(), rollbackReq(time.Hour))
	if err != nil || !res.NoOp || !strings.Contains(res.Reason, "no commit on main changed prompts") || res.Commit != "" {
		t.Fatalf("quiet window: %+v, %v", res, err)
	}
	req := rollbackReq(time.Hour)
	req.Good = h.deleted.String() // the head itself
	res, err = r.Rollback(context.Background(), req)
	if err != nil || !res.NoOp || !strings.Contains(res.Reason, "already matches") {
		t.Fatalf("good = head: %+v, %v", res, err)
	}
	if _, err := h.f.repo.Reference(plumbing.NewBranchReferenceName(req.Branch), true); err == nil {
		t.Fatal("a no-op created the branch")
	}
}

func TestRollbackRetryReturnsTheSameCommit(t *testing.T) {
	h := newHistory(t)
	r := h.f.open(Options{})
	ctx := context.Background()
	first, err := r.Rollback(ctx, rollbackReq(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// Someone pushes to main before the retry: the retry still finds the first rollback.
	h.f.commit("prompts: later fix", now.Add(-time.Minute), map[string]*string{"prompts/extra.txt": text("x\n")})
	again, err := h.f.open(Options{}).Rollback(ctx, rollbackReq(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !again.AlreadyExisted || again.Commit != first.Commit || again.Base != first.Base || !slices.Equal(again.Reverted, first.Reverted) {
		t.Fatalf("retry = %+v, first = %+v", again, first)
	}
	if h.f.branchTip("quench/rollback-abc123") != first.Commit {
		t.Fatal("the retry moved the branch")
	}
}

func TestRollbackRefusesADifferentExistingBranch(t *testing.T) {
	h := newHistory(t)
	ctx := context.Background()
	ref := plumbing.NewHashReference(plumbing.NewBranchReferenceName("quench/rollback-abc123"), h.edit)
	if err := h.f.repo.Storer.SetReference(ref); err != nil {
		t.Fatal(err)
	}
	_, err := h.f.open(Options{}).Rollback(ctx, rollbackReq(24*time.Hour))
	if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("err = %v, want a permanent 'already exists' error", err)
	}
	if h.f.branchTip("quench/rollback-abc123") != h.edit.String() {
		t.Fatal("the existing branch was overwritten")
	}
}

func TestRollbackNeverTouchesTheWorkingTree(t *testing.T) {
	h := newHistory(t)
	// Uncommitted edits the user is in the middle of must survive as they are.
	h.f.commit("prompts: wip base", now.Add(-30*time.Minute), map[string]*string{"prompts/wip.txt": text("draft\n")})
	writeFile(t, h.f.dir, "prompts/system.txt", "local edit, not committed\n")
	before := h.f.workingState()
	r := h.f.open(Options{})
	if _, err := r.Changes(context.Background(), now.Add(-24*time.Hour), now); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Rollback(context.Background(), rollbackReq(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if after := h.f.workingState(); after != before {
		t.Fatalf("working tree, index or HEAD changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestRollbackRejectsBadBranchNames(t *testing.T) {
	h := newHistory(t)
	r := h.f.open(Options{})
	for _, b := range []string{"", "main", "bad..name", "a b"} {
		req := rollbackReq(24 * time.Hour)
		req.Branch = b
		if _, err := r.Rollback(context.Background(), req); err == nil || !ports.IsPermanent(err) {
			t.Errorf("branch %q: err = %v", b, err)
		}
	}
}

func TestRollbackBareRepository(t *testing.T) {
	h := newHistory(t)
	bare := t.TempDir()
	if _, err := cloneBare(h.f.dir, bare); err != nil {
		t.Fatal(err)
	}
	r, err := Open(bare, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Rollback(context.Background(), rollbackReq(24*time.Hour))
	if err != nil || res.NoOp || len(res.Reverted) != 3 {
		t.Fatalf("bare rollback = %+v, %v", res, err)
	}
}

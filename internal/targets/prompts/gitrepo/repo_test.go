package gitrepo

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quench-dev/quench/internal/ports"
)

const (
	goodSystem = "You are a helpful assistant.\nAnswer in English.\n"
	badSystem  = "You are a helpful assistant.\nAnswer briefly.\n"
	summary    = "Summarise in three bullet points.\n"
)

// history is the shared story: a good state two days ago, then in the last day a bad edit
// of system.txt, an unrelated README change, a new prompt file and a deleted one.
type history struct {
	f                               *fixture
	initial, readme1, edit, readme2 plumbing.Hash
	added, deleted                  plumbing.Hash
}

func newHistory(t *testing.T) *history {
	f := newFixture(t)
	h := &history{f: f}
	h.initial = f.commit("initial prompts", now.Add(-48*time.Hour), map[string]*string{
		"prompts/system.txt":  text(goodSystem),
		"prompts/summary.txt": text(summary),
		"README.md":           text("v1\n"),
	})
	h.readme1 = f.commit("docs: readme", now.Add(-30*time.Hour), map[string]*string{"README.md": text("v2\n")})
	h.edit = f.commit("prompts: be brief\n\nshorter answers", now.Add(-5*time.Hour), map[string]*string{"prompts/system.txt": text(badSystem)})
	h.readme2 = f.commit("docs: more readme", now.Add(-4*time.Hour), map[string]*string{"README.md": text("v3\n")})
	h.added = f.commit("prompts: add tone", now.Add(-3*time.Hour), map[string]*string{"prompts/tone.txt": text("Be friendly.\nBe warm.\n")})
	h.deleted = f.commit("prompts: drop summary", now.Add(-2*time.Hour), map[string]*string{"prompts/summary.txt": nil})
	return h
}

func shas(commits []ports.PromptCommit) []string {
	out := make([]string, len(commits))
	for i, c := range commits {
		out[i] = c.SHA
	}
	return out
}

func TestOpen(t *testing.T) {
	h := newHistory(t)
	r := h.f.open(Options{})
	if r.BaseBranch() != "main" || r.PromptsPath() != "prompts" {
		t.Fatalf("base %q path %q", r.BaseBranch(), r.PromptsPath())
	}
	if _, err := Open(t.TempDir(), Options{}); err == nil || !strings.Contains(err.Error(), "not a git repository") {
		t.Fatalf("open of a plain dir: %v", err)
	}
	if _, err := Open(h.f.dir, Options{BaseBranch: "release"}); err == nil || !strings.Contains(err.Error(), "base branch release not found") {
		t.Fatalf("open with a missing base branch: %v", err)
	}
	if _, err := Open(h.f.dir, Options{PromptsPath: "../elsewhere"}); err == nil {
		t.Fatal("a prompts path outside the repository was accepted")
	}
}

func TestChangesInWindowNewestFirst(t *testing.T) {
	h := newHistory(t)
	r := h.f.open(Options{})
	got, err := r.Changes(context.Background(), now.Add(-24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{h.deleted.String(), h.added.String(), h.edit.String()}
	if !slices.Equal(shas(got), want) {
		t.Fatalf("changes = %v, want %v (README-only commits excluded)", shas(got), want)
	}
	edit := got[2]
	if edit.Short != h.edit.String()[:7] || edit.Author != "alice" || edit.Message != "prompts: be brief" ||
		!edit.Date.Equal(now.Add(-5*time.Hour)) || edit.Parent != h.readme1.String() {
		t.Fatalf("edit commit = %+v", edit)
	}
	if len(edit.Files) != 1 || edit.Files[0] != (ports.FileChange{Path: "prompts/system.txt", Added: 1, Deleted: 1}) {
		t.Fatalf("edit files = %+v", edit.Files)
	}
	if f := got[1].Files; len(f) != 1 || f[0] != (ports.FileChange{Path: "prompts/tone.txt", Added: 2}) {
		t.Fatalf("added files = %+v", f)
	}
	if f := got[0].Files; len(f) != 1 || f[0] != (ports.FileChange{Path: "prompts/summary.txt", Deleted: 1}) {
		t.Fatalf("deleted files = %+v", f)
	}
}

func TestChangesWindowBounds(t *testing.T) {
	h := newHistory(t)
	r := h.f.open(Options{})
	ctx := context.Background()
	cases := []struct {
		name         string
		since, until time.Time
		want         []plumbing.Hash
	}{
		{"last 4.5h", now.Add(-4*time.Hour - 30*time.Minute), now, []plumbing.Hash{h.deleted, h.added}},
		{"until excludes newer", now.Add(-24 * time.Hour), now.Add(-150 * time.Minute), []plumbing.Hash{h.added, h.edit}},
		{"since is inclusive", now.Add(-3 * time.Hour), now, []plumbing.Hash{h.deleted, h.added}},
		{"the whole history", now.Add(-72 * time.Hour), now, []plumbing.Hash{h.deleted, h.added, h.edit, h.initial}},
		{"quiet hour", now.Add(-time.Hour), now, nil},
	}
	for _, c := range cases {
		got, err := r.Changes(ctx, c.since, c.until)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, w := range c.want {
			want = append(want, w.String())
		}
		if !slices.Equal(shas(got), want) {
			t.Errorf("%s: changes = %v, want %v", c.name, shas(got), want)
		}
	}
}

func TestChangesIgnoreOtherBranches(t *testing.T) {
	h := newHistory(t)
	// A commit on a feature branch touching prompts is not a deployed change.
	feature := plumbing.NewBranchReferenceName("feature")
	if err := h.f.wt.Checkout(&git.CheckoutOptions{Branch: feature, Create: true}); err != nil {
		t.Fatal(err)
	}
	h.f.commit("wip prompt", now.Add(-time.Hour), map[string]*string{"prompts/system.txt": text("wip\n")})
	r, err := Open(h.f.dir, Options{BaseBranch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Changes(context.Background(), now.Add(-90*time.Minute), now)
	if err != nil || len(got) != 0 {
		t.Fatalf("changes on main = %v, %v; want none", shas(got), err)
	}
}

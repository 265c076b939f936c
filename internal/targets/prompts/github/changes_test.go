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

func shas(commits []ports.PromptCommit) []string {
	out := make([]string, len(commits))
	for i, c := range commits {
		out[i] = c.SHA
	}
	return out
}

func TestChangesInWindowNewestFirstWithFilesAndAuthors(t *testing.T) {
	h := newHistory(t)
	a := newAdapter(t, h.f, Options{})
	got, err := a.Changes(context.Background(), now.Add(-24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{h.deleted, h.added, h.edit}; !slices.Equal(shas(got), want) {
		t.Fatalf("changes = %v, want %v (README-only commits excluded)", shas(got), want)
	}
	edit := got[2]
	if edit.Short != h.edit[:7] || edit.Author != "Bob Builder (@bob)" || edit.Message != "prompts: be brief (#7)" ||
		!edit.Date.Equal(now.Add(-5*time.Hour)) || edit.Parent != h.readme1 || edit.PR != 7 || !strings.Contains(edit.URL, h.edit) {
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
	a := newAdapter(t, h.f, Options{})
	cases := []struct {
		name         string
		since, until time.Time
		want         []string
	}{
		{"until excludes newer", now.Add(-24 * time.Hour), now.Add(-150 * time.Minute), []string{h.added, h.edit}},
		{"since is inclusive", now.Add(-3 * time.Hour), now, []string{h.deleted, h.added}},
		{"the whole history", now.Add(-72 * time.Hour), now, []string{h.deleted, h.added, h.edit, h.initial}},
		{"quiet hour", now.Add(-time.Hour), now, nil},
	}
	for _, c := range cases {
		got, err := a.Changes(context.Background(), c.since, c.until)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(shas(got), c.want) {
			t.Errorf("%s: changes = %v, want %v", c.name, shas(got), c.want)
		}
	}
}

func TestChangesFollowLinkPagination(t *testing.T) {
	f := newFake(t, githubfake.Options{})
	var want []string
	for i := range 130 {
		sha := f.Commit("main", "prompt tweak", "Alice Smith", now.Add(-time.Duration(200-i)*time.Minute),
			map[string]*string{"prompts/p.txt": text(strings.Repeat("x\n", i+1))})
		want = append([]string{sha}, want...)
	}
	a := newAdapter(t, f, Options{})
	got, err := a.Changes(context.Background(), now.Add(-24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(shas(got), want) {
		t.Fatalf("got %d commits, want all %d in order", len(got), len(want))
	}
	if pages := countCalls(f, "GET", "/commits", "path=prompts"); pages != 2 {
		t.Fatalf("listed %d pages of 100, want 2", pages)
	}
	// Details are looked up for the newest commits only.
	if got[0].Files == nil || got[len(got)-1].Files != nil {
		t.Fatalf("files: newest %v, oldest %v; want details for the newest %d only", got[0].Files, got[len(got)-1].Files, maxDetailedCommits)
	}
}

// countCalls counts successful calls with this method whose path ends with suffix and
// whose query contains query.
func countCalls(f *githubfake.Fake, method, suffix, query string) int {
	n := 0
	for _, c := range f.Calls() {
		if c.Method == method && strings.HasSuffix(c.Path, suffix) && strings.Contains(c.Query, query) && c.Status < 300 {
			n++
		}
	}
	return n
}

func TestChangesFindThePullRequestOfAMergedBranch(t *testing.T) {
	f := newFake(t, githubfake.Options{})
	f.Commit("main", "initial", "Alice Smith", now.Add(-48*time.Hour), map[string]*string{"prompts/a.txt": text("a\n")})
	f.Branch("tweak", f.Head("main"))
	onBranch := f.Commit("tweak", "tweak a", "Dan Brown", now.Add(-3*time.Hour), map[string]*string{"prompts/a.txt": text("b\n")})
	pr := f.OpenPR("tweak", "main", "Tweak a")
	f.MergePR(pr, now.Add(-2*time.Hour))
	a := newAdapter(t, f, Options{})
	got, err := a.Changes(context.Background(), now.Add(-24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].SHA != onBranch || got[0].PR != pr {
		t.Fatalf("changes = %+v; want the branch commit with PR #%d (the merge commit changes nothing on its own)", got, pr)
	}
}

func TestChangesOfSeveralPromptPaths(t *testing.T) {
	f := newFake(t, githubfake.Options{})
	one := f.Commit("main", "one", "Alice Smith", now.Add(-3*time.Hour), map[string]*string{"prompts/a.txt": text("a\n")})
	two := f.Commit("main", "two", "Alice Smith", now.Add(-2*time.Hour), map[string]*string{"agents/sys.md": text("s\n")})
	f.Commit("main", "three", "Alice Smith", now.Add(-1*time.Hour), map[string]*string{"src/app.go": text("x\n")})
	a := newAdapter(t, f, Options{Paths: []string{"prompts/", "agents/sys.md"}})
	got, err := a.Changes(context.Background(), now.Add(-24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{two, one}; !slices.Equal(shas(got), want) {
		t.Fatalf("changes = %v, want %v", shas(got), want)
	}
}

func TestChangesOfTheDefaultBranch(t *testing.T) {
	f := newFake(t, githubfake.Options{DefaultBranch: "trunk"})
	c := f.Commit("trunk", "p", "Alice Smith", now.Add(-time.Hour), map[string]*string{"prompts/a.txt": text("a\n")})
	f.Commit("other", "q", "Alice Smith", now.Add(-time.Hour), map[string]*string{"prompts/a.txt": text("b\n")})
	a := newAdapter(t, f, Options{})
	got, err := a.Changes(context.Background(), now.Add(-2*time.Hour), now)
	if err != nil || !slices.Equal(shas(got), []string{c}) {
		t.Fatalf("changes = %v, %v; want the default branch's commit only", shas(got), err)
	}
}

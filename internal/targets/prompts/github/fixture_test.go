package github

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/targets/prompts/github/githubfake"
)

// now is the incident's step time in every test; commits are placed relative to it.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	token      = "test-token"
	goodSystem = "You are a helpful assistant.\nAnswer in English.\n"
	badSystem  = "You are a helpful assistant.\nAnswer briefly.\n"
	summary    = "Summarise in three bullet points.\n"
	tone       = "Be friendly.\nBe warm.\n"
)

var text = githubfake.Text

func newFake(t *testing.T, opts githubfake.Options) *githubfake.Fake {
	t.Helper()
	opts.Token = token
	f := githubfake.New(opts)
	t.Cleanup(f.Close)
	return f
}

func newAdapter(t *testing.T, f *githubfake.Fake, opts Options) *Adapter {
	t.Helper()
	opts.Owner, opts.Repo, opts.BaseURL = "acme", "prompts", f.URL()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a, err := New(opts, Auth{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// history is the shared story: a good state two days ago, then in the last day a bad edit
// of system.txt, an unrelated README change, a new prompt file and a deleted one.
type history struct {
	f                               *githubfake.Fake
	initial, readme1, edit, readme2 string
	added, deleted                  string
}

func newHistory(t *testing.T) *history {
	t.Helper()
	f := newFake(t, githubfake.Options{})
	h := &history{f: f}
	h.initial = f.Commit("main", "initial prompts", "Alice Smith", now.Add(-48*time.Hour), map[string]*string{
		"prompts/system.txt":  text(goodSystem),
		"prompts/summary.txt": text(summary),
		"README.md":           text("v1\n"),
	})
	h.readme1 = f.Commit("main", "docs: readme", "Alice Smith", now.Add(-30*time.Hour), map[string]*string{"README.md": text("v2\n")})
	h.edit = f.Commit("main", "prompts: be brief (#7)\n\nshorter answers", "Bob Builder", now.Add(-5*time.Hour), map[string]*string{"prompts/system.txt": text(badSystem)})
	h.readme2 = f.Commit("main", "docs: more readme", "Alice Smith", now.Add(-4*time.Hour), map[string]*string{"README.md": text("v3\n")})
	h.added = f.Commit("main", "prompts: add tone", "Carol Jones", now.Add(-3*time.Hour), map[string]*string{"prompts/tone.txt": text(tone)})
	h.deleted = f.Commit("main", "prompts: drop summary", "Carol Jones", now.Add(-2*time.Hour), map[string]*string{"prompts/summary.txt": nil})
	return h
}

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

const (
	goodPrompt = "You are a careful assistant. Answer from the provided context and cite it.\n"
	badPrompt  = "You are a careful assistant. Be brief.\n"
)

// promptsRepo makes a git repository whose prompt was changed for the worse an hour ago:
// the good version was committed two days ago.
func promptsRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	commit := func(content, msg string, at time.Time) plumbing.Hash {
		if err := os.MkdirAll(filepath.Join(dir, "prompts"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "prompts", "answer.txt"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := wt.Add("prompts/answer.txt"); err != nil {
			t.Fatal(err)
		}
		sig := &object.Signature{Name: "Prompt Author", Email: "author@example.com", When: at}
		h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	commit(goodPrompt, "prompt: answer with citations", time.Now().Add(-48*time.Hour))
	commit(badPrompt, "prompt: shorter answers", time.Now().Add(-time.Hour))
	return dir
}

// rollbackBranches lists branches named quench/rollback-* with their commit.
func rollbackBranches(t *testing.T, dir string) map[string]*object.Commit {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := repo.References()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*object.Commit{}
	_ = refs.ForEach(func(r *plumbing.Reference) error {
		name := r.Name().Short()
		if r.Name().IsBranch() && len(name) > len("quench/rollback-") && name[:len("quench/rollback-")] == "quench/rollback-" {
			c, err := repo.CommitObject(r.Hash())
			if err != nil {
				t.Fatal(err)
			}
			out[name] = c
		}
		return nil
	})
	return out
}

// fileAt reads a file in a commit's tree.
func fileAt(t *testing.T, c *object.Commit, path string) string {
	t.Helper()
	f, err := c.File(path)
	if err != nil {
		t.Fatalf("%s in %s: %v", path, c.Hash, err)
	}
	s, err := f.Contents()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// trafficLines makes a small JSONL request log: a healthy baseline and an incident window
// in which answers got much shorter with the new prompt version.
func trafficLines(now time.Time) []byte {
	var out []byte
	add := func(at time.Time, version string, outTokens int, errType string) {
		rec := map[string]any{
			"time":                           at.UTC().Format(time.RFC3339),
			"gen_ai.provider.name":           "openai",
			"gen_ai.request.model":           "gpt-4o",
			"gen_ai.response.model":          "gpt-4o-2024-08-06",
			"gen_ai.operation.name":          "chat",
			"gen_ai.usage.input_tokens":      400,
			"gen_ai.usage.output_tokens":     outTokens,
			"gen_ai.response.finish_reasons": []string{"stop"},
			"duration_ms":                    900,
			"error.type":                     errType,
			"route":                          "chat",
			"prompt.name":                    "answer",
			"prompt.version":                 version,
			"input":                          "user alice@example.com asks about invoice 42",
			"output":                         "ok",
		}
		b, _ := json.Marshal(rec)
		out = append(out, b...)
		out = append(out, '\n')
	}
	for i := 0; i < 60; i++ {
		add(now.Add(-2*time.Hour-time.Duration(i)*time.Minute), "v1", 300, "")
	}
	for i := 0; i < 30; i++ {
		add(now.Add(-time.Duration(i)*time.Minute), "v2", 40, "")
	}
	return out
}

func writeTraffic(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "traffic.jsonl")
	if err := os.WriteFile(path, trafficLines(time.Now()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

package sample

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/quench-dev/quench/internal/fixtures"
)

// The sample repository's history: a good prompt three days old, and a change 40 minutes
// before the anchor that made answers short (the prompt-regression story), so
// prompts.changes finds a suspect and prompts.rollback_pr has a last good commit.
const (
	PromptFile     = PromptsPath + fixtures.PromptName + ".txt"
	goodPrompt     = "You are the support assistant of an online shop.\nAnswer the customer's question fully: say what happened to their order, what happens next and where to look it up.\n"
	badPrompt      = "You are the support assistant of an online shop.\nAnswer in as few words as possible.\n"
	GoodMessage    = "prompts: answer v1, full answers"
	BadMessage     = "prompts: answer v2, keep answers short"
	goodCommitAge  = 72 * time.Hour
	badCommitAge   = 40 * time.Minute
	rollbackPrefix = "refs/heads/quench/"
	readmeText     = "# quench sample prompts\n\nCreated by `quench dev` for its built-in runbooks: " +
		"prompt-regression lists the commits under prompts/ and proposes a rollback branch (quench/rollback-<incident>).\n" +
		"Point quench at your own repository with --prompts-repo; `quench dev --sample=false` stops creating this one.\n"
)

func ensureRepo(dir string, m *manifest, now time.Time) (Outcome, error) {
	outcome := Created
	switch _, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("sample prompts repository: %w", err)
	default:
		own, err := unchanged(dir, m.RepoHead)
		if err != nil || !own {
			return Kept, nil // not quench's, changed, or unreadable: never touched
		}
		if now.Sub(m.RepoAnchor) < refreshAfter {
			return Current, nil
		}
		// Quench's own and untouched: written again so its prompt change stays within
		// the runbooks' 24h. Earlier rollback branches go with it.
		if err := os.RemoveAll(dir); err != nil {
			return "", fmt.Errorf("refresh the sample prompts repository: %w", err)
		}
		outcome = Refreshed
	}
	head, err := createRepo(dir, now)
	if err != nil {
		os.RemoveAll(dir) // half a repository would only be kept as "someone's" next time
		return "", fmt.Errorf("create the sample prompts repository: %w", err)
	}
	m.RepoHead, m.RepoAnchor = head, now.UTC()
	return outcome, nil
}

// unchanged: main is at the commit quench made, the only other branches are quench's
// rollback proposals, and the working tree is clean.
func unchanged(dir, head string) (bool, error) {
	if head == "" {
		return false, nil
	}
	repo, err := git.PlainOpen(dir)
	if err != nil {
		return false, err
	}
	refs, err := repo.References()
	if err != nil {
		return false, err
	}
	own := true
	err = refs.ForEach(func(r *plumbing.Reference) error {
		name := r.Name().String()
		switch {
		case r.Type() != plumbing.HashReference:
		case name == plumbing.Main.String():
			own = own && r.Hash().String() == head
		case strings.HasPrefix(name, rollbackPrefix):
		default:
			own = false
		}
		if !own {
			return storer.ErrStop
		}
		return nil
	})
	if err != nil || !own {
		return false, err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return false, err
	}
	st, err := wt.Status()
	if err != nil {
		return false, err
	}
	return st.IsClean(), nil
}

// createRepo makes the repository and returns main's head.
func createRepo(dir string, now time.Time) (string, error) {
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.Main}})
	if err != nil {
		return "", err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return "", err
	}
	commit := func(msg, author string, at time.Time, files map[string]string) (plumbing.Hash, error) {
		for name, text := range files {
			path := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return plumbing.ZeroHash, err
			}
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				return plumbing.ZeroHash, err
			}
			if _, err := wt.Add(name); err != nil {
				return plumbing.ZeroHash, err
			}
		}
		sig := &object.Signature{Name: author, Email: author + "@example.com", When: at.UTC()}
		return wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig})
	}
	if _, err := commit(GoodMessage, "alice", now.Add(-goodCommitAge),
		map[string]string{"README.md": readmeText, PromptFile: goodPrompt}); err != nil {
		return "", err
	}
	h, err := commit(BadMessage, "bob", now.Add(-badCommitAge), map[string]string{PromptFile: badPrompt})
	if err != nil {
		return "", err
	}
	return h.String(), nil
}

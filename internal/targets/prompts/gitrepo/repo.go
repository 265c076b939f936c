// Package gitrepo is the embedded prompts target: a local git repository whose prompts live
// under a path (default "prompts/"). It lists the commits that changed the prompts and
// proposes rollbacks as a branch with one commit, writing only git objects and a ref: the
// user's working tree, index and checked-out branch are never touched, and no git binary
// is needed (github.com/go-git/go-git/v5).
package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/quench-dev/quench/internal/ports"
)

// DefaultPromptsPath is where prompts live when no path is configured.
const DefaultPromptsPath = "prompts/"

// maxWalk bounds a history walk, so a huge repository cannot stall a step.
const maxWalk = 20000

// Options configure a Repo.
type Options struct {
	// PromptsPath is the file or folder holding the prompts, relative to the repository
	// root ("prompts/" when empty).
	PromptsPath string
	// BaseBranch is the branch deploys come from; empty: the branch HEAD points at when the
	// repository is opened.
	BaseBranch string
	// AuthorName and AuthorEmail sign rollback commits ("quench", "quench@localhost").
	AuthorName  string
	AuthorEmail string
	Logger      *slog.Logger
}

// Repo is a prompts repository. Safe for concurrent use.
type Repo struct {
	dir    string
	prompt []string // the prompts path, split; empty = the whole tree
	base   plumbing.ReferenceName
	author object.Signature
	mu     sync.Mutex // one rollback at a time in this process
}

// Open opens the repository at dir (a working copy or a bare repository).
func Open(dir string, opts Options) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	repo, err := git.PlainOpen(abs)
	if err != nil {
		if errors.Is(err, git.ErrRepositoryNotExists) {
			return nil, fmt.Errorf("%s is not a git repository: point --prompts-repo at the repository that holds your prompts", abs)
		}
		return nil, fmt.Errorf("open prompts repository %s: %w", abs, err)
	}
	r := &Repo{dir: abs, author: object.Signature{Name: opts.AuthorName, Email: opts.AuthorEmail}}
	if r.author.Name == "" {
		r.author.Name = "quench"
	}
	if r.author.Email == "" {
		r.author.Email = "quench@localhost"
	}
	if r.prompt, err = splitPath(opts.PromptsPath); err != nil {
		return nil, err
	}
	if opts.BaseBranch != "" {
		r.base = plumbing.NewBranchReferenceName(opts.BaseBranch)
	} else {
		head, err := repo.Storer.Reference(plumbing.HEAD)
		if err != nil {
			return nil, fmt.Errorf("read HEAD of %s: %w: set the base branch explicitly", abs, err)
		}
		if head.Type() != plumbing.SymbolicReference || !head.Target().IsBranch() {
			return nil, fmt.Errorf("HEAD of %s is detached: set the base branch explicitly (e.g. --prompts-branch main)", abs)
		}
		r.base = head.Target()
	}
	headCommit, err := r.baseHead(repo)
	if err != nil {
		return nil, err
	}
	if _, ok, err := entryAt(repo, headCommit, r.prompt); err == nil && !ok {
		logger := opts.Logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.Warn("prompts path not found on the base branch; check --prompts-path",
			"repo", abs, "branch", r.base.Short(), "path", r.PromptsPath())
	}
	return r, nil
}

func splitPath(p string) ([]string, error) {
	if p == "" {
		p = DefaultPromptsPath
	}
	p = strings.Trim(filepath.ToSlash(p), "/")
	if p == "" || p == "." {
		return nil, nil // the whole repository
	}
	parts := strings.Split(path.Clean(p), "/")
	for _, part := range parts {
		if part == ".." || part == "." || part == ".git" {
			return nil, fmt.Errorf("prompts path %q must be a path inside the repository", p)
		}
	}
	return parts, nil
}

// PromptsPath is the configured prompts path ("." for the whole repository).
func (r *Repo) PromptsPath() string {
	if len(r.prompt) == 0 {
		return "."
	}
	return strings.Join(r.prompt, "/")
}

// BaseBranch is the branch changes are read from and rollbacks are built on.
func (r *Repo) BaseBranch() string { return r.base.Short() }

// open re-opens the repository for each operation, so commits, packs and refs written by
// the user's git since the last call are seen.
func (r *Repo) open() (*git.Repository, error) {
	repo, err := git.PlainOpen(r.dir)
	if err != nil {
		return nil, fmt.Errorf("open prompts repository %s: %w", r.dir, err)
	}
	return repo, nil
}

func (r *Repo) baseHead(repo *git.Repository) (*object.Commit, error) {
	ref, err := repo.Reference(r.base, true)
	if err != nil {
		return nil, ports.Permanentf("base branch %s not found in %s: create it or set the base branch to an existing one", r.base.Short(), r.dir)
	}
	c, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return nil, fmt.Errorf("read head commit %s of %s: %w", ref.Hash(), r.base.Short(), err)
	}
	return c, nil
}

// entry is what a path points at in a tree; found=false means absent.
type entry struct {
	Hash plumbing.Hash
	Mode filemode.FileMode
}

// entryAt finds the prompts path in the commit's tree. An empty path is the root tree.
func entryAt(repo *git.Repository, c *object.Commit, parts []string) (entry, bool, error) {
	if c == nil {
		return entry{}, false, nil
	}
	if len(parts) == 0 {
		return entry{Hash: c.TreeHash, Mode: filemode.Dir}, true, nil
	}
	tree, err := repo.TreeObject(c.TreeHash)
	if err != nil {
		return entry{}, false, err
	}
	for i, name := range parts {
		var found *object.TreeEntry
		for j := range tree.Entries {
			if tree.Entries[j].Name == name {
				found = &tree.Entries[j]
				break
			}
		}
		if found == nil {
			return entry{}, false, nil
		}
		if i == len(parts)-1 {
			return entry{Hash: found.Hash, Mode: found.Mode}, true, nil
		}
		if found.Mode != filemode.Dir {
			return entry{}, false, nil
		}
		if tree, err = repo.TreeObject(found.Hash); err != nil {
			return entry{}, false, err
		}
	}
	return entry{}, false, nil
}

// firstParent returns c's first parent, nil for a root commit.
func firstParent(repo *git.Repository, c *object.Commit) (*object.Commit, error) {
	if len(c.ParentHashes) == 0 {
		return nil, nil
	}
	p, err := repo.CommitObject(c.ParentHashes[0])
	if err != nil {
		return nil, fmt.Errorf("read parent of %s: %w", c.Hash, err)
	}
	return p, nil
}

// touches reports whether c changed the prompts path relative to its first parent.
func touches(repo *git.Repository, c, parent *object.Commit, parts []string) (bool, error) {
	now, okNow, err := entryAt(repo, c, parts)
	if err != nil {
		return false, err
	}
	before, okBefore, err := entryAt(repo, parent, parts)
	if err != nil {
		return false, err
	}
	return okNow != okBefore || now != before, nil
}

// fileChanges lists the files under the prompts path that differ between two commits
// (from may be nil: everything is added), with added and deleted line counts.
func fileChanges(ctx context.Context, repo *git.Repository, from, to *object.Commit, parts []string) ([]ports.FileChange, error) {
	treeOf := func(c *object.Commit) (*object.Tree, error) {
		if c == nil {
			return nil, nil
		}
		return repo.TreeObject(c.TreeHash)
	}
	a, err := treeOf(from)
	if err != nil {
		return nil, err
	}
	b, err := treeOf(to)
	if err != nil {
		return nil, err
	}
	return diffTrees(ctx, a, b, parts)
}

func diffTrees(ctx context.Context, a, b *object.Tree, parts []string) ([]ports.FileChange, error) {
	changes, err := object.DiffTreeWithOptions(ctx, a, b, nil)
	if err != nil {
		return nil, fmt.Errorf("diff trees: %w", err)
	}
	prefix := strings.Join(parts, "/")
	var out []ports.FileChange
	for _, ch := range changes {
		name := ch.To.Name
		if name == "" {
			name = ch.From.Name
		}
		if prefix != "" && name != prefix && !strings.HasPrefix(name, prefix+"/") {
			continue
		}
		fc := ports.FileChange{Path: name}
		patch, err := ch.PatchContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("diff %s: %w", name, err)
		}
		for _, st := range patch.Stats() {
			fc.Added += st.Addition
			fc.Deleted += st.Deletion
		}
		out = append(out, fc)
	}
	return out, nil
}

func subject(msg string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	return strings.TrimSpace(line)
}

func short(h plumbing.Hash) string { return h.String()[:7] }

func inWindow(t, since, until time.Time) bool {
	return !t.Before(since) && !t.After(until)
}

var _ ports.Prompts = (*Repo)(nil)

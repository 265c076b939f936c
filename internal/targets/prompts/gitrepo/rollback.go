package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/quench-dev/quench/internal/ports"
)

// Rollback creates req.Branch with one commit on top of the base branch head whose tree is
// the head's tree with the prompts path restored to its last good state: req.Good when
// given, else the state before the oldest commit that touched the prompts path in
// [req.Since, req.Until]. Files added since are removed, deleted ones come back.
//
// A retry finds the branch and returns it (AlreadyExisted) when it holds exactly the
// rollback that would be built on the branch commit's parent; a branch with other content
// is an error a human resolves. Nothing to roll back is a NoOp result, not an error.
func (r *Repo) Rollback(ctx context.Context, req ports.RollbackRequest) (ports.RollbackResult, error) {
	branch := plumbing.NewBranchReferenceName(req.Branch)
	if req.Branch == "" || branch.Validate() != nil {
		return ports.RollbackResult{}, ports.Permanentf("%q is not a valid branch name for a rollback", req.Branch)
	}
	if branch == r.base {
		return ports.RollbackResult{}, ports.Permanentf("the rollback branch may not be the base branch %s", r.base.Short())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	repo, err := r.open()
	if err != nil {
		return ports.RollbackResult{}, err
	}
	res := ports.RollbackResult{Branch: req.Branch, URL: r.branchURL(req.Branch)}

	existing, err := repo.Reference(branch, true)
	switch {
	case err == nil:
		return r.confirmExisting(ctx, repo, req, existing, res)
	case !errors.Is(err, plumbing.ErrReferenceNotFound):
		return ports.RollbackResult{}, fmt.Errorf("look up branch %s: %w", req.Branch, err)
	}

	head, err := r.baseHead(repo)
	if err != nil {
		return ports.RollbackResult{}, err
	}
	p, err := r.plan(ctx, repo, head, req)
	if err != nil {
		return ports.RollbackResult{}, err
	}
	if p.noop {
		res.NoOp, res.Reason, res.URL = true, p.reason, ""
		return res, nil
	}
	commit, err := r.writeCommit(repo, head, p, req)
	if err != nil {
		return ports.RollbackResult{}, err
	}
	if err := repo.Storer.SetReference(plumbing.NewHashReference(branch, commit)); err != nil {
		return ports.RollbackResult{}, fmt.Errorf("create branch %s: %w", req.Branch, err)
	}
	return p.fill(res, commit, head.Hash), nil
}

// confirmExisting decides whether an existing branch is this very rollback (a retry).
func (r *Repo) confirmExisting(ctx context.Context, repo *git.Repository, req ports.RollbackRequest,
	ref *plumbing.Reference, res ports.RollbackResult) (ports.RollbackResult, error) {
	conflict := func(why string) error {
		return ports.Permanentf("branch %s already exists in %s (commit %s) but %s; delete it (git branch -D %s) or pick another good commit, then retry",
			req.Branch, r.dir, short(ref.Hash()), why, req.Branch)
	}
	tip, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return ports.RollbackResult{}, fmt.Errorf("read branch %s: %w", req.Branch, err)
	}
	if len(tip.ParentHashes) != 1 {
		return ports.RollbackResult{}, conflict("it is not a single rollback commit")
	}
	parent, err := repo.CommitObject(tip.ParentHashes[0])
	if err != nil {
		return ports.RollbackResult{}, fmt.Errorf("read parent of branch %s: %w", req.Branch, err)
	}
	p, err := r.plan(ctx, repo, parent, req)
	if err != nil {
		return ports.RollbackResult{}, err
	}
	if p.noop || p.tree != tip.TreeHash {
		return ports.RollbackResult{}, conflict("its content differs from the rollback quench would build")
	}
	res = p.fill(res, tip.Hash, parent.Hash)
	res.AlreadyExisted = true
	return res, nil
}

// plan is a rollback worked out but not yet written.
type plan struct {
	good     *object.Commit // nil: the state before the repository's first commit
	reverted []*object.Commit
	tree     plumbing.Hash
	files    []ports.FileChange
	noop     bool
	reason   string
}

func (p plan) fill(res ports.RollbackResult, commit, base plumbing.Hash) ports.RollbackResult {
	res.Commit = commit.String()
	res.Base = base.String()
	if p.good != nil {
		res.Good = p.good.Hash.String()
	}
	for _, c := range p.reverted {
		res.Reverted = append(res.Reverted, c.Hash.String())
	}
	res.Files = p.files
	return res
}

func (r *Repo) plan(ctx context.Context, repo *git.Repository, head *object.Commit, req ports.RollbackRequest) (plan, error) {
	var p plan
	if req.Good != "" {
		hash, err := repo.ResolveRevision(plumbing.Revision(req.Good))
		if err != nil {
			return plan{}, ports.Permanentf("good commit %q not found in %s: give a commit SHA, tag or branch of the repository", req.Good, r.dir)
		}
		if p.good, err = repo.CommitObject(*hash); err != nil {
			return plan{}, ports.Permanentf("%q is not a commit in %s", req.Good, r.dir)
		}
	} else {
		suspects, err := r.suspects(ctx, repo, head, req.Since, req.Until)
		if err != nil {
			return plan{}, err
		}
		if len(suspects) == 0 {
			p.noop = true
			p.reason = fmt.Sprintf("no commit on %s changed %s between %s and %s",
				r.base.Short(), r.PromptsPath(), req.Since.UTC().Format(time.RFC3339), req.Until.UTC().Format(time.RFC3339))
			return p, nil
		}
		p.good = suspects[len(suspects)-1].parent
	}
	var err error
	if p.reverted, err = r.touchingSince(ctx, repo, head, p.good); err != nil {
		return plan{}, err
	}
	goodEntry, goodFound, err := entryAt(repo, p.good, r.prompt)
	if err != nil {
		return plan{}, err
	}
	if p.tree, err = replaceAt(repo, head.TreeHash, r.prompt, goodEntry, goodFound); err != nil {
		return plan{}, err
	}
	if p.tree == head.TreeHash {
		p.noop = true
		p.reason = fmt.Sprintf("%s on %s already matches %s", r.PromptsPath(), r.base.Short(), goodLabel(p.good))
		return p, nil
	}
	headTree, err := repo.TreeObject(head.TreeHash)
	if err != nil {
		return plan{}, err
	}
	newTree, err := repo.TreeObject(p.tree)
	if err != nil {
		return plan{}, err
	}
	p.files, err = diffTrees(ctx, headTree, newTree, r.prompt)
	return p, err
}

func goodLabel(good *object.Commit) string {
	if good == nil {
		return "the state before the first commit"
	}
	return short(good.Hash)
}

// touchingSince lists the commits touching the prompts path from head back to (not
// including) good along first parents, newest first. A good commit off the first-parent
// line lists all touching commits the walk sees.
func (r *Repo) touchingSince(ctx context.Context, repo *git.Repository, head, good *object.Commit) ([]*object.Commit, error) {
	var out []*object.Commit
	c := head
	for walked := 0; c != nil && walked < maxWalk; walked++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if good != nil && c.Hash == good.Hash {
			return out, nil
		}
		parent, err := firstParent(repo, c)
		if err != nil {
			return nil, err
		}
		touched, err := touches(repo, c, parent, r.prompt)
		if err != nil {
			return nil, err
		}
		if touched {
			out = append(out, c)
		}
		c = parent
	}
	if good != nil {
		// good is not an ancestor along first parents: the list would be the whole history.
		return nil, nil
	}
	return out, nil
}

// replaceAt returns the hash of the tree root with the entry at parts set to e (or removed
// when !present), writing the changed trees. Unchanged trees keep their hashes.
func replaceAt(repo *git.Repository, root plumbing.Hash, parts []string, e entry, present bool) (plumbing.Hash, error) {
	if len(parts) == 0 {
		return e.Hash, nil // the whole repository is the prompts path
	}
	tree, err := repo.TreeObject(root)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	h, empty, err := setEntry(repo, tree, parts, e, present)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if empty {
		return writeTree(repo, nil)
	}
	return h, nil
}

func setEntry(repo *git.Repository, tree *object.Tree, parts []string, e entry, present bool) (plumbing.Hash, bool, error) {
	var entries []object.TreeEntry
	if tree != nil {
		entries = append(entries, tree.Entries...)
	}
	name := parts[0]
	idx := -1
	for i := range entries {
		if entries[i].Name == name {
			idx = i
			break
		}
	}
	remove := func() {
		if idx >= 0 {
			entries = append(entries[:idx], entries[idx+1:]...)
		}
	}
	if len(parts) == 1 {
		remove()
		if present {
			entries = append(entries, object.TreeEntry{Name: name, Mode: e.Mode, Hash: e.Hash})
		}
	} else {
		var child *object.Tree
		if idx >= 0 && entries[idx].Mode == filemode.Dir {
			var err error
			if child, err = repo.TreeObject(entries[idx].Hash); err != nil {
				return plumbing.ZeroHash, false, err
			}
		} else if idx >= 0 && !present {
			// A file sits where a folder of the path would be: the path is absent already.
			return treeHash(tree), false, nil
		}
		h, empty, err := setEntry(repo, child, parts[1:], e, present)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		remove()
		if !empty {
			entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
		}
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, true, nil // git has no empty folders: the parent drops it
	}
	h, err := writeTree(repo, entries)
	return h, false, err
}

func treeHash(t *object.Tree) plumbing.Hash {
	if t == nil {
		return plumbing.ZeroHash
	}
	return t.Hash
}

func writeTree(repo *git.Repository, entries []object.TreeEntry) (plumbing.Hash, error) {
	sort.Sort(object.TreeEntrySorter(entries))
	t := &object.Tree{Entries: entries}
	obj := repo.Storer.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode tree: %w", err)
	}
	h, err := repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write tree: %w", err)
	}
	return h, nil
}

func (r *Repo) writeCommit(repo *git.Repository, head *object.Commit, p plan, req ports.RollbackRequest) (plumbing.Hash, error) {
	at := req.At
	if at.IsZero() {
		at = time.Now()
	}
	sig := r.author
	sig.When = at.UTC().Truncate(time.Second) // git stores seconds: keep retries byte-identical
	c := &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      r.commitMessage(p, req),
		TreeHash:     p.tree,
		ParentHashes: []plumbing.Hash{head.Hash},
	}
	obj := repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode commit: %w", err)
	}
	h, err := repo.Storer.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write commit: %w", err)
	}
	return h, nil
}

func (r *Repo) commitMessage(p plan, req ports.RollbackRequest) string {
	var b strings.Builder
	msg := strings.TrimSpace(req.Message)
	if msg == "" {
		msg = "quench: roll back prompts"
	}
	b.WriteString(msg)
	fmt.Fprintf(&b, "\n\nRestores %s to %s", r.PromptsPath(), goodLabel(p.good))
	if p.good != nil {
		fmt.Fprintf(&b, " (%s)", subject(p.good.Message))
	}
	b.WriteString(".\n")
	if len(p.reverted) > 0 {
		b.WriteString("\nReverts:\n")
		for _, c := range p.reverted {
			fmt.Fprintf(&b, "- %s %s\n", short(c.Hash), subject(c.Message))
		}
	}
	return b.String()
}

// branchURL names the branch as a link: file:///path/to/repo#branch.
func (r *Repo) branchURL(branch string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(r.dir), Fragment: branch}).String()
}

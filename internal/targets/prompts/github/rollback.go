package github

import (
	"context"
	"fmt"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/quench-dev/quench/internal/ports"
)

// Rollback proposes restoring the prompts paths to their last good state as a pull
// request: a tree with the good blobs on top of the base head's tree (Git.CreateTree), one
// commit on the head, branch req.Branch, and a pull request into the base branch.
//
// The last good state is req.Good, else the parent of the oldest commit that touched the
// prompts in [req.Since, req.Until]. Only files the suspect commits changed are restored:
// a later commit (after req.Through, or after req.Until) that changed one of them again is
// a conflict for a human; later changes to other files stay.
//
// It is idempotent: an existing branch holding exactly this rollback (a retry, a restart,
// a run that stopped before the pull request) is reused, and an open pull request for it
// is returned rather than a second one opened. Nothing to roll back is a NoOp result.
func (a *Adapter) Rollback(ctx context.Context, req ports.RollbackRequest) (ports.RollbackResult, error) {
	base, err := a.baseBranch(ctx)
	if err != nil {
		return ports.RollbackResult{}, err
	}
	if err := validBranch(req.Branch, base); err != nil {
		return ports.RollbackResult{}, err
	}
	tip, exists, err := a.headOf(ctx, req.Branch)
	if err != nil {
		return ports.RollbackResult{}, err
	}
	if exists {
		return a.resume(ctx, req, base, tip)
	}
	headSHA, found, err := a.headOf(ctx, base)
	if err != nil {
		return ports.RollbackResult{}, err
	}
	if !found {
		return ports.RollbackResult{}, ports.Permanentf("base branch %s not found in %s: create it or set github.branch", base, a.Repo())
	}
	head, err := a.gitCommit(ctx, headSHA)
	if err != nil {
		return ports.RollbackResult{}, err
	}
	p, err := a.plan(ctx, req, base, head)
	if err != nil {
		return ports.RollbackResult{}, err
	}
	if p.noop {
		return ports.RollbackResult{Branch: req.Branch, NoOp: true, Reason: p.reason}, nil
	}
	commit, err := a.writeCommit(ctx, req, p)
	if err != nil {
		return ports.RollbackResult{}, err
	}
	_, _, err = a.client.Git.CreateRef(ctx, a.opts.Owner, a.opts.Repo, &gh.Reference{
		Ref: gh.String("refs/heads/" + req.Branch), Object: &gh.GitObject{SHA: gh.String(commit)},
	})
	if isUnprocessable(err, "already exists") {
		// Another attempt created it meanwhile: confirm it is this rollback.
		if tip, exists, err = a.headOf(ctx, req.Branch); err != nil {
			return ports.RollbackResult{}, err
		}
		if exists {
			return a.resume(ctx, req, base, tip)
		}
	}
	if err != nil {
		return ports.RollbackResult{}, a.fail("create branch "+req.Branch, permContents, err)
	}
	return a.propose(ctx, req, base, p, commit, false)
}

func validBranch(branch, base string) error {
	switch {
	case branch == "" || strings.ContainsAny(branch, " ~^:?*[\\") || strings.Contains(branch, "..") ||
		strings.HasPrefix(branch, "/") || strings.HasSuffix(branch, "/") || strings.HasSuffix(branch, ".lock"):
		return ports.Permanentf("%q is not a valid branch name for a rollback", branch)
	case branch == base:
		return ports.Permanentf("the rollback branch may not be the base branch %s", base)
	}
	return nil
}

// resume decides whether an existing branch is this very rollback and, if so, makes sure
// its pull request exists.
func (a *Adapter) resume(ctx context.Context, req ports.RollbackRequest, base, tip string) (ports.RollbackResult, error) {
	conflict := func(why string) error {
		return ports.Permanentf("branch %s already exists in %s (commit %s) but %s; delete the branch on GitHub or pick another good commit, then retry",
			req.Branch, a.Repo(), shortSHA(tip), why)
	}
	tipCommit, err := a.gitCommit(ctx, tip)
	if err != nil {
		return ports.RollbackResult{}, err
	}
	if len(tipCommit.Parents) != 1 {
		return ports.RollbackResult{}, conflict("it is not a single rollback commit")
	}
	parent, err := a.gitCommit(ctx, tipCommit.Parents[0].GetSHA())
	if err != nil {
		return ports.RollbackResult{}, err
	}
	p, err := a.plan(ctx, req, base, parent)
	if err != nil {
		return ports.RollbackResult{}, err
	}
	if p.noop {
		return ports.RollbackResult{}, conflict("there is nothing to roll back on its parent")
	}
	got, err := a.snapshotOf(ctx, tipCommit.GetTree().GetSHA())
	if err != nil {
		return ports.RollbackResult{}, err
	}
	if !sameSnapshot(got, p.expected()) {
		return ports.RollbackResult{}, conflict("its prompts differ from the rollback quench would build")
	}
	return a.propose(ctx, req, base, p, tip, true)
}

// gitCommit reads a commit object (its tree and parents).
func (a *Adapter) gitCommit(ctx context.Context, sha string) (*gh.Commit, error) {
	c, _, err := a.client.Git.GetCommit(ctx, a.opts.Owner, a.opts.Repo, sha)
	if err != nil {
		if isStatus(err, 404) || isStatus(err, 422) {
			return nil, ports.Permanentf("commit %q not found in %s: give a full commit SHA of the repository", sha, a.Repo())
		}
		return nil, a.fail("read commit "+shortSHA(sha), permContentsRead, err)
	}
	return c, nil
}

// writeCommit writes the rollback tree and commit. The commit's dates are the step's time,
// so a retry writes the very same commit (same SHA) instead of a new one.
func (a *Adapter) writeCommit(ctx context.Context, req ports.RollbackRequest, p *plan) (string, error) {
	entries := make([]*gh.TreeEntry, 0, len(p.changes))
	for _, ch := range p.changes {
		e := &gh.TreeEntry{Path: gh.String(ch.path), Mode: gh.String(ch.before.Mode), Type: gh.String(ch.before.Type)}
		if ch.restore {
			e.Mode, e.Type, e.SHA = gh.String(ch.good.Mode), gh.String(ch.good.Type), gh.String(ch.good.SHA)
		}
		// Neither SHA nor content: go-github sends "sha": null, which deletes the path.
		entries = append(entries, e)
	}
	tree, _, err := a.client.Git.CreateTree(ctx, a.opts.Owner, a.opts.Repo, p.headTree, entries)
	if err != nil {
		return "", a.fail("create the rollback tree", permContents, err)
	}
	at := req.At
	if at.IsZero() {
		at = time.Now()
	}
	sig := &gh.CommitAuthor{
		Name: gh.String(a.opts.AuthorName), Email: gh.String(a.opts.AuthorEmail),
		Date: &gh.Timestamp{Time: at.UTC().Truncate(time.Second)},
	}
	commit, _, err := a.client.Git.CreateCommit(ctx, a.opts.Owner, a.opts.Repo, &gh.Commit{
		Message:   gh.String(a.commitMessage(req, p)),
		Tree:      &gh.Tree{SHA: tree.SHA},
		Parents:   []*gh.Commit{{SHA: gh.String(p.head)}},
		Author:    sig,
		Committer: sig,
	}, nil)
	if err != nil {
		return "", a.fail("create the rollback commit", permContents, err)
	}
	return commit.GetSHA(), nil
}

func (a *Adapter) commitMessage(req ports.RollbackRequest, p *plan) string {
	var b strings.Builder
	msg := strings.TrimSpace(req.Message)
	if msg == "" {
		msg = "quench: roll back prompts"
	}
	b.WriteString(msg)
	fmt.Fprintf(&b, "\n\nRestores %s to %s.\n", a.PromptsPaths(), p.goodLabel())
	if len(p.suspects) > 0 {
		b.WriteString("\nReverts:\n")
		for _, c := range p.suspects {
			fmt.Fprintf(&b, "- %s %s\n", shortSHA(c.GetSHA()), subject(c.GetCommit().GetMessage()))
		}
	}
	return b.String()
}

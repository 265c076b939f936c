package githubfake

import (
	"fmt"
	"io"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Text is a file's content for Commit; nil deletes the file.
func Text(s string) *string { return &s }

// Commit pushes a commit to branch (created if missing) that writes files (nil content
// deletes), by author at the given time. It returns the commit's SHA.
func (f *Fake) Commit(branch, message, author string, at time.Time, files map[string]*string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, err := f.commitFiles(branch, message, author, at, files)
	if err != nil {
		panic(fmt.Sprintf("githubfake: commit on %s: %v", branch, err))
	}
	return h.String()
}

// Branch creates (or moves) a branch to a commit.
func (f *Fake) Branch(name, sha string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setBranch(name, plumbing.NewHash(sha))
}

// Head is a branch's commit SHA ("" when there is no such branch).
func (f *Fake) Head(branch string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.branchHead(branch)
	if !ok {
		return ""
	}
	return h.String()
}

// Branches lists the branch names.
func (f *Fake) Branches() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	refs, err := f.repo.Branches()
	if err != nil {
		return nil
	}
	var out []string
	_ = refs.ForEach(func(r *plumbing.Reference) error {
		out = append(out, r.Name().Short())
		return nil
	})
	return out
}

// File reads a file at a commit; ok is false when it is absent.
func (f *Fake) File(sha, path string) (content string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return "", false
	}
	file, err := c.File(path)
	if err != nil {
		return "", false
	}
	r, err := file.Reader()
	if err != nil {
		return "", false
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return string(b), err == nil
}

// CommitInfo is a commit as tests check it.
type CommitInfo struct {
	SHA     string
	Parents []string
	Message string
	Author  object.Signature
}

// CommitOf reads a commit.
func (f *Fake) CommitOf(sha string) (CommitInfo, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return CommitInfo{}, false
	}
	info := CommitInfo{SHA: sha, Message: c.Message, Author: c.Author}
	for _, p := range c.ParentHashes {
		info.Parents = append(info.Parents, p.String())
	}
	return info, true
}

// OpenPR opens a pull request from head into base, as a person would.
func (f *Fake) OpenPR(head, base, title string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, refusal := f.openPull(head, base, title, "", false)
	if refusal != "" {
		panic("githubfake: open PR: " + refusal)
	}
	return p.Number
}

// MergePR merges an open pull request with a merge commit ("Merge pull request #n from
// owner/head") whose tree is the head's: the base must not have moved since the head
// branched off.
func (f *Fake) MergePR(n int, at time.Time) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pulls[n-1]
	base, _ := f.branchHead(p.Base)
	head := f.pullHead(p)
	headCommit, err := f.repo.CommitObject(head)
	if err != nil {
		panic(err)
	}
	p.commits, _ = f.between(base, head)
	sig := object.Signature{Name: "GitHub", Email: "noreply@github.com", When: at}
	h, err := f.writeCommit(&object.Commit{
		Author: sig, Committer: sig, TreeHash: headCommit.TreeHash, ParentHashes: []plumbing.Hash{base, head},
		Message: fmt.Sprintf("Merge pull request #%d from %s/%s\n\n%s", n, f.opts.Owner, p.Head, p.Title),
	})
	if err != nil {
		panic(err)
	}
	f.setBranch(p.Base, h)
	p.State, p.Merged, p.headSHA = "closed", true, head
	return h.String()
}

// ClosePR closes a pull request without merging it.
func (f *Fake) ClosePR(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pulls[n-1]
	p.headSHA = f.pullHead(p)
	p.State = "closed"
}

// Pulls returns a copy of every pull request, oldest first.
func (f *Fake) Pulls() []Pull {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Pull, 0, len(f.pulls))
	for _, p := range f.pulls {
		cp := *p
		cp.Labels = append([]string(nil), p.Labels...)
		cp.Reviewers = append([]string(nil), p.Reviewers...)
		cp.TeamReviewers = append([]string(nil), p.TeamReviewers...)
		cp.commits = nil
		out = append(out, cp)
	}
	return out
}

// PullHead is the commit SHA at the head of a pull request.
func (f *Fake) PullHead(n int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pullHead(f.pulls[n-1]).String()
}

// Statuses lists the statuses set on a commit, oldest first.
func (f *Fake) Statuses(sha string) []Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Status(nil), f.statuses[sha]...)
}

// LatestStatus is the newest status of a context on a commit, as GitHub shows it.
func (f *Fake) LatestStatus(sha, context string) (Status, bool) {
	list := f.Statuses(sha)
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Context == context {
			return list[i], true
		}
	}
	return Status{}, false
}

// Variable reads an Actions variable.
func (f *Fake) Variable(name string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.variables[name]
	return v, ok
}

// SetVariable sets an Actions variable, as someone in the UI would.
func (f *Fake) SetVariable(name, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.variables[name] = value
}

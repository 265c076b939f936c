package github

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/quench-dev/quench/internal/ports"
)

// Bounds on how much history one step reads, so a huge repository cannot stall it.
const (
	maxListedCommits   = 1000 // commits touching the prompts in one listing
	maxDetailedCommits = 50   // commits whose files and PR are looked up (what prompts.changes lists)
	perPage            = 100
)

// Changes lists the commits on the base branch that touch the prompts paths and were
// committed in [since, until], newest first, with their author, files (under the prompts
// paths) and line counts, and the pull request that brought each in when GitHub knows it.
func (a *Adapter) Changes(ctx context.Context, since, until time.Time) ([]ports.PromptCommit, error) {
	base, err := a.baseBranch(ctx)
	if err != nil {
		return nil, err
	}
	head, found, err := a.headOf(ctx, base)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ports.Permanentf("base branch %s not found in %s: create it or set github.branch", base, a.Repo())
	}
	commits, err := a.listTouching(ctx, head, since, until)
	if err != nil {
		return nil, err
	}
	out := make([]ports.PromptCommit, 0, len(commits))
	for i, c := range commits {
		pc := ports.PromptCommit{
			SHA:     c.GetSHA(),
			Short:   shortSHA(c.GetSHA()),
			Author:  authorOf(c),
			Date:    committedAt(c),
			Message: subject(c.GetCommit().GetMessage()),
			URL:     c.GetHTMLURL(),
		}
		if len(c.Parents) > 0 {
			pc.Parent = c.Parents[0].GetSHA()
		}
		if i < maxDetailedCommits {
			if pc.Files, err = a.commitFiles(ctx, c.GetSHA()); err != nil {
				return nil, err
			}
			if pc.PR, err = a.pullOf(ctx, c, base); err != nil {
				return nil, err
			}
		}
		out = append(out, pc)
	}
	return out, nil
}

// listTouching lists the commits reachable from head that touch a prompts path, committed
// in [since, until] (a zero bound is open), newest first, each once.
func (a *Adapter) listTouching(ctx context.Context, head string, since, until time.Time) ([]*gh.RepositoryCommit, error) {
	seen := map[string]bool{}
	var out []*gh.RepositoryCommit
	for _, p := range a.paths {
		opts := &gh.CommitsListOptions{SHA: head, Path: p, Since: since, Until: until, ListOptions: gh.ListOptions{PerPage: perPage}}
		for {
			page, resp, err := a.client.Repositories.ListCommits(ctx, a.opts.Owner, a.opts.Repo, opts)
			if err != nil {
				return nil, a.fail("list the commits touching "+displayPath(p), permContentsRead, err)
			}
			for _, c := range page {
				at := committedAt(c)
				if seen[c.GetSHA()] || (!since.IsZero() && at.Before(since)) || (!until.IsZero() && at.After(until)) {
					continue
				}
				seen[c.GetSHA()] = true
				out = append(out, c)
			}
			if len(out) > maxListedCommits {
				return nil, ports.Permanentf("more than %d commits touch %s on %s since %s: narrow the window (since) or give the good commit",
					maxListedCommits, a.PromptsPaths(), a.Repo(), since.UTC().Format(time.RFC3339))
			}
			if resp == nil || resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return committedAt(out[i]).After(committedAt(out[j])) })
	return out, nil
}

// commitFiles lists a commit's files under the prompts paths with line counts. A file
// renamed into or out of the prompts paths counts.
func (a *Adapter) commitFiles(ctx context.Context, sha string) ([]ports.FileChange, error) {
	var files []ports.FileChange
	opts := &gh.ListOptions{PerPage: perPage}
	for {
		c, resp, err := a.client.Repositories.GetCommit(ctx, a.opts.Owner, a.opts.Repo, sha, opts)
		if err != nil {
			return nil, a.fail("read commit "+shortSHA(sha), permContentsRead, err)
		}
		for _, f := range c.Files {
			if !a.underPaths(f.GetFilename()) && !a.underPaths(f.GetPreviousFilename()) {
				continue
			}
			files = append(files, ports.FileChange{Path: f.GetFilename(), Added: f.GetAdditions(), Deleted: f.GetDeletions()})
		}
		if resp == nil || resp.NextPage == 0 {
			return files, nil
		}
		opts.Page = resp.NextPage
	}
}

// prInSubject finds "(#123)" (squash merges) or "Merge pull request #123" in a subject.
var prInSubject = regexp.MustCompile(`\(#(\d+)\)\s*$|^Merge pull request #(\d+)`)

// pullOf is the pull request a commit came in with: from its subject, else GitHub's list
// of pull requests containing it (the one merged into the base branch first). 0: none.
func (a *Adapter) pullOf(ctx context.Context, c *gh.RepositoryCommit, base string) (int, error) {
	if m := prInSubject.FindStringSubmatch(subject(c.GetCommit().GetMessage())); m != nil {
		n, _ := strconv.Atoi(m[1] + m[2])
		return n, nil
	}
	prs, _, err := a.client.PullRequests.ListPullRequestsWithCommit(ctx, a.opts.Owner, a.opts.Repo, c.GetSHA(), &gh.ListOptions{PerPage: perPage})
	if err != nil {
		// Which PR a commit came from is a nicety; a refusal must not fail the step.
		if isStatus(err, 403) || isStatus(err, 404) || isStatus(err, 422) {
			a.log.Debug("cannot list the pull requests of a commit", "sha", c.GetSHA(), "err", err)
			return 0, nil
		}
		return 0, a.fail("list the pull requests of commit "+shortSHA(c.GetSHA()), permPullsRead, err)
	}
	for _, pr := range prs {
		if pr.GetBase().GetRef() == base && pr.MergedAt != nil {
			return pr.GetNumber(), nil
		}
	}
	if len(prs) > 0 {
		return prs[0].GetNumber(), nil
	}
	return 0, nil
}

// authorOf names a commit's author: the git name, with the GitHub login when it differs.
func authorOf(c *gh.RepositoryCommit) string {
	name := c.GetCommit().GetAuthor().GetName()
	login := c.GetAuthor().GetLogin()
	switch {
	case name == "":
		return login
	case login != "" && login != name:
		return fmt.Sprintf("%s (@%s)", name, login)
	}
	return name
}

// committedAt is the commit date (the committer's), as the local-git target uses.
func committedAt(c *gh.RepositoryCommit) time.Time {
	if d := c.GetCommit().GetCommitter().GetDate(); !d.IsZero() {
		return d.Time.UTC()
	}
	return c.GetCommit().GetAuthor().GetDate().Time.UTC()
}

func displayPath(p string) string {
	if p == "" {
		return "the repository"
	}
	return p
}

package gitrepo

import (
	"context"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/quench-dev/quench/internal/ports"
)

// Changes lists the commits on the base branch that changed the prompts path and were
// committed in [since, until], newest first. It follows first parents (the branch's own
// history, merges as one change) and stops at the first commit older than since.
func (r *Repo) Changes(ctx context.Context, since, until time.Time) ([]ports.PromptCommit, error) {
	repo, err := r.open()
	if err != nil {
		return nil, err
	}
	head, err := r.baseHead(repo)
	if err != nil {
		return nil, err
	}
	suspects, err := r.suspects(ctx, repo, head, since, until)
	if err != nil {
		return nil, err
	}
	out := make([]ports.PromptCommit, 0, len(suspects))
	for _, s := range suspects {
		files, err := fileChanges(ctx, repo, s.parent, s.commit, r.prompt)
		if err != nil {
			return nil, err
		}
		pc := ports.PromptCommit{
			SHA:     s.commit.Hash.String(),
			Short:   short(s.commit.Hash),
			Author:  s.commit.Author.Name,
			Date:    s.commit.Committer.When.UTC(),
			Message: subject(s.commit.Message),
			Files:   files,
		}
		if s.parent != nil {
			pc.Parent = s.parent.Hash.String()
		}
		out = append(out, pc)
	}
	return out, nil
}

type suspect struct {
	commit, parent *object.Commit
}

// suspects walks first parents from head and returns the commits touching the prompts path
// committed in [since, until], newest first.
func (r *Repo) suspects(ctx context.Context, repo *git.Repository, head *object.Commit, since, until time.Time) ([]suspect, error) {
	var out []suspect
	c := head
	for walked := 0; c != nil && walked < maxWalk; walked++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		when := c.Committer.When
		if when.Before(since) {
			break
		}
		parent, err := firstParent(repo, c)
		if err != nil {
			return nil, err
		}
		if inWindow(when, since, until) {
			touched, err := touches(repo, c, parent, r.prompt)
			if err != nil {
				return nil, err
			}
			if touched {
				out = append(out, suspect{commit: c, parent: parent})
			}
		}
		c = parent
	}
	return out, nil
}

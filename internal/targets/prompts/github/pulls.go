package github

import (
	"context"
	"fmt"
	"slices"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/quench-dev/quench/internal/ports"
)

// propose makes sure exactly one open pull request proposes the rollback commit on
// req.Branch, and describes the result.
func (a *Adapter) propose(ctx context.Context, req ports.RollbackRequest, base string, p *plan, commit string, branchExisted bool) (ports.RollbackResult, error) {
	pr, err := a.openPullFor(ctx, req.Branch)
	if err != nil {
		return ports.RollbackResult{}, err
	}
	created := false
	if pr == nil {
		pr, _, err = a.client.PullRequests.Create(ctx, a.opts.Owner, a.opts.Repo, &gh.NewPullRequest{
			Title: gh.String(subject(req.Message)),
			Head:  gh.String(req.Branch),
			Base:  gh.String(base),
			Body:  gh.String(a.pullBody(req, base, p)),
			Draft: gh.Bool(a.opts.Draft),
		})
		switch {
		case isUnprocessable(err, "already exists"):
			if pr, err = a.openPullFor(ctx, req.Branch); err == nil && pr == nil {
				err = fmt.Errorf("GitHub says a pull request for %s already exists, but none is open yet; retrying", req.Branch)
			}
		case err != nil:
			err = a.fail("open the rollback pull request", permPulls, err)
		default:
			created = true
		}
		if err != nil {
			return ports.RollbackResult{}, err
		}
	}
	if err := a.decorate(ctx, pr); err != nil {
		return ports.RollbackResult{}, err
	}
	files, err := a.commitFiles(ctx, commit)
	if err != nil {
		return ports.RollbackResult{}, err
	}
	reverted := make([]string, 0, len(p.suspects))
	for _, c := range p.suspects {
		reverted = append(reverted, c.GetSHA())
	}
	return ports.RollbackResult{
		Branch: req.Branch, Commit: commit, Base: p.head, Good: p.good,
		Reverted: reverted, Files: files, URL: pr.GetHTMLURL(), PR: pr.GetNumber(),
		AlreadyExisted: branchExisted || !created,
	}, nil
}

// openPullFor finds the open pull request whose head is branch of this repository.
func (a *Adapter) openPullFor(ctx context.Context, branch string) (*gh.PullRequest, error) {
	prs, _, err := a.client.PullRequests.List(ctx, a.opts.Owner, a.opts.Repo, &gh.PullRequestListOptions{
		State: "open", Head: a.opts.Owner + ":" + branch, ListOptions: gh.ListOptions{PerPage: perPage},
	})
	if err != nil {
		return nil, a.fail("look up the pull request of "+branch, permPullsRead, err)
	}
	for _, pr := range prs {
		if pr.GetHead().GetRef() == branch {
			return pr, nil
		}
	}
	return nil, nil
}

// decorate puts the configured labels and reviewers on the pull request. A retry adds
// only what is missing. Refusals (a label or reviewer GitHub will not accept) are logged,
// not fatal: the pull request exists and a human can fix it; rate limits are retried.
func (a *Adapter) decorate(ctx context.Context, pr *gh.PullRequest) error {
	var missing []string
	for _, l := range a.opts.Labels {
		if !slices.ContainsFunc(pr.Labels, func(have *gh.Label) bool { return have.GetName() == l }) {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		_, _, err := a.client.Issues.AddLabelsToIssue(ctx, a.opts.Owner, a.opts.Repo, pr.GetNumber(), missing)
		if err := a.softFail("label the rollback pull request", permPulls, err); err != nil {
			return err
		}
	}
	wantReviews := len(a.opts.Reviewers)+len(a.opts.TeamReviewers) > 0
	if wantReviews && len(pr.RequestedReviewers) == 0 && len(pr.RequestedTeams) == 0 {
		_, _, err := a.client.PullRequests.RequestReviewers(ctx, a.opts.Owner, a.opts.Repo, pr.GetNumber(),
			gh.ReviewersRequest{Reviewers: a.opts.Reviewers, TeamReviewers: a.opts.TeamReviewers})
		if err := a.softFail("request reviews on the rollback pull request", permPulls, err); err != nil {
			return err
		}
	}
	return nil
}

// softFail returns only errors worth a retry (rate limits, GitHub failing) and logs the
// rest.
func (a *Adapter) softFail(op, perm string, err error) error {
	if err == nil {
		return nil
	}
	err = a.fail(op, perm, err)
	if ports.IsPermanent(err) {
		a.log.Warn("could not "+op+"; the pull request is open without it", "err", err)
		return nil
	}
	return err
}

// pullBody links the incident, the evidence and the reverted commits.
func (a *Adapter) pullBody(req ports.RollbackRequest, base string, p *plan) string {
	var b strings.Builder
	incident := req.Incident
	if incident == "" {
		incident = "(unknown)"
	}
	if u := a.incidentURL(req.Incident); u != "" {
		incident = fmt.Sprintf("[%s](%s)", req.Incident, u)
	}
	fmt.Fprintf(&b, "quench proposes restoring `%s` on `%s` to %s.\n\n", a.PromptsPaths(), base, p.goodLabel())
	fmt.Fprintf(&b, "**Incident:** %s", incident)
	if paragraphs := strings.Split(strings.TrimSpace(req.Message), "\n\n"); len(paragraphs) > 1 {
		fmt.Fprintf(&b, " - %s", strings.TrimSpace(paragraphs[1]))
	}
	b.WriteString("\n\n")
	evidence := strings.TrimSpace(req.Evidence)
	if evidence == "" {
		evidence = "no evidence summary was captured; see the incident's timeline"
	}
	fmt.Fprintf(&b, "**Evidence:** %s\n\n", evidence)
	if len(p.suspects) > 0 {
		b.WriteString("**Reverted commits** (newest first):\n")
		for _, c := range p.suspects {
			fmt.Fprintf(&b, "- %s %s - %s, %s\n", shortSHA(c.GetSHA()), subject(c.GetCommit().GetMessage()),
				authorOf(c), committedAt(c).Format("2006-01-02 15:04 MST"))
		}
		b.WriteString("\n")
	}
	b.WriteString("**Files:**\n")
	for _, ch := range p.changes {
		_, atHead := p.headSnap[ch.path]
		switch {
		case !ch.restore:
			fmt.Fprintf(&b, "- `%s`: removed (added by a reverted commit)\n", ch.path)
		case !atHead:
			fmt.Fprintf(&b, "- `%s`: brought back (deleted by a reverted commit)\n", ch.path)
		default:
			fmt.Fprintf(&b, "- `%s`: restored\n", ch.path)
		}
	}
	fmt.Fprintf(&b, "\nReview the diff and merge to deploy the rollback; quench never merges. Branches `%s*` are exempt from the prompt-deploy freeze.\n",
		RollbackBranchPrefix)
	return b.String()
}

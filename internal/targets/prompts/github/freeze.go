package github

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/quench-dev/quench/internal/ports"
)

// Commit status states quench sets.
const (
	StateFailure = "failure"
	StateSuccess = "success"
)

// maxStatusDescription is GitHub's limit on a status description.
const maxStatusDescription = 140

// status is one commit status to set.
type status struct {
	state, description, targetURL string
}

// freezeStatus is the status of a commit touching the prompts under a freeze state.
func (a *Adapter) freezeStatus(f ports.FreezeEnforcement) status {
	if !f.Frozen {
		return status{state: StateSuccess, description: "Prompt deploys are not frozen"}
	}
	desc := "Prompt deploys frozen by quench"
	if f.Reason != "" {
		desc += ": " + f.Reason
	} else if len(f.Holders) > 0 {
		desc += " for incident " + f.Holders[0]
	}
	st := status{state: StateFailure, description: desc}
	if len(f.Holders) > 0 {
		st.targetURL = a.incidentURL(f.Holders[0])
	}
	return st
}

// exemptStatus is the status of quench's own rollback pull requests: the fix may merge.
var exemptStatus = status{state: StateSuccess, description: "quench rollback: exempt from the prompt-deploy freeze"}

// EnforceFreeze makes GitHub reflect a freeze of the scope it enforces: a status on the base
// branch head and on every open pull request touching the prompts (failure while frozen,
// success otherwise; quench's rollback pull requests always pass), and the Actions variable
// set to "true" while frozen, deleted otherwise. Repeating it is harmless; the freeze
// workflow repeats it every SweepEvery while frozen to catch pull requests it missed.
func (a *Adapter) EnforceFreeze(ctx context.Context, f ports.FreezeEnforcement) (ports.EnforceResult, error) {
	if f.Scope != a.opts.FreezeScope {
		return ports.EnforceResult{Summary: fmt.Sprintf("GitHub %s enforces freezes of scope %s, not %s", a.Repo(), a.opts.FreezeScope, f.Scope)}, nil
	}
	st := a.freezeStatus(f)
	if !f.Frozen {
		// A lift is rare and must win: write every status again, whatever was set before.
		a.mu.Lock()
		a.statusSet = map[string]string{}
		a.mu.Unlock()
	}
	base, err := a.baseBranch(ctx)
	if err != nil {
		return ports.EnforceResult{}, err
	}
	head, found, err := a.headOf(ctx, base)
	if err != nil {
		return ports.EnforceResult{}, err
	}
	if found {
		if err := a.setStatus(ctx, head, st); err != nil {
			return ports.EnforceResult{}, err
		}
	}
	pulls, err := a.enforceOnPulls(ctx, st)
	if err != nil {
		return ports.EnforceResult{}, err
	}
	if err := a.setVariable(ctx, f.Frozen); err != nil {
		return ports.EnforceResult{}, err
	}
	summary := fmt.Sprintf("GitHub %s: %s status %s on %s head %s and %d open pull request(s) touching %s; %s",
		a.Repo(), st.state, a.opts.StatusContext, base, shortSHA(head), pulls, a.PromptsPaths(), a.variableSummary(f.Frozen))
	return ports.EnforceResult{Enforced: true, SweepEvery: a.opts.SweepEvery, Summary: summary}, nil
}

func (a *Adapter) variableSummary(frozen bool) string {
	if frozen {
		return a.opts.FreezeVariable + "=true"
	}
	return a.opts.FreezeVariable + " cleared"
}

// enforceOnPulls sets st on every open pull request touching the prompts (the exempt
// status on rollback pull requests) and returns how many it covered.
func (a *Adapter) enforceOnPulls(ctx context.Context, st status) (int, error) {
	opts := &gh.PullRequestListOptions{State: "open", ListOptions: gh.ListOptions{PerPage: perPage}}
	covered := 0
	open := map[int]bool{}
	for {
		prs, resp, err := a.client.PullRequests.List(ctx, a.opts.Owner, a.opts.Repo, opts)
		if err != nil {
			return 0, a.fail("list open pull requests", permPullsRead, err)
		}
		for _, pr := range prs {
			open[pr.GetNumber()] = true
			applied, err := a.enforceOnPull(ctx, pr, st)
			if err != nil {
				return 0, err
			}
			if applied {
				covered++
			}
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	a.forgetClosed(open)
	return covered, nil
}

// enforceOnPull sets the freeze status on one pull request if it touches the prompts.
func (a *Adapter) enforceOnPull(ctx context.Context, pr *gh.PullRequest, st status) (bool, error) {
	if a.isRollback(pr) {
		return true, a.setStatus(ctx, pr.GetHead().GetSHA(), exemptStatus)
	}
	touches, err := a.pullTouches(ctx, pr)
	if err != nil || !touches {
		return false, err
	}
	return true, a.setStatus(ctx, pr.GetHead().GetSHA(), st)
}

// isRollback reports whether a pull request is quench's own rollback: a quench/rollback-*
// branch of this repository (a fork's branch of that name is not exempt).
func (a *Adapter) isRollback(pr *gh.PullRequest) bool {
	return strings.HasPrefix(pr.GetHead().GetRef(), RollbackBranchPrefix) &&
		strings.EqualFold(pr.GetHead().GetRepo().GetFullName(), a.Repo())
}

// pullTouches reports whether a pull request changes a prompts path; the answer is kept
// per head commit, so a sweep reads each pull request's files once per push.
func (a *Adapter) pullTouches(ctx context.Context, pr *gh.PullRequest) (bool, error) {
	key := strconv.Itoa(pr.GetNumber()) + "@" + pr.GetHead().GetSHA()
	a.mu.Lock()
	touches, known := a.touches[key]
	a.mu.Unlock()
	if known {
		return touches, nil
	}
	opts := &gh.ListOptions{PerPage: perPage}
	for !touches {
		files, resp, err := a.client.PullRequests.ListFiles(ctx, a.opts.Owner, a.opts.Repo, pr.GetNumber(), opts)
		if err != nil {
			return false, a.fail(fmt.Sprintf("list the files of pull request #%d", pr.GetNumber()), permPullsRead, err)
		}
		for _, f := range files {
			if a.underPaths(f.GetFilename()) || a.underPaths(f.GetPreviousFilename()) {
				touches = true
				break
			}
		}
		if resp == nil || resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	a.mu.Lock()
	a.touches[key] = touches
	a.mu.Unlock()
	return touches, nil
}

// forgetClosed drops what is remembered about pull requests no longer open.
func (a *Adapter) forgetClosed(open map[int]bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for key := range a.touches {
		n, _ := strconv.Atoi(key[:strings.IndexByte(key, '@')])
		if !open[n] {
			delete(a.touches, key)
		}
	}
}

// maxRemembered bounds the statuses remembered to skip repeats.
const maxRemembered = 10000

// setStatus sets quench's status on a commit, skipping a repeat: of what this process last
// set there (a sweep every minute must not pile up statuses), and of what GitHub already
// shows, whoever set it (several workers sweep the same freeze and remember nothing of
// each other's writes, so the commit's newest status of quench's context is read first).
func (a *Adapter) setStatus(ctx context.Context, sha string, st status) error {
	if sha == "" {
		return nil
	}
	desc := st.description
	if r := []rune(desc); len(r) > maxStatusDescription {
		desc = string(r[:maxStatusDescription-1]) + "…"
	}
	key := st.state + "\x00" + desc + "\x00" + st.targetURL
	a.mu.Lock()
	same := a.statusSet[sha] == key
	a.mu.Unlock()
	if same {
		return nil
	}
	if shown, err := a.shownStatus(ctx, sha); err != nil {
		return err
	} else if shown == key {
		a.remember(sha, key)
		return nil
	}
	rs := &gh.RepoStatus{State: gh.String(st.state), Description: gh.String(desc), Context: gh.String(a.opts.StatusContext)}
	if st.targetURL != "" {
		rs.TargetURL = gh.String(st.targetURL)
	}
	if _, _, err := a.client.Repositories.CreateStatus(ctx, a.opts.Owner, a.opts.Repo, sha, rs); err != nil {
		return a.fail("set the "+a.opts.StatusContext+" status on "+shortSHA(sha), permStatuses, err)
	}
	a.remember(sha, key)
	return nil
}

func (a *Adapter) remember(sha, key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.statusSet) >= maxRemembered {
		a.statusSet = map[string]string{}
	}
	a.statusSet[sha] = key
}

// shownStatus is the newest status of quench's context on a commit, as setStatus keys it
// ("" when there is none). GitHub lists a commit's statuses newest first.
func (a *Adapter) shownStatus(ctx context.Context, sha string) (string, error) {
	opts := &gh.ListOptions{PerPage: perPage}
	for {
		list, resp, err := a.client.Repositories.ListStatuses(ctx, a.opts.Owner, a.opts.Repo, sha, opts)
		if err != nil {
			return "", a.fail("read the statuses of "+shortSHA(sha), permStatuses, err)
		}
		for _, rs := range list {
			if rs.GetContext() == a.opts.StatusContext {
				return rs.GetState() + "\x00" + rs.GetDescription() + "\x00" + rs.GetTargetURL(), nil
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return "", nil
		}
		opts.Page = resp.NextPage
	}
}

// setVariable sets the Actions variable to "true" while frozen and deletes it otherwise.
func (a *Adapter) setVariable(ctx context.Context, frozen bool) error {
	name := a.opts.FreezeVariable
	v, _, err := a.client.Actions.GetRepoVariable(ctx, a.opts.Owner, a.opts.Repo, name)
	exists := err == nil
	if err != nil && !isStatus(err, 404) {
		return a.fail("read the Actions variable "+name, permVariables, err)
	}
	err = nil
	switch {
	case frozen && !exists:
		_, err = a.client.Actions.CreateRepoVariable(ctx, a.opts.Owner, a.opts.Repo, &gh.ActionsVariable{Name: name, Value: "true"})
		if isStatus(err, 409) { // created meanwhile by another sweep
			_, err = a.client.Actions.UpdateRepoVariable(ctx, a.opts.Owner, a.opts.Repo, &gh.ActionsVariable{Name: name, Value: "true"})
		}
	case frozen && v.Value != "true":
		_, err = a.client.Actions.UpdateRepoVariable(ctx, a.opts.Owner, a.opts.Repo, &gh.ActionsVariable{Name: name, Value: "true"})
	case !frozen && exists:
		_, err = a.client.Actions.DeleteRepoVariable(ctx, a.opts.Owner, a.opts.Repo, name)
		if isStatus(err, 404) {
			err = nil
		}
	}
	if err != nil {
		return a.fail("set the Actions variable "+name, permVariables, err)
	}
	return nil
}

// PullEvent is what a webhook tells about a pull request.
type PullEvent struct {
	Number   int
	HeadRef  string
	HeadSHA  string
	HeadRepo string // owner/name the head branch lives in (a fork's, for a fork's pull request)
}

// EnforceOnPull sets the freeze status on one pull request (a webhook: opened, reopened or
// pushed to). It returns the state set, or "" when the pull request does not touch the
// prompts.
func (a *Adapter) EnforceOnPull(ctx context.Context, ev PullEvent, f ports.FreezeEnforcement) (string, error) {
	pr := &gh.PullRequest{Number: gh.Int(ev.Number), Head: &gh.PullRequestBranch{
		Ref: gh.String(ev.HeadRef), SHA: gh.String(ev.HeadSHA), Repo: &gh.Repository{FullName: gh.String(ev.HeadRepo)},
	}}
	st := a.freezeStatus(f)
	if a.isRollback(pr) {
		st = exemptStatus
	}
	applied, err := a.enforceOnPull(ctx, pr, a.freezeStatus(f))
	if err != nil || !applied {
		return "", err
	}
	return st.state, nil
}

// EnforceOnHead sets the freeze status on a new base branch head (a webhook push).
func (a *Adapter) EnforceOnHead(ctx context.Context, sha string, f ports.FreezeEnforcement) (string, error) {
	st := a.freezeStatus(f)
	return st.state, a.setStatus(ctx, sha, st)
}

// BaseBranch is the base branch (the repository's default branch when none is configured).
func (a *Adapter) BaseBranch(ctx context.Context) (string, error) { return a.baseBranch(ctx) }

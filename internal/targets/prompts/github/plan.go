package github

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/quench-dev/quench/internal/ports"
)

// plan is a rollback worked out against one head, not yet written.
type plan struct {
	head, headTree string
	good           string // "" = the state before the first commit
	goodSubject    string
	suspects       []*gh.RepositoryCommit // the commits reverted, newest first
	headSnap       snapshot
	changes        []change
	noop           bool
	reason         string
}

// change is one path of the rollback tree: restored to its good entry, or removed.
type change struct {
	path    string
	restore bool
	good    entry // when restore
	before  entry // the head's entry (when the path exists at the head)
}

func (p *plan) goodLabel() string {
	if p.good == "" {
		return "the state before the first commit"
	}
	if p.goodSubject != "" {
		return fmt.Sprintf("%s (%s)", shortSHA(p.good), p.goodSubject)
	}
	return shortSHA(p.good)
}

// expected is the prompts snapshot the rollback commit holds.
func (p *plan) expected() snapshot {
	out := snapshot{}
	for k, v := range p.headSnap {
		out[k] = v
	}
	for _, ch := range p.changes {
		if ch.restore {
			out[ch.path] = ch.good
		} else {
			delete(out, ch.path)
		}
	}
	return out
}

func sameSnapshot(a, b snapshot) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// plan works out the rollback on top of head: which commits are suspects, the good state,
// and for each file the suspects changed, its good entry.
func (a *Adapter) plan(ctx context.Context, req ports.RollbackRequest, base string, head *gh.Commit) (*plan, error) {
	p := &plan{head: head.GetSHA(), headTree: head.GetTree().GetSHA()}
	since := req.Since
	var good *gh.Commit
	if req.Good != "" {
		var err error
		if good, err = a.gitCommit(ctx, req.Good); err != nil {
			return nil, err
		}
		since = good.GetCommitter().GetDate().Time
	}
	touching, err := a.listTouching(ctx, p.head, since, time.Time{})
	if err != nil {
		return nil, err
	}
	var later []*gh.RepositoryCommit
	p.suspects, later = splitSuspects(touching, req, good.GetSHA())
	if good == nil {
		if len(p.suspects) == 0 {
			p.noop = true
			p.reason = fmt.Sprintf("no commit on %s changed %s between %s and %s", base, a.PromptsPaths(),
				req.Since.UTC().Format(time.RFC3339), req.Until.UTC().Format(time.RFC3339))
			return p, nil
		}
		if oldest := p.suspects[len(p.suspects)-1]; len(oldest.Parents) > 0 {
			if good, err = a.gitCommit(ctx, oldest.Parents[0].GetSHA()); err != nil {
				return nil, err
			}
		}
	}
	p.good, p.goodSubject = good.GetSHA(), subject(good.GetMessage())

	goodSnap, err := a.snapshotOf(ctx, good.GetTree().GetSHA())
	if err != nil {
		return nil, err
	}
	if p.headSnap, err = a.snapshotOf(ctx, p.headTree); err != nil {
		return nil, err
	}
	// What the suspects left: the head, unless later commits touched the prompts since.
	suspectSnap := p.headSnap
	if len(later) > 0 {
		suspectSnap = goodSnap
		if len(p.suspects) > 0 {
			newest, err := a.gitCommit(ctx, p.suspects[0].GetSHA())
			if err != nil {
				return nil, err
			}
			if suspectSnap, err = a.snapshotOf(ctx, newest.GetTree().GetSHA()); err != nil {
				return nil, err
			}
		}
	}
	var conflicts []string
	for _, path := range unionPaths(goodSnap, suspectSnap) {
		g, inGood := goodSnap[path]
		s, bySuspects := suspectSnap[path]
		if inGood == bySuspects && g == s {
			continue // the suspects left this file as it was
		}
		h, atHead := p.headSnap[path]
		if atHead != bySuspects || h != s {
			conflicts = append(conflicts, path) // changed again after the suspects
			continue
		}
		p.changes = append(p.changes, change{path: path, restore: inGood, good: g, before: h})
	}
	if len(conflicts) > 0 {
		return nil, a.conflict(ctx, conflicts, later, p)
	}
	if len(p.changes) == 0 {
		p.noop = true
		p.reason = fmt.Sprintf("%s on %s already matches %s", a.PromptsPaths(), base, p.goodLabel())
	}
	return p, nil
}

// splitSuspects divides the commits touching the prompts (newest first) into the suspects
// and the later ones: those newer than req.Through when it is among them, else those
// committed after req.Until. The good commit itself is neither.
func splitSuspects(touching []*gh.RepositoryCommit, req ports.RollbackRequest, good string) (suspects, later []*gh.RepositoryCommit) {
	through := -1
	if len(req.Through) >= 7 {
		for i, c := range touching {
			if strings.HasPrefix(c.GetSHA(), req.Through) {
				through = i
				break
			}
		}
	}
	for i, c := range touching {
		if c.GetSHA() == good {
			continue
		}
		isLater := false
		switch {
		case through >= 0:
			isLater = i < through
		case !req.Until.IsZero():
			isLater = committedAt(c).After(req.Until)
		}
		if isLater {
			later = append(later, c)
		} else {
			suspects = append(suspects, c)
		}
	}
	return suspects, later
}

func unionPaths(a, b snapshot) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range []snapshot{a, b} {
		for p := range s {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// maxConflictLookups bounds the later commits read to explain a conflict.
const maxConflictLookups = 20

// conflict explains which later commits changed the files a rollback would restore.
func (a *Adapter) conflict(ctx context.Context, paths []string, later []*gh.RepositoryCommit, p *plan) error {
	by := map[string][]string{}
	for _, c := range later[:min(len(later), maxConflictLookups)] {
		files, err := a.commitFiles(ctx, c.GetSHA())
		if err != nil {
			return err
		}
		for _, f := range files {
			by[f.Path] = append(by[f.Path], fmt.Sprintf("%s %q by %s at %s", shortSHA(c.GetSHA()),
				subject(c.GetCommit().GetMessage()), authorOf(c), committedAt(c).Format(time.RFC3339)))
		}
	}
	details := make([]string, 0, len(paths))
	for _, path := range paths {
		if who := by[path]; len(who) > 0 {
			details = append(details, fmt.Sprintf("%s was changed again by %s", path, strings.Join(who, ", ")))
		} else {
			details = append(details, path+" was changed again after the suspect commits")
		}
	}
	return ports.Permanentf("conflict: restoring %s to %s would also undo later changes: %s. A human decides: revert by hand on GitHub, or run the rollback again with through set to the newest commit to undo",
		a.PromptsPaths(), p.goodLabel(), strings.Join(details, "; "))
}

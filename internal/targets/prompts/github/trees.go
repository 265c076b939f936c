package github

import (
	"context"
	"sort"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// entry is what a path points at in a tree: a blob (or a symlink or submodule).
type entry struct {
	SHA  string
	Mode string
	Type string
}

// snapshot maps every file under the prompts paths to its entry at one commit.
type snapshot map[string]entry

func (s snapshot) paths() []string {
	out := make([]string, 0, len(s))
	for p := range s {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// snapshotOf lists the files under the prompts paths in the tree rootTree. An empty
// rootTree is the state before the first commit: no files.
func (a *Adapter) snapshotOf(ctx context.Context, rootTree string) (snapshot, error) {
	out := snapshot{}
	if rootTree == "" {
		return out, nil
	}
	for _, p := range a.paths {
		if err := a.collectPath(ctx, rootTree, p, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// collectPath walks down to one prompts path level by level (one small tree per level,
// never the whole repository) and collects what is there.
func (a *Adapter) collectPath(ctx context.Context, root, p string, out snapshot) error {
	if p == "" {
		return a.collectTree(ctx, root, "", out)
	}
	parts := strings.Split(p, "/")
	sha, prefix := root, ""
	for i, name := range parts {
		tree, err := a.getTree(ctx, sha, false)
		if err != nil {
			return err
		}
		var found *gh.TreeEntry
		for _, e := range tree.Entries {
			if e.GetPath() == name {
				found = e
				break
			}
		}
		if found == nil {
			return nil // the path is absent in this commit
		}
		full := joinPath(prefix, name)
		if i == len(parts)-1 {
			if found.GetType() == "tree" {
				return a.collectTree(ctx, found.GetSHA(), full, out)
			}
			out[full] = entry{SHA: found.GetSHA(), Mode: found.GetMode(), Type: found.GetType()}
			return nil
		}
		if found.GetType() != "tree" {
			return nil // a file where a folder of the path would be: the path is absent
		}
		sha, prefix = found.GetSHA(), full
	}
	return nil
}

// collectTree adds every file below a tree. GitHub truncates a recursive listing of a
// very large tree: then this tree is read one level at a time, each sub-tree recursively.
func (a *Adapter) collectTree(ctx context.Context, sha, prefix string, out snapshot) error {
	tree, err := a.getTree(ctx, sha, true)
	if err != nil {
		return err
	}
	if !tree.GetTruncated() {
		for _, e := range tree.Entries {
			if e.GetType() != "tree" {
				out[joinPath(prefix, e.GetPath())] = entry{SHA: e.GetSHA(), Mode: e.GetMode(), Type: e.GetType()}
			}
		}
		return nil
	}
	level, err := a.getTree(ctx, sha, false)
	if err != nil {
		return err
	}
	for _, e := range level.Entries {
		full := joinPath(prefix, e.GetPath())
		if e.GetType() == "tree" {
			if err := a.collectTree(ctx, e.GetSHA(), full, out); err != nil {
				return err
			}
			continue
		}
		out[full] = entry{SHA: e.GetSHA(), Mode: e.GetMode(), Type: e.GetType()}
	}
	return nil
}

func (a *Adapter) getTree(ctx context.Context, sha string, recursive bool) (*gh.Tree, error) {
	tree, _, err := a.client.Git.GetTree(ctx, a.opts.Owner, a.opts.Repo, sha, recursive)
	if err != nil {
		return nil, a.fail("read tree "+shortSHA(sha), permContentsRead, err)
	}
	return tree, nil
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "/" + name
}

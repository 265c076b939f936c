package githubfake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// flatEntry is one non-tree entry of a tree, by full path.
type flatEntry struct {
	Hash plumbing.Hash
	Mode filemode.FileMode
}

func newRepo() *git.Repository {
	repo, err := git.Init(memory.NewStorage(), nil)
	if err != nil {
		panic(err) // an in-memory init cannot fail
	}
	return repo
}

func (f *Fake) writeBlob(content string) (plumbing.Hash, error) {
	obj := f.repo.Storer.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := io.WriteString(w, content); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return f.repo.Storer.SetEncodedObject(obj)
}

// flatten lists every file under a tree (nil: the empty tree).
func (f *Fake) flatten(treeHash plumbing.Hash) (map[string]flatEntry, error) {
	out := map[string]flatEntry{}
	if treeHash.IsZero() {
		return out, nil
	}
	tree, err := f.repo.TreeObject(treeHash)
	if err != nil {
		return nil, err
	}
	walker := object.NewTreeWalker(tree, true, nil)
	defer walker.Close()
	for {
		name, e, err := walker.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if e.Mode != filemode.Dir {
			out[name] = flatEntry{Hash: e.Hash, Mode: e.Mode}
		}
	}
}

// buildTree writes the trees for a flat file list and returns the root tree's hash.
func (f *Fake) buildTree(files map[string]flatEntry) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	children := map[string]map[string]flatEntry{}
	for p, e := range files {
		dir, rest, nested := strings.Cut(p, "/")
		if !nested {
			entries = append(entries, object.TreeEntry{Name: p, Mode: e.Mode, Hash: e.Hash})
			continue
		}
		if children[dir] == nil {
			children[dir] = map[string]flatEntry{}
		}
		children[dir][rest] = e
	}
	for dir, sub := range children {
		h, err := f.buildTree(sub)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = append(entries, object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: h})
	}
	sort.Sort(object.TreeEntrySorter(entries))
	obj := f.repo.Storer.NewEncodedObject()
	if err := (&object.Tree{Entries: entries}).Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return f.repo.Storer.SetEncodedObject(obj)
}

// writeCommit stores a commit object.
func (f *Fake) writeCommit(c *object.Commit) (plumbing.Hash, error) {
	obj := f.repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return f.repo.Storer.SetEncodedObject(obj)
}

func (f *Fake) branchHead(branch string) (plumbing.Hash, bool) {
	ref, err := f.repo.Storer.Reference(plumbing.NewBranchReferenceName(branch))
	if err != nil {
		return plumbing.ZeroHash, false
	}
	return ref.Hash(), true
}

func (f *Fake) setBranch(branch string, h plumbing.Hash) {
	if err := f.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(branch), h)); err != nil {
		panic(err) // the memory storer does not fail
	}
}

// commitFiles writes a commit on branch changing files (nil content deletes), as a push would.
func (f *Fake) commitFiles(branch, message, author string, at time.Time, files map[string]*string) (plumbing.Hash, error) {
	var parents []plumbing.Hash
	var baseTree plumbing.Hash
	if head, ok := f.branchHead(branch); ok {
		c, err := f.repo.CommitObject(head)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		parents, baseTree = []plumbing.Hash{head}, c.TreeHash
	}
	flat, err := f.flatten(baseTree)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	for p, content := range files {
		if content == nil {
			delete(flat, p)
			continue
		}
		h, err := f.writeBlob(*content)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		flat[p] = flatEntry{Hash: h, Mode: filemode.Regular}
	}
	tree, err := f.buildTree(flat)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	sig := object.Signature{Name: author, Email: emailOf(author), When: at}
	h, err := f.writeCommit(&object.Commit{Author: sig, Committer: sig, Message: message, TreeHash: tree, ParentHashes: parents})
	if err != nil {
		return plumbing.ZeroHash, err
	}
	f.setBranch(branch, h)
	return h, nil
}

func emailOf(author string) string {
	return strings.ToLower(strings.ReplaceAll(author, " ", ".")) + "@example.com"
}

// ancestors lists the commits reachable from start, newest commit date first.
func (f *Fake) ancestors(start plumbing.Hash) ([]*object.Commit, error) {
	seen := map[plumbing.Hash]bool{}
	var out []*object.Commit
	queue := []plumbing.Hash{start}
	for len(queue) > 0 {
		h := queue[0]
		queue = queue[1:]
		if seen[h] {
			continue
		}
		seen[h] = true
		c, err := f.repo.CommitObject(h)
		if err != nil {
			return nil, fmt.Errorf("commit %s: %w", h, err)
		}
		out = append(out, c)
		queue = append(queue, c.ParentHashes...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Committer.When.After(out[j].Committer.When) })
	return out, nil
}

func (f *Fake) reachable(start plumbing.Hash) (map[plumbing.Hash]bool, error) {
	out := map[plumbing.Hash]bool{}
	if start.IsZero() {
		return out, nil
	}
	commits, err := f.ancestors(start)
	for _, c := range commits {
		out[c.Hash] = true
	}
	return out, err
}

// fileChange is one file of a diff, as GitHub reports it.
type fileChange struct {
	Name, Previous, Status string
	Additions, Deletions   int
	SHA                    string
}

// diff compares two trees (zero hash: empty), with renames detected.
func (f *Fake) diff(from, to plumbing.Hash) ([]fileChange, error) {
	treeOf := func(h plumbing.Hash) (*object.Tree, error) {
		if h.IsZero() {
			return nil, nil
		}
		return f.repo.TreeObject(h)
	}
	a, err := treeOf(from)
	if err != nil {
		return nil, err
	}
	b, err := treeOf(to)
	if err != nil {
		return nil, err
	}
	changes, err := object.DiffTreeWithOptions(context.Background(), a, b, &object.DiffTreeOptions{DetectRenames: true, RenameScore: 50, RenameLimit: 100})
	if err != nil {
		return nil, err
	}
	var out []fileChange
	for _, ch := range changes {
		fc := fileChange{Name: ch.To.Name, SHA: ch.To.TreeEntry.Hash.String()}
		switch {
		case ch.From.Name == "":
			fc.Status = "added"
		case ch.To.Name == "":
			fc.Name, fc.Status, fc.SHA = ch.From.Name, "removed", ch.From.TreeEntry.Hash.String()
		case ch.From.Name != ch.To.Name:
			fc.Status, fc.Previous = "renamed", ch.From.Name
		default:
			fc.Status = "modified"
		}
		patch, err := ch.Patch()
		if err != nil {
			return nil, err
		}
		for _, st := range patch.Stats() {
			fc.Additions += st.Addition
			fc.Deletions += st.Deletion
		}
		out = append(out, fc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// commitDiff is a commit's change against its first parent.
func (f *Fake) commitDiff(c *object.Commit) ([]fileChange, error) {
	var parentTree plumbing.Hash
	if len(c.ParentHashes) > 0 {
		p, err := f.repo.CommitObject(c.ParentHashes[0])
		if err != nil {
			return nil, err
		}
		parentTree = p.TreeHash
	}
	return f.diff(parentTree, c.TreeHash)
}

// touchesPath reports whether a commit changed something under path, as GitHub's commit
// listing does: a merge counts only when it differs from every parent.
func (f *Fake) touchesPath(c *object.Commit, p string) (bool, error) {
	under := func(name string) bool { return p == "" || name == p || strings.HasPrefix(name, p+"/") }
	parents := c.ParentHashes
	if len(parents) == 0 {
		parents = []plumbing.Hash{plumbing.ZeroHash}
	}
	for _, ph := range parents {
		var parentTree plumbing.Hash
		if !ph.IsZero() {
			pc, err := f.repo.CommitObject(ph)
			if err != nil {
				return false, err
			}
			parentTree = pc.TreeHash
		}
		changes, err := f.diff(parentTree, c.TreeHash)
		if err != nil {
			return false, err
		}
		touched := false
		for _, ch := range changes {
			if under(ch.Name) || (ch.Previous != "" && under(ch.Previous)) {
				touched = true
				break
			}
		}
		if !touched {
			return false, nil
		}
	}
	return true, nil
}

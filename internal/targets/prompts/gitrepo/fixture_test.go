package gitrepo

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// now is the incident's step time in every test; commits are placed relative to it.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// fixture is a real repository on disk with a working tree, built with go-git.
type fixture struct {
	t    *testing.T
	dir  string
	repo *git.Repository
	wt   *git.Worktree
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: plumbing.Main}})
	if err != nil {
		t.Fatal(err)
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, dir: dir, repo: repo, wt: wt}
}

func text(s string) *string { return &s }

// commit writes files (nil content deletes) and commits them at the given time.
func (f *fixture) commit(msg string, at time.Time, files map[string]*string) plumbing.Hash {
	f.t.Helper()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		full := filepath.Join(f.dir, filepath.FromSlash(name))
		if files[name] == nil {
			if _, err := f.wt.Remove(name); err != nil {
				f.t.Fatalf("remove %s: %v", name, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			f.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(*files[name]), 0o644); err != nil {
			f.t.Fatal(err)
		}
		if _, err := f.wt.Add(name); err != nil {
			f.t.Fatalf("add %s: %v", name, err)
		}
	}
	sig := &object.Signature{Name: "alice", Email: "alice@example.com", When: at}
	h, err := f.wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true})
	if err != nil {
		f.t.Fatalf("commit %q: %v", msg, err)
	}
	return h
}

func (f *fixture) open(opts Options) *Repo {
	f.t.Helper()
	r, err := Open(f.dir, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// files returns path → content of every file in a commit's tree.
func (f *fixture) files(commit string) map[string]string {
	f.t.Helper()
	c, err := f.repo.CommitObject(plumbing.NewHash(commit))
	if err != nil {
		f.t.Fatal(err)
	}
	tree, err := c.Tree()
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]string{}
	err = tree.Files().ForEach(func(file *object.File) error {
		r, err := file.Reader()
		if err != nil {
			return err
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		out[file.Name] = string(b)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

// fsck checks the objects quench wrote with the real git, when it is installed.
func (f *fixture) fsck() {
	f.t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		return
	}
	out, err := exec.Command("git", "-C", f.dir, "fsck", "--strict", "--no-dangling").CombinedOutput()
	if err != nil {
		f.t.Fatalf("git fsck: %v\n%s", err, out)
	}
}

// workingState captures what the user sees: files on disk, HEAD, the status.
func (f *fixture) workingState() string {
	f.t.Helper()
	var s string
	err := filepath.Walk(f.dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() && info.Name() == ".git" {
			return filepath.SkipDir
		}
		if !info.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(f.dir, p)
			s += rel + "=" + string(b) + "\n"
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	head, err := f.repo.Head()
	if err != nil {
		f.t.Fatal(err)
	}
	index, err := os.ReadFile(filepath.Join(f.dir, ".git", "index"))
	if err != nil {
		f.t.Fatal(err)
	}
	st, err := f.wt.Status()
	if err != nil {
		f.t.Fatal(err)
	}
	return s + "HEAD=" + head.Name().String() + "@" + head.Hash().String() + "\nindex=" + string(index) + "\nstatus=" + st.String()
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func cloneBare(from, to string) (*git.Repository, error) {
	return git.PlainClone(to, true, &git.CloneOptions{URL: from})
}

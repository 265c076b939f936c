package sample_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/quench-dev/quench/internal/fixtures"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/sample"
	"github.com/quench-dev/quench/internal/targets/prompts/gitrepo"
	"github.com/quench-dev/quench/internal/targets/traffic/jsonl"
)

var anchor = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func ensure(t *testing.T, dataDir string, now time.Time) sample.Result {
	t.Helper()
	res, err := sample.Ensure(dataDir, sample.Options{Now: now, Traffic: true, Prompts: true})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSampleIsUsableByTheTargets(t *testing.T) {
	res := ensure(t, t.TempDir(), anchor)
	if res.TrafficOutcome != sample.Created || res.RepoOutcome != sample.Created {
		t.Fatalf("first start: %+v", res)
	}
	// The traffic target reads it: the incident window shows the failing primary, and
	// after the anchor the fallback serves without errors.
	src := jsonl.New(res.Traffic)
	snap, err := src.Snapshot(context.Background(), ports.SnapshotRequest{Window: 30 * time.Minute, Baseline: 24 * time.Hour, Now: anchor, Route: fixtures.Route})
	if err != nil {
		t.Fatal(err)
	}
	if snap.Headline.Requests < 60 || snap.Headline.ErrorRate < 0.2 || snap.Headline.BaselineErrorRate != 0 {
		t.Fatalf("incident window headline = %+v; want the primary's errors against a clean baseline", snap.Headline)
	}
	later, err := src.Measure(context.Background(), ports.VerifyInput{Signal: "error_rate", Route: fixtures.Route, Window: 5 * time.Minute, Now: anchor.Add(2 * time.Hour)})
	if err != nil || later.Requests == 0 || later.Value != 0 {
		t.Fatalf("two hours after the anchor: %+v, %v; want healthy traffic", later, err)
	}

	// The prompts target reads the repository: one change in the last 24h, whose parent
	// is the good prompt.
	repo, err := gitrepo.Open(res.Repo, gitrepo.Options{PromptsPath: sample.PromptsPath})
	if err != nil {
		t.Fatal(err)
	}
	commits, err := repo.Changes(context.Background(), anchor.Add(-24*time.Hour), anchor)
	if err != nil {
		t.Fatal(err)
	}
	if len(commits) != 1 || commits[0].Message != sample.BadMessage || commits[0].Parent == "" {
		t.Fatalf("changes in 24h = %+v; want the one bad prompt change", commits)
	}
}

func TestSampleIsIdempotentAndRefreshedOnlyWhenOwnAndStale(t *testing.T) {
	dataDir := t.TempDir()
	first := ensure(t, dataDir, anchor)
	traffic, _ := os.ReadFile(first.Traffic)

	again := ensure(t, dataDir, anchor.Add(time.Hour))
	if again.TrafficOutcome != sample.Current || again.RepoOutcome != sample.Current {
		t.Fatalf("restart an hour later: %+v; want both current", again)
	}
	if now, _ := os.ReadFile(first.Traffic); !bytes.Equal(now, traffic) {
		t.Fatal("a restart rewrote a current sample")
	}

	stale := ensure(t, dataDir, anchor.Add(13*time.Hour))
	if stale.TrafficOutcome != sample.Refreshed || stale.RepoOutcome != sample.Refreshed {
		t.Fatalf("restart 13h later: %+v; want both refreshed", stale)
	}
	if now, _ := os.ReadFile(first.Traffic); bytes.Equal(now, traffic) {
		t.Fatal("a stale sample was not written again")
	}
}

func TestSampleNeverOverwritesAUsersFiles(t *testing.T) {
	dataDir := t.TempDir()
	first := ensure(t, dataDir, anchor)

	// The user changed the log and committed to the repository.
	mine := []byte(`{"time":"2026-03-04T09:59:00Z","gen_ai.provider.name":"mine"}` + "\n")
	if err := os.WriteFile(first.Traffic, mine, 0o644); err != nil {
		t.Fatal(err)
	}
	repo, err := git.PlainOpen(first.Repo)
	if err != nil {
		t.Fatal(err)
	}
	wt, _ := repo.Worktree()
	if err := os.WriteFile(filepath.Join(first.Repo, "mine.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wt.Add("mine.txt")
	sig := &object.Signature{Name: "me", Email: "me@example.com", When: anchor}
	mineHead, err := wt.Commit("mine", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}

	res := ensure(t, dataDir, anchor.Add(48*time.Hour))
	if res.TrafficOutcome != sample.Kept || res.RepoOutcome != sample.Kept {
		t.Fatalf("changed sample: %+v; want both kept", res)
	}
	if got, _ := os.ReadFile(first.Traffic); !bytes.Equal(got, mine) {
		t.Fatal("the user's traffic log was overwritten")
	}
	head, err := repo.Head()
	if err != nil || head.Hash() != mineHead {
		t.Fatalf("the user's commit is gone: head %v, %v", head, err)
	}

	// A file of the same name that quench never wrote is kept too.
	other := t.TempDir()
	if err := os.MkdirAll(filepath.Join(other, sample.Dir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, sample.Dir, sample.TrafficFile), mine, 0o644); err != nil {
		t.Fatal(err)
	}
	if res := ensure(t, other, anchor); res.TrafficOutcome != sample.Kept {
		t.Fatalf("a log quench did not write: %+v", res)
	}
}

func TestSampleSkipsWhatIsConfigured(t *testing.T) {
	dataDir := t.TempDir()
	res, err := sample.Ensure(dataDir, sample.Options{Now: anchor, Traffic: false, Prompts: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Traffic != "" || res.TrafficOutcome != "" {
		t.Fatalf("traffic written though configured: %+v", res)
	}
	if _, err := os.Stat(filepath.Join(dataDir, sample.Dir, sample.TrafficFile)); !os.IsNotExist(err) {
		t.Fatalf("traffic log exists: %v", err)
	}
	if !strings.HasSuffix(res.Repo, sample.PromptsRepo) {
		t.Fatalf("repo = %q", res.Repo)
	}
}

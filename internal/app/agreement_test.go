package app

import (
	"context"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func agreementConfig(t *testing.T, approvers map[string][]string) *config.Config {
	t.Helper()
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Approvers = approvers
	return cfg
}

func TestReplicasWithDifferentApproversAreNamed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := NewConfigAgreement(db, agreementConfig(t, map[string][]string{"oncall": {"alice", "bob"}}), "worker", "worker@a/1")
		same := NewConfigAgreement(db, agreementConfig(t, map[string][]string{"oncall": {"alice", "bob"}}), "server", "server@b/2")
		other := NewConfigAgreement(db, agreementConfig(t, map[string][]string{"oncall": {"mallory"}}), "worker", "worker@c/3")

		if d, err := a.Check(ctx); err != nil || len(d) != 0 {
			t.Fatalf("first process: %v, %v; want no disagreement", d, err)
		}
		if d, err := same.Check(ctx); err != nil || len(d) != 0 {
			t.Fatalf("same configuration: %v, %v; want no disagreement", d, err)
		}
		d, err := other.Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []Disagreement{{Section: "approvers", Other: "server@b/2"}, {Section: "approvers", Other: "worker@a/1"}}
		if len(d) != 2 || !sameSet(d, want) {
			t.Fatalf("disagreements = %v, want %v", d, want)
		}
	})
}

func TestProcessesGoneQuietAreNotCompared(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	old := NewConfigAgreement(db, agreementConfig(t, map[string][]string{"oncall": {"alice"}}), "worker", "worker@old/1")
	old.now = func() time.Time { return time.Now().Add(-time.Hour) }
	if _, err := old.Check(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := NewConfigAgreement(db, agreementConfig(t, map[string][]string{"oncall": {"bob"}}), "worker", "worker@new/2")
	if d, err := fresh.Check(ctx); err != nil || len(d) != 0 {
		t.Fatalf("a process last seen an hour ago still compared: %v, %v", d, err)
	}
}

func TestSectionDigestsIgnoreMapOrderButNotContent(t *testing.T) {
	a := ConfigSections(&config.Config{Approvers: map[string][]string{"x": {"a"}, "y": {"b"}}})
	b := ConfigSections(&config.Config{Approvers: map[string][]string{"y": {"b"}, "x": {"a"}}})
	c := ConfigSections(&config.Config{Approvers: map[string][]string{"x": {"a"}, "y": {"c"}}})
	if a["approvers"] != b["approvers"] {
		t.Fatal("the same approvers digest differently")
	}
	if a["approvers"] == c["approvers"] {
		t.Fatal("different approvers digest the same")
	}
}

func sameSet(got, want []Disagreement) bool {
	seen := map[Disagreement]bool{}
	for _, d := range got {
		seen[d] = true
	}
	for _, d := range want {
		if !seen[d] {
			return false
		}
	}
	return len(got) == len(want)
}

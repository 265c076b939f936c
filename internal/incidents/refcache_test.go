package incidents

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/workflows"
)

// `incident show ID` then `incident approve ID` (and a second decision on the same ID)
// ask visibility once: the answer is remembered.
func TestDecideOnAShortIDLooksItUpOnce(t *testing.T) {
	s, ft := newRememberingService(t)
	ft.listed = []string{id}
	ft.statuses[id] = waiting(workflows.PendingApproval{StepID: "failback", Digest: digestA})
	for i := range 2 {
		d := workflows.Decision{Approver: "bob", Verdict: workflows.VerdictApprove, StepID: "failback", Digest: digestA}
		if _, err := s.Decide(context.Background(), "1a2b3c", d); err != nil {
			t.Fatalf("decision %d: %v", i+1, err)
		}
	}
	// The step and whole digest the approver was shown are signed as they are: the workflow
	// compares them with what it waits on, so no status query comes first.
	if len(ft.listReqs) != 1 || len(ft.queries) != 0 || len(ft.updates) != 2 {
		t.Fatalf("%d visibility lookups, %d status queries and %d decisions, want 1, 0 and 2", len(ft.listReqs), len(ft.queries), len(ft.updates))
	}
	for _, u := range ft.updates {
		if u.WorkflowID != id {
			t.Fatalf("decision sent to %s, want %s", u.WorkflowID, id)
		}
	}
}

// An incident this Service started is found by its short ID without visibility, which may
// not list it yet.
func TestStartedIncidentNeedsNoLookup(t *testing.T) {
	s, ft := newRememberingService(t)
	started, err := s.Start(context.Background(), StartRequest{Runbook: "provider-outage", Key: "ticket-1", Source: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Resolve(context.Background(), started.ShortID)
	if err != nil || got != started.IncidentID {
		t.Fatalf("got %q, %v; want %s", got, err, started.IncidentID)
	}
	if len(ft.listReqs) != 0 {
		t.Fatalf("%d visibility lookups, want none", len(ft.listReqs))
	}
}

// Neither a miss nor an ambiguous answer is remembered: each is asked again.
func TestAmbiguousAndMissingShortIDsAreAskedAgain(t *testing.T) {
	s, ft := newRememberingService(t)
	ft.listed = []string{"inc-a-1abcdef", "inc-b-2abcdef"}
	for range 2 {
		if _, err := s.Resolve(context.Background(), "abcdef"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "ambiguous") {
			t.Fatalf("err %v, want ambiguous", err)
		}
	}
	ft.listed = nil
	if _, err := s.Resolve(context.Background(), "abcdef"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err %v, want not found", err)
	}
	ft.listed = []string{"inc-a-1abcdef"}
	if got, err := s.Resolve(context.Background(), "abcdef"); err != nil || got != "inc-a-1abcdef" {
		t.Fatalf("got %q, %v", got, err)
	}
	if len(ft.listReqs) != 4 {
		t.Fatalf("%d visibility lookups, want 4", len(ft.listReqs))
	}
}

// A start whose short ID is remembered for another incident makes the short ID ambiguous
// here at once: visibility decides, and its single answer (it may lag the start) is not
// remembered over the collision.
func TestCollidingStartSendsTheShortIDBackToVisibility(t *testing.T) {
	s, ft := newRememberingService(t)
	started, err := s.Start(context.Background(), StartRequest{Runbook: "provider-outage", Key: "ticket-1", Source: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	other := "inc-manual-investigation-00000000" + started.ShortID
	s.refCache().started(other)
	ft.listed = []string{started.IncidentID} // visibility has not seen the second start yet
	for range 2 {
		if got, err := s.Resolve(context.Background(), started.ShortID); err != nil || got != started.IncidentID {
			t.Fatalf("got %q, %v", got, err)
		}
	}
	ft.listed = []string{started.IncidentID, other}
	if _, err := s.Resolve(context.Background(), started.ShortID); !errors.Is(err, ErrInvalid) {
		t.Fatalf("err %v, want ambiguous", err)
	}
	if len(ft.listReqs) != 3 {
		t.Fatalf("%d visibility lookups, want 3", len(ft.listReqs))
	}
}

// Ingest prepares its starts here and sends them itself: a prepared incident whose short ID
// is remembered for another one sends that short ID back to visibility too.
func TestPreparedCollisionSendsTheShortIDBackToVisibility(t *testing.T) {
	s, ft := newRememberingService(t)
	req := StartRequest{Runbook: "provider-outage", Key: "alert-group-1", Source: "alertmanager"}
	want, err := IncidentID("provider-outage", req)
	if err != nil {
		t.Fatal(err)
	}
	other := "inc-manual-investigation-00000000" + ShortID(want)
	s.refCache().started(other)
	if _, _, err := s.Prepare(req); err != nil {
		t.Fatal(err)
	}
	ft.listed = []string{other, want}
	if _, err := s.Resolve(context.Background(), ShortID(want)); !errors.Is(err, ErrInvalid) || len(ft.listReqs) != 1 {
		t.Fatalf("err %v after %d lookups, want ambiguous after 1", err, len(ft.listReqs))
	}
}

func TestRefCacheExpiresAndStaysBounded(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newRefCache()
	c.now = func() time.Time { return now }
	c.max = 3
	c.started("inc-a-000001")
	if got, ok := c.get("000001"); !ok || got != "inc-a-000001" {
		t.Fatalf("got %q, %v", got, ok)
	}
	now = now.Add(c.ttl)
	if _, ok := c.get("000001"); ok {
		t.Fatal("an expired entry was used")
	}
	for i := range 10 {
		c.lookedUp(fmt.Sprintf("%06x", i), fmt.Sprintf("inc-a-%06x", i))
		if len(c.entries) > c.max {
			t.Fatalf("%d entries, bound %d", len(c.entries), c.max)
		}
	}
	if got, ok := c.get("000009"); !ok || got != "inc-a-000009" {
		t.Fatalf("the newest entry: got %q, %v", got, ok)
	}
	// A search attribute that disagrees with the workflow ID is not remembered.
	c.lookedUp("abcdef", "inc-a-123456")
	if _, ok := c.get("abcdef"); ok {
		t.Fatal("remembered a short ID its workflow ID does not end with")
	}
}

// newRememberingService is newService with short IDs remembered, as quench dev has it.
func newRememberingService(t *testing.T) (*Service, *fakeTemporal) {
	s, ft := newService(t)
	s.RememberShortIDs = true
	return s, ft
}

// Among replicas (quench server) nothing is remembered: another server may start an
// incident with the same short ID, and only visibility can say the ID is ambiguous.
func TestServerAmongReplicasAsksVisibilityEachTime(t *testing.T) {
	s, ft := newService(t)
	ft.listed = []string{id}
	for range 2 {
		if got, err := s.Resolve(context.Background(), "1a2b3c"); err != nil || got != id {
			t.Fatalf("got %q, %v; want %s", got, err, id)
		}
	}
	ft.listed = []string{id, "inc-other-00000000001a2b3c"}
	if _, err := s.Resolve(context.Background(), "1a2b3c"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "ambiguous") {
		t.Fatalf("after another server started a colliding incident: %v, want ambiguous", err)
	}
	if len(ft.listReqs) != 3 {
		t.Fatalf("%d visibility lookups, want 3 (one per resolve)", len(ft.listReqs))
	}
}

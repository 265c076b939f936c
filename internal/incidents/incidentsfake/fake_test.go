package incidentsfake

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

func TestFakeRecordsAndInjects(t *testing.T) {
	f := New(nil)
	ctx := context.Background()
	s, err := f.Start(ctx, incidents.StartRequest{Runbook: "provider-outage", Requester: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Status(ctx, s.ShortID)
	if err != nil || st.IncidentID != s.IncidentID || len(st.Steps) == 0 || st.Steps[0].State != workflows.StepPending {
		t.Fatalf("status %+v, %v", st, err)
	}
	boom := errors.New("boom")
	f.Fail("Status", boom)
	if _, err := f.Status(ctx, s.ShortID); !errors.Is(err, boom) {
		t.Fatalf("injected error: %v", err)
	}
	f.Fail("Status", nil)
	if _, err := f.Status(ctx, s.ShortID); err != nil {
		t.Fatalf("cleared error: %v", err)
	}
	if got := strings.Join(f.Methods(), ","); got != "Start,Status,Status,Status" {
		t.Fatalf("calls %s", got)
	}
}

func TestFakeExpandsLikeTheRealClient(t *testing.T) {
	f := New(nil)
	f.Add(workflows.Status{IncidentID: "inc-a-000000abcdef"})
	f.Add(workflows.Status{IncidentID: "inc-b-111111abcdef"})
	_, err := f.Resolve(context.Background(), "abcdef")
	if err == nil || !strings.Contains(err.Error(), "ambiguous") || !errors.Is(err, incidents.ErrInvalid) {
		t.Fatalf("ambiguous short ID: %v", err)
	}
	if _, err := f.Resolve(context.Background(), "123456"); !errors.Is(err, incidents.ErrNotFound) {
		t.Fatalf("unknown short ID: %v", err)
	}
	if _, err := f.Status(context.Background(), "inc-c-1"); !errors.Is(err, incidents.ErrNotFound) {
		t.Fatalf("unknown full ID: %v", err)
	}
}

func TestFakeStartChecksRoutes(t *testing.T) {
	f := New(nil)
	f.Routes = incidents.StaticRoutes{"chat"}
	_, err := f.Start(context.Background(), incidents.StartRequest{Runbook: "provider-outage", Params: map[string]string{"route": "nope"}})
	if !errors.Is(err, incidents.ErrInvalid) || !strings.Contains(err.Error(), "known routes: chat") {
		t.Fatalf("unknown route: %v", err)
	}
	if rows, _ := f.List(context.Background(), incidents.ListFilter{}); len(rows) != 0 {
		t.Fatalf("a refused start stored %d incidents", len(rows))
	}
}

package cmdutil

import (
	"errors"
	"testing"

	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/runbooks"
)

// Reads (list, show, watch, freeze) do not load the runbook library: compiling it costs
// more than the Temporal call they make, and a broken runbooks dir must not stop them.
// The service that starts incidents (bench) still loads it.
func TestReadsDoNotLoadTheRunbookLibrary(t *testing.T) {
	t.Setenv("QUENCH_CONFIG", "")
	f := New()
	loaded := 0
	f.Runbooks = func() (*runbooks.Library, error) { loaded++; return nil, errors.New("runbooks_dir: broken") }
	f.Temporal = func() (client.Client, error) { return nil, nil }
	if _, err := f.IncidentsClient(); err != nil || loaded != 0 {
		t.Fatalf("IncidentsClient: %v, runbook library loaded %d times; want it not loaded", err, loaded)
	}
	if _, err := f.Incidents(); err == nil || loaded != 1 {
		t.Fatalf("Incidents: %v, loaded %d times; want the library's error", err, loaded)
	}
}

package activities_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/evidence"
	"github.com/quench-dev/quench/internal/fixtures"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/traffic/jsonl"
)

// The snapshot's outputs name the request model's response model in the baseline and now
// (what silent-model-change pins back to), and the signals that judge one mitigation
// refuse a measurement without what they judge.
func TestTrafficSnapshotNamesResponseModelsAndChangeSignalsNeedTheirSubject(t *testing.T) {
	fx, err := fixtures.Generate(fixtures.SilentModelChange, fixtures.Options{Now: now, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	paths, err := fixtures.Write(t.TempDir(), fx)
	if err != nil {
		t.Fatal(err)
	}
	store, err := evidence.Open(filepath.Join(t.TempDir(), "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, activities.Deps{Traffic: jsonl.New(paths.Traffic), Evidence: store})
	res := mustRun(t, env, step(activities.ActionTrafficSnapshot, "evidence",
		map[string]string{"window": "30m", "baseline": "24h", "route": fixtures.Route, "request_model": fixtures.RequestModel}))
	if res.Outputs["request_model"] != fixtures.RequestModel || res.Outputs["baseline_response_model"] != fixtures.BaselineModel ||
		res.Outputs["response_model"] != fixtures.ChangedModel {
		t.Fatalf("snapshot outputs %v", res.Outputs)
	}

	for _, in := range []ports.VerifyInput{
		{Signal: ports.SignalModelDrift, Model: fixtures.RequestModel},
		{Signal: ports.SignalModelDrift, PinnedModel: fixtures.BaselineModel},
		{Signal: ports.SignalKeyServed},
	} {
		in.IncidentID, in.Now, in.Window = incidentID, now, time.Minute
		_, err := env.ExecuteActivity(activities.VerifyActivity, in)
		assertNonRetryable(t, err, activities.ErrTypeInvalidParams, "needs")
	}
}

package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/quench-dev/quench/internal/fixtures"
	"github.com/quench-dev/quench/internal/ingest"
	"github.com/quench-dev/quench/workflows"
)

// routeBody is GET /v1/routes/chat without what every change moves (version, time, who).
func (s *storyRun) routeBody(t *testing.T) []byte {
	t.Helper()
	resp, err := http.Get(s.base + "/v1/routes/" + fixtures.Route)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET route: %d %s", resp.StatusCode, data)
	}
	delete(m, "version")
	delete(m, "updated_at")
	delete(m, "updated_by")
	out, _ := json.Marshal(m)
	return out
}

// The silent model change on quench dev, with the alert saying which dated version the
// alias answered with before (a pin_to annotation): the embedded routing table can pin, so
// the runbook pins the alias with approval instead of switching provider, the pinned
// version answers afterwards (the verify passes), and the close lifts the pin, leaving the
// route as it was byte for byte.
func TestStoriesSilentModelChangePinsWhereTheGatewayCan(t *testing.T) {
	s := startMitigationStory(t, fixtures.SilentModelChange, false)
	var payload map[string]any
	if err := json.Unmarshal(s.fx.Alert, &payload); err != nil {
		t.Fatal(err)
	}
	for _, a := range payload["alerts"].([]any) {
		al := a.(map[string]any)
		ann, _ := al["annotations"].(map[string]any)
		if ann == nil {
			ann = map[string]any{}
		}
		ann["pin_to"] = fixtures.BaselineModel
		al["annotations"] = ann
	}
	body, _ := json.Marshal(payload)
	before := s.routeBody(t)

	resp, err := http.Post(s.base+"/hooks/alertmanager", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var hr ingest.HookResponse
	err = json.NewDecoder(resp.Body).Decode(&hr)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || len(hr.Incidents) != 1 || hr.Incidents[0].Result != "started" {
		t.Fatalf("POST /hooks/alertmanager: %d %+v %v", resp.StatusCode, hr, err)
	}
	inc := hr.Incidents[0]
	w := s.dev.watch(t, inc.IncidentID)

	w.waitFor(t, workflows.EventApprovalAsked, "pin")
	st := s.status(t, inc.ShortID)
	if sw := stepOf(t, st, "switch"); sw.State != workflows.StepPending {
		t.Fatalf("the switch is %s before the pin is decided", sw.State)
	}
	if !bytes.Contains([]byte(st.Pending[0].Prompt), []byte(fixtures.BaselineModel)) {
		t.Errorf("the approver is not shown the version to pin: %q", st.Pending[0].Prompt)
	}
	if got := s.routeBody(t); !bytes.Equal(got, before) {
		t.Fatalf("pinned before the approval: %s", got)
	}
	s.dev.mustQuench(t, "incident", "approve", inc.ShortID, "--as", "bob", "--reason", "keep the model we tested")
	w.waitFor(t, workflows.EventStepDone, "pin")
	want := `"pinned_models":{"` + fixtures.RequestModel + `":"` + fixtures.BaselineModel + `"}`
	if got := s.routeBody(t); !bytes.Contains(got, []byte(want)) {
		t.Fatalf("route after the approved pin: %s, want %s", got, want)
	}
	if got := s.route(t); got.Provider != fixtures.PrimaryProvider {
		t.Fatalf("the pin moved the route off its provider: %+v", got)
	}
	if v := w.waitFor(t, workflows.EventVerify, "pin"); v["data"].(map[string]any)["result"] != "passed" {
		t.Fatalf("the pin's verify on traffic answered by the pinned version: %v", v)
	}

	w.waitFor(t, workflows.EventStepStarted, "recovered")
	if sw := stepOf(t, s.status(t, inc.ShortID), "switch"); sw.State != workflows.StepSkipped {
		t.Fatalf("the switch is %s where the gateway pinned", sw.State)
	}
	s.dev.mustQuench(t, "incident", "resolve", inc.ShortID, "--as", "alice", "--reason", "provider rollback announced")
	w.waitFor(t, workflows.EventApprovalAsked, "pin")
	s.dev.mustQuench(t, "incident", "approve", inc.ShortID, "--as", "bob")
	w.waitFor(t, workflows.EventClosed, "")
	if got := s.routeBody(t); !bytes.Equal(got, before) {
		t.Fatalf("the unpin did not restore the route byte for byte:\nbefore %s\nafter  %s", before, got)
	}
	if got := undoStates(s.status(t, inc.ShortID)); !slices.Equal(got, []string{"pin:gateway.unpin_model:done"}) {
		t.Fatalf("undo stack %v", got)
	}
	recordClosed(t, s.dev, inc.IncidentID, "silent-model-change-pinned")
}

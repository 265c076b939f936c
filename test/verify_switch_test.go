package e2e

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/fixtures"
	"github.com/quench-dev/quench/internal/targets/gateway/portkey/portkeyfake"
	"github.com/quench-dev/quench/workflows"
)

// portkeyChat is route chat as a Portkey fallback config over the story's two providers.
const portkeyChat = `{"strategy":{"mode":"fallback"},"targets":[{"virtual_key":"primary"},{"virtual_key":"fallback"}]}`

// startSwitchStory runs silent-model-change on quench dev with a Portkey gateway (its
// stateful fake), which cannot pin a model: the runbook switches provider instead. The
// traffic after the incident window is the fallback's, healthy or, with failing, failing
// about 4 in 10.
func startSwitchStory(t *testing.T, failing bool) (*storyRun, *portkeyfake.Server) {
	t.Helper()
	pk := portkeyfake.New("pk-e2e-switch", map[string]string{"pc-chat": portkeyChat})
	t.Cleanup(pk.Close)
	t.Setenv("QUENCH_E2E_PORTKEY_KEY", "pk-e2e-switch")
	conf := filepath.Join(t.TempDir(), "quench.yaml")
	writeFile(t, conf, fmt.Sprintf("gateway:\n  kind: portkey\n  portkey: {url: %q, api_key: env:QUENCH_E2E_PORTKEY_KEY, routes: {chat: pc-chat}}\n", pk.URL))
	s := startStoryWith(t, fixtures.SilentModelChange, fixtures.Options{Now: time.Now(), After: 15 * time.Minute, AfterEvery: 200 * time.Millisecond,
		AfterSwitched: true, FallbackFailing: failing}, "--config", conf, "--speed", mitigationSpeed)
	return s, pk
}

// approveSwitch fires the alert and approves the provider switch the runbook asks for
// (not a pin: Portkey cannot pin).
func approveSwitch(t *testing.T, s *storyRun) (string, *watcher) {
	t.Helper()
	inc := s.fireAlert(t, "silent-model-change")
	w := s.dev.watch(t, inc.IncidentID)
	w.waitFor(t, workflows.EventApprovalAsked, "switch")
	st := s.status(t, inc.ShortID)
	if pin := stepOf(t, st, "pin"); pin.State != workflows.StepSkipped {
		t.Fatalf("pin is %s on a gateway that cannot pin", pin.State)
	}
	if p := st.Pending[0].Prompt; !strings.Contains(p, "Switch it to fallback") {
		t.Errorf("the approver is not asked to switch: %q", p)
	}
	s.dev.mustQuench(t, "incident", "approve", inc.ShortID, "--as", "bob", "--reason", "the fallback keeps its model")
	w.waitFor(t, workflows.EventStepDone, "switch")
	return inc.ShortID, w
}

// TestStoriesSilentModelChangeSwitchesWhereTheGatewayCannotPin: on Portkey the runbook
// switches provider with approval; the fallback serves the requests sent after the switch
// well, so the verify passes on them; closing asks before going back and restores the
// config byte for byte.
func TestStoriesSilentModelChangeSwitchesWhereTheGatewayCannotPin(t *testing.T) {
	s, pk := startSwitchStory(t, false)
	before := pk.Config("pc-chat")
	id, w := approveSwitch(t, s)
	if got := pk.Config("pc-chat"); !bytes.Contains(got, []byte(`"targets":[{"virtual_key":"fallback"}`)) {
		t.Fatalf("Portkey config after the switch: %s", got)
	}
	if failed, _ := checkVerdict(t, w.waitFor(t, workflows.EventVerify, "switch"), "passed"); failed != 0 {
		t.Fatalf("passed with %d failures on a healthy fallback", failed)
	}
	w.waitFor(t, workflows.EventStepStarted, "recovered")
	s.dev.mustQuench(t, "incident", "resolve", id, "--as", "alice", "--reason", "provider rolled the model back")
	w.waitFor(t, workflows.EventApprovalAsked, "switch")
	s.dev.mustQuench(t, "incident", "approve", id, "--as", "bob")
	w.waitFor(t, workflows.EventClosed, "")
	if got := pk.Config("pc-chat"); !bytes.Equal(got, before) {
		t.Fatalf("the config after close:\nbefore %s\nafter  %s", before, got)
	}
}

// TestStoriesSilentModelChangeSwitchFallbackAlsoFailing: the fallback fails too. On the
// requests sent after the switch the verify fails: the switch is reverted (the config byte
// for byte as before) and SRE is paged.
func TestStoriesSilentModelChangeSwitchFallbackAlsoFailing(t *testing.T) {
	s, pk := startSwitchStory(t, true)
	before := pk.Config("pc-chat")
	id, w := approveSwitch(t, s)

	failed, total := checkVerdict(t, w.waitFor(t, workflows.EventVerify, "switch"), "failed")
	if float64(failed)/float64(total) < 0.05 {
		t.Fatalf("failed at %d of %d: below the threshold", failed, total)
	}
	w.waitFor(t, workflows.EventEscalated, "switch")
	if got := pk.Config("pc-chat"); !bytes.Equal(got, before) {
		t.Fatalf("the switch was not reverted:\nbefore %s\nafter  %s", before, got)
	}
	if sw := stepOf(t, s.status(t, id), "switch"); sw.State != workflows.StepReverted {
		t.Fatalf("switch after the failed verify: %+v", sw)
	}
	w.waitFor(t, workflows.EventStepStarted, "recovered")
	s.dev.mustQuench(t, "incident", "abort", id, "--as", "alice", "--reason", "both providers answer badly; handled by hand")
	w.waitFor(t, workflows.EventClosed, "")
}

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/cli/dev"
	"github.com/quench-dev/quench/internal/devstack"
)

// uiOf is the Web UI address a running quench dev wrote into its data dir.
func uiOf(t *testing.T, dataDir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, dev.AddressFile))
	if err != nil {
		t.Fatal(err)
	}
	var addrs devstack.Addresses
	if err := json.Unmarshal(data, &addrs); err != nil || addrs.UI == "" {
		t.Fatalf("%s = %s (%v): want the Web UI's address", dev.AddressFile, data, err)
	}
	return addrs.UI
}

// uiWrites asks the Web UI's settings whether its write actions are on (every switch must
// agree), and tries a terminate through the UI server's API.
func uiWrites(t *testing.T, ui string) (allowed bool, terminateStatus int) {
	t.Helper()
	resp, err := http.Get(ui + "/api/v1/settings")
	if err != nil {
		t.Fatal(err)
	}
	var settings map[string]any
	err = json.NewDecoder(resp.Body).Decode(&settings)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	switches := []string{"DisableWriteActions", "WorkflowTerminateDisabled", "WorkflowCancelDisabled", "WorkflowSignalDisabled",
		"WorkflowUpdateDisabled", "WorkflowResetDisabled", "BatchActionsDisabled", "StartWorkflowDisabled"}
	disabled := 0
	for _, s := range switches {
		if settings[s] == true {
			disabled++
		}
	}
	if disabled != 0 && disabled != len(switches) {
		t.Fatalf("the UI's write switches disagree: %v", settings)
	}
	req, _ := http.NewRequest(http.MethodPost, ui+"/api/v1/namespaces/default/workflows/no-such-incident/terminate", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer x") // what a script sends; the UI server skips CSRF for it
	tr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	tr.Body.Close()
	return disabled == 0, tr.StatusCode
}

// A second quench dev on a data dir in use exits at once, names the first one, and
// changes nothing: the live routing table keeps its bytes and mtime although the second
// one's config lists other routes. The first one's Web UI is read-only.
func TestSecondDevOnADataDirInUseChangesNothing(t *testing.T) {
	cfg := newDevConfig(t, "--no-ui=false", "--ui-port", "0")
	first := startDev(t, cfg)
	if !strings.Contains(first.logs.String(), "read-only: terminate, cancel, signal, update, reset, start and batch are off (--ui-write-actions turns them on)") {
		t.Errorf("the summary does not say the Web UI is read-only:\n%s", first.logs.String())
	}
	if allowed, status := uiWrites(t, uiOf(t, cfg.DataDir)); allowed || status != http.StatusMethodNotAllowed {
		t.Errorf("Web UI without --ui-write-actions: writes allowed %v, terminate answered %d; want off and 405", allowed, status)
	}

	routesOf := func() (string, string) {
		resp, err := http.Get("http://" + first.http + "/v1/routes")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.Header.Get("ETag"), string(body)
	}
	beforeTag, before := routesOf()
	other := filepath.Join(t.TempDir(), "quench.yaml")
	if err := os.WriteFile(other, []byte("gateway:\n  routes:\n    chat: [other, primary]\n    search: [a, b]\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	second := runQuench(t, "--config", other, "dev", "--data-dir", cfg.DataDir, "--temporal-port", "0", "--no-ui", "--http", "127.0.0.1:0")
	if second.ExitCode == 0 {
		t.Fatalf("a second quench dev on a data dir in use started:\n%s%s", second.Stdout, second.Stderr)
	}
	want := fmt.Sprintf("data dir %s is in use by quench dev (pid %d, running since ", cfg.DataDir, first.cmd.Process.Pid)
	for _, w := range []string{want, "stop that process or pass another --data-dir"} {
		if !strings.Contains(second.Stderr, w) {
			t.Errorf("the refusal does not say %q:\n%s", w, second.Stderr)
		}
	}
	if strings.Contains(second.Stdout, "is ready") {
		t.Errorf("the refused quench dev printed a summary:\n%s", second.Stdout)
	}

	if afterTag, after := routesOf(); afterTag != beforeTag || after != before {
		t.Fatalf("the refused quench dev changed the live routing table:\nbefore (%s): %s\nafter (%s): %s", beforeTag, before, afterTag, after)
	}
	resp, err := http.Get("http://" + first.http + "/v1/routes/search")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /v1/routes/search on the first quench dev = %d; want 404 (the second one's route must not exist)", resp.StatusCode)
	}

	// Once the first has stopped, the data dir is free again.
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	startDev(t, devConfig{DataDir: cfg.DataDir})
}

// With --ui-write-actions the Web UI may change workflows, and the summary says so.
func TestUIWriteActionsFlagTurnsThemOn(t *testing.T) {
	cfg := newDevConfig(t, "--no-ui=false", "--ui-port", "0", "--ui-write-actions")
	dev := startDev(t, cfg)
	if !strings.Contains(dev.logs.String(), "write actions ON (--ui-write-actions)") {
		t.Errorf("the summary does not say the Web UI writes:\n%s", dev.logs.String())
	}
	// The terminate reaches Temporal, which has no such workflow.
	allowed, status := uiWrites(t, uiOf(t, cfg.DataDir))
	if !allowed || status != http.StatusNotFound {
		t.Errorf("Web UI with --ui-write-actions: writes allowed %v, terminate answered %d; want on and 404 from Temporal", allowed, status)
	}
}

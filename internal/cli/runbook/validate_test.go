package runbook

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/gateway/portkey"
	"github.com/quench-dev/quench/internal/targets/gateway/routetable"
)

const goodRunbook = "name: %s\ntitle: Fine\nsteps:\n  - id: tell\n    action: notify\n    with: {text: hi}\n"

func writeRunbooks(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestValidateDirectories(t *testing.T) {
	good := strings.Replace(goodRunbook, "%s", "good", 1)
	for _, tc := range []struct {
		name    string
		files   map[string]string
		format  string
		exit    int // 0 or 1
		stdout  []string
		stderr  []string
		results int // -o json: entries
	}{
		{name: "all good", files: map[string]string{"a.yaml": good, "b.yml": strings.Replace(goodRunbook, "%s", "other", 1), "notes.txt": "not a runbook"},
			stdout: []string{"a.yaml: ok (good, 1 steps)", "b.yml: ok (other, 1 steps)"}},
		{name: "one bad", files: map[string]string{"a.yaml": good, "bad.yaml": "name: bad\ntitle: B\nseverity: urgent\nsteps:\n  - id: tell\n    action: notfy\n"},
			exit: 1, stdout: []string{"a.yaml: ok"}, stderr: []string{"bad.yaml:3:", `severity "urgent"`, "bad.yaml:6:", `"notify"`}},
		{name: "duplicate names", files: map[string]string{"a.yaml": good, "b.yaml": good},
			exit: 1, stdout: []string{"a.yaml: ok"}, stderr: []string{"b.yaml: name: runbook \"good\" is already defined in"}},
		{name: "empty directory", files: map[string]string{}, exit: 1, stderr: []string{"no runbook files"}},
		{name: "json", files: map[string]string{"a.yaml": good, "bad.yaml": "name: bad\ntitle: B\nsteps: []\n"},
			format: cmdutil.FormatJSON, exit: 1, results: 2, stdout: []string{`"ok": true`, `"ok": false`, `"problems"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeRunbooks(t, tc.files)
			io, _, out, errOut := cmdutil.Test()
			err := validateRun(&ValidateOptions{IO: io, Files: []string{dir}, Format: tc.format})
			var exit *cmdutil.ExitError
			if tc.exit == 0 && err != nil {
				t.Fatalf("err %v, want success", err)
			}
			if tc.exit == 1 && (!errors.As(err, &exit) || exit.Code != 1) {
				t.Fatalf("err %v, want exit 1", err)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(errOut.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			if tc.format == cmdutil.FormatJSON {
				var got []Validated
				if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got) != tc.results {
					t.Fatalf("json: %v, %d results, want %d:\n%s", err, len(got), tc.results, out)
				}
				if errOut.Len() != 0 {
					t.Errorf("-o json keeps problems in the JSON, stderr: %s", errOut)
				}
			}
		})
	}
}

func TestValidateFilesAndDirsTogether(t *testing.T) {
	dir := writeRunbooks(t, map[string]string{"a.yaml": strings.Replace(goodRunbook, "%s", "a", 1)})
	io, _, out, _ := cmdutil.Test()
	if err := validateRun(&ValidateOptions{IO: io, Files: []string{dir, "../../../runbooks/builtin/provider-outage.yaml"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "a.yaml: ok") || !strings.Contains(out.String(), "provider-outage.yaml: ok") {
		t.Fatalf("stdout:\n%s", out)
	}
}

// On a gateway that cannot block, a runbook with gateway.block is a problem before any
// incident runs; a step guarded by incident.gateway is not.
func TestValidateChecksTheGateway(t *testing.T) {
	blocker := "name: blocker\ntitle: Block\nsteps:\n  - id: block\n    action: gateway.block\n    with: {route: chat, key: agent-7}\n"
	guarded := "name: guarded\ntitle: Pin or switch\nsteps:\n" +
		"  - id: pin\n    action: gateway.pin_model\n    when: incident.gateway.pin_model\n    with: {route: chat, model: gpt-4o, to: gpt-4o-2024-08-06}\n" +
		"  - id: switch\n    action: gateway.switch\n    when: '!incident.gateway.pin_model'\n    with: {route: chat, to: fallback}\n"
	typo := "name: typo\ntitle: Typo\nsteps:\n  - id: pin\n    action: gateway.pin_model\n    when: incident.gateway.pin_modle\n    with: {route: chat, model: gpt-4o, to: gpt-4o-2024-08-06}\n"
	dir := writeRunbooks(t, map[string]string{"blocker.yaml": blocker, "guarded.yaml": guarded, "typo.yaml": typo})
	portkeyGateway := func() (string, ports.CapabilityReporter, error) { return "Portkey", portkey.Capabilities, nil }

	io, _, out, errOut := cmdutil.Test()
	err := validateRun(&ValidateOptions{IO: io, Files: []string{dir}, Gateway: portkeyGateway})
	var exit *cmdutil.ExitError
	if !errors.As(err, &exit) || exit.Code != 1 {
		t.Fatalf("want exit 1, got %v", err)
	}
	if !strings.Contains(errOut.String(), "blocker.yaml:4") || !strings.Contains(errOut.String(), "cannot run on the configured gateway") ||
		!strings.Contains(errOut.String(), "(gateway: Portkey)") {
		t.Errorf("the block step is not reported with its line and the gateway: %s", errOut)
	}
	if !strings.Contains(out.String(), "guarded.yaml: ok") {
		t.Errorf("a guarded step must pass: %s / %s", out, errOut)
	}
	if !strings.Contains(errOut.String(), `incident.gateway.pin_modle: the gateway's capabilities are`) {
		t.Errorf("a misspelt capability is not reported: %s", errOut)
	}

	// The embedded routing table can do everything: only the typo remains.
	io, _, _, errOut = cmdutil.Test()
	tableGateway := func() (string, ports.CapabilityReporter, error) { return "table", routetable.Capabilities, nil }
	_ = validateRun(&ValidateOptions{IO: io, Files: []string{dir}, Gateway: tableGateway})
	if strings.Contains(errOut.String(), "blocker.yaml") {
		t.Errorf("the routing table can block: %s", errOut)
	}
}

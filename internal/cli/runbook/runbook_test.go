package runbook

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/runbooks"
)

func library(t *testing.T) func() (*runbooks.Library, error) {
	t.Helper()
	lib, err := runbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	return func() (*runbooks.Library, error) { return lib, nil }
}

func TestPlanShowsGatesAndChangesNothing(t *testing.T) {
	io, _, out, _ := cmdutil.Test()
	err := planRun(&PlanOptions{IO: io, Runbooks: library(t), Name: "provider-outage", Params: []string{"route=search"}, Format: cmdutil.FormatTable})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"failover  gateway.switch  (CHANGES THINGS)", "route=search", "failback  gateway.restore", "approval: sre", "nothing is changed",
		"verify:   error_rate below 0.05 over at least 20 requests sent after the change, within 5m0s (checked once step evidence ended), else revert and escalate"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
}

func TestPlanJSONRendersParams(t *testing.T) {
	io, _, out, _ := cmdutil.Test()
	if err := planRun(&PlanOptions{IO: io, Runbooks: library(t), Name: "provider-outage", Params: []string{"route=search", "to=anthropic"}, Format: cmdutil.FormatJSON}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Steps []runbooks.PlannedStep `json:"steps"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Steps[0].Params["route"] != "search" || got.Steps[0].Params["to"] != "anthropic" {
		t.Fatalf("failover params %v", got.Steps[0].Params)
	}
}

func TestPlanRefusesBadInput(t *testing.T) {
	for name, opts := range map[string]PlanOptions{
		"unknown runbook": {Name: "nope"},
		"unknown param":   {Name: "provider-outage", Params: []string{"rout=x"}},
		"malformed param": {Name: "provider-outage", Params: []string{"route"}},
		"missing alert":   {Name: "provider-outage", AlertFile: "/does/not/exist.json"},
	} {
		t.Run(name, func(t *testing.T) {
			io, _, _, _ := cmdutil.Test()
			opts.IO, opts.Runbooks, opts.Format = io, library(t), cmdutil.FormatTable
			if err := planRun(&opts); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

func TestPlanWithAlertTakesParamsFromLabels(t *testing.T) {
	file := filepath.Join(t.TempDir(), "alert.json")
	os.WriteFile(file, []byte(`{"source":"alertmanager","key":"g1","status":"firing","labels":{"alertname":"LLMProviderErrorRateHigh","route":"embeddings"}}`), 0o644)
	io, _, out, _ := cmdutil.Test()
	if err := planRun(&PlanOptions{IO: io, Runbooks: library(t), Name: "provider-outage", AlertFile: file, Format: cmdutil.FormatTable}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "route=embeddings") {
		t.Fatalf("the alert's route label should become the route param:\n%s", out)
	}
}

func TestValidateExitCodeAndLines(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("name: ok\ntitle: Fine\nsteps:\n  - id: tell\n    action: notify\n    with: {text: hi}\n"), 0o644)
	os.WriteFile(bad, []byte("name: bad\ntitle: Broken\nsteps:\n  - id: tell\n    action: notfy\n"), 0o644)

	io, _, out, errOut := cmdutil.Test()
	err := validateRun(&ValidateOptions{IO: io, Files: []string{good, bad}})
	var exit *cmdutil.ExitError
	if !errors.As(err, &exit) || exit.Code != 1 {
		t.Fatalf("want exit 1, got %v", err)
	}
	if !strings.Contains(out.String(), "good.yaml: ok") {
		t.Errorf("good file not reported ok: %s", out)
	}
	if !strings.Contains(errOut.String(), "bad.yaml:5:") || !strings.Contains(errOut.String(), `"notify"`) {
		t.Errorf("bad file not reported with line and suggestion: %s", errOut)
	}

	io, _, _, _ = cmdutil.Test()
	if err := validateRun(&ValidateOptions{IO: io, Files: []string{good}}); err != nil {
		t.Fatalf("a good file must pass: %v", err)
	}
}

func TestListAndShow(t *testing.T) {
	io, _, out, _ := cmdutil.Test()
	if err := listRun(&ListOptions{IO: io, Runbooks: library(t), Format: cmdutil.FormatTable}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "provider-outage") || !strings.Contains(out.String(), "prompt-regression") {
		t.Fatalf("list lacks the built-ins:\n%s", out)
	}
	io, _, out, _ = cmdutil.Test()
	if err := showRun(&ShowOptions{IO: io, Runbooks: library(t), Name: "prompt-regression", Format: cmdutil.FormatTable}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Params", "since", "LLMQualityDrop", "rollback  prompts.rollback_pr", "approval: sre"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
}

// A fail back that measures the provider first says so in `runbook show`.
func TestShowFailbackNote(t *testing.T) {
	io, _, out, _ := cmdutil.Test()
	if err := showRun(&ShowOptions{IO: io, Runbooks: library(t), Name: "provider-outage", Format: cmdutil.FormatTable}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "failback  gateway.restore  [approval: sre; measures the provider first]") {
		t.Errorf("show lacks the fail back's health note:\n%s", out)
	}
}

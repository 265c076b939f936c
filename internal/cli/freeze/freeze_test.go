package freeze

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/incidents/incidentsfake"
	"github.com/quench-dev/quench/workflows"
)

var until = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func frozen() workflows.FreezeState {
	return workflows.FreezeState{Scope: "prompts", Frozen: true,
		Holds:   []workflows.Hold{{Holder: "inc-prompt-regression-00000000003fa9c1", Reason: "answers got short", Until: until}},
		History: []workflows.FreezeEvent{{At: until.Add(-time.Hour), Kind: "freeze", Holder: "inc-prompt-regression-00000000003fa9c1"}}}
}

func TestFreezeCommands(t *testing.T) {
	boom := errors.New("cannot reach Temporal")
	for _, tc := range []struct {
		name     string
		run      func(context.Context, *Options) error
		state    *workflows.FreezeState
		format   string
		fail     error
		wantCode int // 0 ok, else the ExitError code; -1 a plain error (exit 1)
		stdout   []string
		stderr   string // in the ExitError's message
		json     bool
	}{
		{name: "status not frozen", run: statusRun, stdout: []string{"prompts: not frozen"}},
		{name: "status frozen", run: statusRun, state: ptr(frozen()), stdout: []string{"prompts: FROZEN", "by inc-prompt-regression-00000000003fa9c1", "answers got short", "History", "freeze"}},
		{name: "status json", run: statusRun, state: ptr(frozen()), format: cmdutil.FormatJSON, json: true, stdout: []string{`"frozen": true`, `"history"`}},
		{name: "check not frozen", run: checkRun, stdout: []string{"prompts: not frozen, deploys may go"}},
		{name: "check frozen exits 3", run: checkRun, state: ptr(frozen()), wantCode: ExitFrozen, stderr: "FROZEN, do not deploy prompts"},
		{name: "check json not frozen", run: checkRun, format: cmdutil.FormatJSON, json: true, stdout: []string{`"frozen": false`, `"scope": "prompts"`}},
		{name: "check json frozen exits 3", run: checkRun, state: ptr(frozen()), format: cmdutil.FormatJSON, json: true, wantCode: ExitFrozen,
			stdout: []string{`"frozen": true`, `"holder": "inc-prompt-regression-00000000003fa9c1"`}, stderr: "held by incident"},
		{name: "check cannot tell", run: checkRun, fail: boom, wantCode: -1},
		{name: "status cannot tell", run: statusRun, fail: boom, wantCode: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := incidentsfake.New(nil)
			if tc.state != nil {
				fake.SetFreeze(*tc.state)
			}
			fake.Fail("FreezeState", tc.fail)
			ios, _, out, _ := cmdutil.Test()
			format := tc.format
			if format == "" {
				format = cmdutil.FormatTable
			}
			err := tc.run(context.Background(), &Options{IO: ios, Incidents: func() (incidents.Client, error) { return fake, nil }, Scope: "prompts", Format: format})
			var exit *cmdutil.ExitError
			switch {
			case tc.wantCode == 0 && err != nil:
				t.Fatalf("err %v, want success", err)
			case tc.wantCode == -1:
				if !errors.Is(err, boom) || errors.As(err, &exit) {
					t.Fatalf("err %v, want the failure itself (exit 1)", err)
				}
			case tc.wantCode > 0:
				if !errors.As(err, &exit) || exit.Code != tc.wantCode || !strings.Contains(exit.Msg, tc.stderr) {
					t.Fatalf("err %#v, want exit %d mentioning %q", err, tc.wantCode, tc.stderr)
				}
			}
			for _, want := range tc.stdout {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if tc.json {
				var v map[string]any
				if err := json.Unmarshal(out.Bytes(), &v); err != nil {
					t.Errorf("stdout is not one JSON object: %v\n%s", err, out)
				}
			}
			if calls := fake.Calls(); len(calls) != 1 || calls[0].Ref != "prompts" {
				t.Errorf("calls %+v, want one FreezeState of prompts", calls)
			}
		})
	}
}

func TestCheckRefusesUnknownFormat(t *testing.T) {
	ios, _, _, _ := cmdutil.Test()
	ran := false
	cmd := NewCmdCheck(&cmdutil.Factory{IO: ios}, func(context.Context, *Options) error { ran = true; return nil })
	cmd.SetArgs([]string{"-o", "xml"})
	cmd.SetOut(ios.Out)
	cmd.SetErr(ios.ErrOut)
	var flagErr *cmdutil.FlagError
	if err := cmd.Execute(); !errors.As(err, &flagErr) || ran {
		t.Fatalf("-o xml: %v (ran %v), want a usage error", err, ran)
	}
}

func ptr[T any](v T) *T { return &v }

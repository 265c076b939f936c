package incident

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/incidents/incidentsfake"
)

func TestStartRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       StartOptions
		tty        bool
		setup      func(*incidentsfake.Fake)
		wantErr    string
		usage      bool
		wantStdout []string
		noStdout   []string
		check      func(t *testing.T, f *incidentsfake.Fake, stdout string)
	}{
		{name: "tty", tty: true, opts: StartOptions{Runbook: "provider-outage", Params: []string{"route=chat"}},
			wantStdout: []string{"Started incident ", "(provider-outage): LLM provider outage", "watch:   quench incident watch ", "show:    quench incident show "}},
		{name: "not a tty prints one line", opts: StartOptions{Runbook: "provider-outage"},
			wantStdout: []string{"Started incident "}, noStdout: []string{"watch:", "show:"},
			check: func(t *testing.T, _ *incidentsfake.Fake, stdout string) {
				if strings.Count(stdout, "\n") != 1 {
					t.Errorf("want one line, got:\n%s", stdout)
				}
			}},
		{name: "json", opts: StartOptions{Runbook: "provider-outage", Format: cmdutil.FormatJSON, Key: "ticket-1", Severity: "warning", Service: "chat-api"},
			check: func(t *testing.T, f *incidentsfake.Fake, stdout string) {
				var s incidents.Started
				if err := json.Unmarshal([]byte(stdout), &s); err != nil {
					t.Fatal(err)
				}
				st, ok := f.Get(s.IncidentID)
				if !ok || s.ShortID != st.ShortID || s.Runbook != "provider-outage" {
					t.Fatalf("started %+v, stored %+v", s, st)
				}
				if st.Requester != "alice" || st.Source != "cli" || st.Severity != "warning" || st.Service != "chat-api" {
					t.Errorf("stored %+v", st)
				}
			}},
		{name: "yaml", opts: StartOptions{Runbook: "provider-outage", Format: cmdutil.FormatYAML}, wantStdout: []string{"incident_id: inc-provider-outage-", "runbook: provider-outage"}},
		{name: "malformed param is a usage error", opts: StartOptions{Runbook: "provider-outage", Params: []string{"route"}}, wantErr: "key=value", usage: true,
			check: func(t *testing.T, f *incidentsfake.Fake, _ string) {
				if len(f.Calls()) != 0 {
					t.Errorf("calls %v", f.Methods())
				}
			}},
		{name: "unknown runbook", opts: StartOptions{Runbook: "no-such-runbook"}, wantErr: "no-such-runbook"},
		{name: "unknown param", opts: StartOptions{Runbook: "provider-outage", Params: []string{"rout=chat"}}, wantErr: `"rout"`},
		{name: "unknown route with known routes", opts: StartOptions{Runbook: "provider-outage", Params: []string{"route=nosuchroute"}},
			setup:   func(f *incidentsfake.Fake) { f.Routes = incidents.StaticRoutes{"chat", "search"} },
			wantErr: `the gateway has no route "nosuchroute" (step failover); known routes: chat, search`},
		{name: "start fails", opts: StartOptions{Runbook: "provider-outage"}, setup: func(f *incidentsfake.Fake) { f.Fail("Start", errors.New("cannot reach Temporal")) },
			wantErr: "cannot reach Temporal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := incidentsfake.New(nil)
			if tc.setup != nil {
				tc.setup(fake)
			}
			ios, out, errOut := streams(tc.tty)
			opts := tc.opts
			opts.IO, opts.Incidents, opts.Identity = ios, client(fake), as("alice")
			if opts.Format == "" {
				opts.Format = cmdutil.FormatTable
			}
			err := startRun(context.Background(), &opts)
			checkErr(t, err, tc.wantErr, tc.usage)
			checkOutput(t, "stdout", out.String(), tc.wantStdout, tc.noStdout)
			noStderr(t, errOut)
			if tc.check != nil {
				tc.check(t, fake, out.String())
			}
		})
	}
}

func TestStartWithKeyJoinsTheSameIncident(t *testing.T) {
	fake := incidentsfake.New(nil)
	var ids []string
	for range 2 {
		ios, out, _ := streams(false)
		opts := StartOptions{IO: ios, Incidents: client(fake), Identity: as("alice"), Runbook: "provider-outage", Key: "ticket-1", Format: cmdutil.FormatJSON}
		if err := startRun(context.Background(), &opts); err != nil {
			t.Fatal(err)
		}
		var s incidents.Started
		_ = json.Unmarshal(out.Bytes(), &s)
		ids = append(ids, s.IncidentID)
	}
	if ids[0] != ids[1] {
		t.Fatalf("same key, two incidents: %v", ids)
	}
}

func TestStartWatchJSONIsJSONLines(t *testing.T) {
	fake := incidentsfake.New(nil)
	ios, out, _ := streams(false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // as if Ctrl-C came right after the start: the watch shows what is there and stops cleanly
	opts := StartOptions{IO: ios, Incidents: client(fake), Identity: as("alice"), Runbook: "provider-outage", Watch: true, Format: cmdutil.FormatJSON}
	if err := startRun(ctx, &opts); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want the started object and the started event, got:\n%s", out)
	}
	var started incidents.Started
	var event map[string]any
	if json.Unmarshal([]byte(lines[0]), &started) != nil || started.IncidentID == "" {
		t.Errorf("first line %q is not the started incident", lines[0])
	}
	if json.Unmarshal([]byte(lines[1]), &event) != nil || event["kind"] != "started" {
		t.Errorf("second line %q is not the started event", lines[1])
	}
}

func TestNewCmdStart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		want    StartOptions
	}{
		{name: "params and flags", args: []string{"provider-outage", "route=chat", "to=b", "--key", "k", "--severity", "info", "--service", "api", "-w", "-o", "json"},
			want: StartOptions{Runbook: "provider-outage", Params: []string{"route=chat", "to=b"}, Key: "k", Severity: "info", Service: "api", Watch: true, Format: "json"}},
		{name: "bad severity", args: []string{"provider-outage", "--severity", "bogus"}, wantErr: `--severity: severity "bogus" is not one of critical, warning, info`},
		{name: "bad format", args: []string{"provider-outage", "-o", "xml"}, wantErr: "unknown output format"},
		{name: "watch yaml", args: []string{"provider-outage", "-w", "-o", "yaml"}, wantErr: "JSON Lines"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, _ := streams(false)
			var got *StartOptions
			cmd := NewCmdStart(&cmdutil.Factory{IO: ios}, func(_ context.Context, o *StartOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			cmd.SetOut(ios.Out)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if tc.wantErr != "" {
				checkErr(t, err, tc.wantErr, true)
				if got != nil {
					t.Fatal("a usage error must not run the command")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Runbook != tc.want.Runbook || strings.Join(got.Params, " ") != strings.Join(tc.want.Params, " ") || got.Key != tc.want.Key ||
				got.Severity != tc.want.Severity || got.Service != tc.want.Service || got.Watch != tc.want.Watch || got.Format != tc.want.Format {
				t.Fatalf("options %+v, want %+v", got, tc.want)
			}
		})
	}
}

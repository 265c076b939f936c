package incident

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/incidents/incidentsfake"
	"github.com/quench-dev/quench/workflows"
)

func running() workflows.Status {
	st := failback()
	st.State, st.Pending = workflows.StateRunning, nil
	return st
}

func TestSignalRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		st         workflows.Status
		verb       string
		reason     string
		format     string
		setup      func(*incidentsfake.Fake)
		wantErr    string
		wantStdout []string
		noStdout   []string
		check      func(t *testing.T, f *incidentsfake.Fake, stdout string)
	}{
		{name: "resolve while an approval waits", st: failback(), verb: "resolve", reason: "green",
			wantStdout: []string{"Marked incident 1a2b3c resolved, but it stays open: it waits for approval of step failback (gateway.restore, by sre).",
				"approve: quench incident approve 1a2b3c --step failback", "reject:  quench incident reject 1a2b3c --step failback --reason WHY"},
			noStdout: []string{"Resolved incident"}},
		{name: "resolve that closes", st: running(), verb: "resolve", wantStdout: []string{"Resolved incident 1a2b3c: it is closed (resolved)."}},
		{name: "resolve with undos still to run", st: running(), verb: "resolve",
			setup:      func(f *incidentsfake.Fake) { f.React = func(string, *workflows.Status) {} },
			wantStdout: []string{"Marked incident 1a2b3c resolved; it is still running (steps and undos to finish).", "follow: quench incident watch 1a2b3c"}},
		{name: "resolve json", st: failback(), verb: "resolve", format: cmdutil.FormatJSON,
			check: func(t *testing.T, _ *incidentsfake.Fake, stdout string) {
				var r incidents.Signalled
				if err := json.Unmarshal([]byte(stdout), &r); err != nil {
					t.Fatal(err)
				}
				if r.IncidentID != incID || r.Signal != "resolve" || r.Closed || r.State != workflows.StateAwaiting ||
					len(r.WaitingFor) != 1 || r.WaitingFor[0].Approve != "quench incident approve 1a2b3c --step failback" {
					t.Fatalf("result %+v", r)
				}
			}},
		{name: "abort", st: running(), verb: "abort", reason: "false alarm", wantStdout: []string{"Aborted incident 1a2b3c: it is closed (aborted)."},
			check: func(t *testing.T, f *incidentsfake.Fake, _ string) {
				calls := f.Calls()
				if p, ok := calls[0].Arg.(workflows.Abort); !ok || p.By != "alice" || p.Reason != "false alarm" {
					t.Errorf("signal payload %+v", calls[0].Arg)
				}
			}},
		{name: "abort waiting for an undo approval", st: running(), verb: "abort",
			setup: func(f *incidentsfake.Fake) {
				f.React = func(_ string, st *workflows.Status) {
					st.State = workflows.StateClosing
					st.Pending = []workflows.PendingApproval{{StepID: "failover", Action: "gateway.restore", Undo: true, Groups: []string{"sre"}, Digest: digestA}}
				}
			},
			wantStdout: []string{"Aborting incident 1a2b3c, but it stays open: it waits for approval of the undo of step failover (gateway.restore, by sre)."}},
		{name: "note", st: running(), verb: "note", reason: "status page red", wantStdout: []string{"Noted on incident 1a2b3c."},
			check: func(t *testing.T, f *incidentsfake.Fake, _ string) {
				st, _ := f.Get(incID)
				if last := st.Timeline[len(st.Timeline)-1]; last.Kind != workflows.EventNote || last.Text != "status page red" || last.Actor != "alice" {
					t.Errorf("last event %+v", last)
				}
			}},
		{name: "note json", st: running(), verb: "note", reason: "x", format: cmdutil.FormatJSON, wantStdout: []string{`"signal": "note"`, `"incident_id": "` + incID}},
		{name: "closed incident", st: running(), verb: "resolve", setup: func(f *incidentsfake.Fake) { f.Close(incID, workflows.StateAborted) }, wantErr: "closed"},
		{name: "unknown incident", st: running(), verb: "abort", setup: func(f *incidentsfake.Fake) {}, wantErr: "no incident with ID"},
		{name: "signal fails", st: running(), verb: "resolve", setup: func(f *incidentsfake.Fake) { f.Fail("Signal", errors.New("cannot reach Temporal")) }, wantErr: "cannot reach Temporal"},
		{name: "sent, but the status cannot be read", st: running(), verb: "resolve", setup: func(f *incidentsfake.Fake) { f.Fail("Status", errors.New("query timed out")) },
			wantStdout: []string{"Sent resolve to incident 1a2b3c; could not read where it stands (query timed out)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := incidentsfake.New(nil)
			fake.Add(tc.st)
			if tc.setup != nil {
				tc.setup(fake)
			}
			ref := shortID
			if tc.name == "unknown incident" {
				ref = "abcdef"
			}
			ios, out, errOut := streams(false)
			format := tc.format
			if format == "" {
				format = cmdutil.FormatTable
			}
			err := signalRun(context.Background(), &SignalOptions{IO: ios, Incidents: client(fake), Identity: as("alice"), Verb: tc.verb, Ref: ref, Reason: tc.reason, Format: format})
			checkErr(t, err, tc.wantErr, false)
			checkOutput(t, "stdout", out.String(), tc.wantStdout, tc.noStdout)
			noStderr(t, errOut)
			if tc.check != nil {
				tc.check(t, fake, out.String())
			}
		})
	}
}

func TestNewCmdSignal(t *testing.T) {
	for _, tc := range []struct {
		verb    string
		args    []string
		wantErr string
		reason  string
		format  string
	}{
		{verb: "resolve", args: []string{shortID, "-m", "green", "-o", "json"}, reason: "green", format: "json"},
		{verb: "abort", args: []string{shortID}, format: "table"},
		{verb: "note", args: []string{shortID, "status", "page", "red"}, reason: "status page red", format: "table"},
		{verb: "note", args: []string{shortID}, wantErr: "requires at least 2 arg(s)"},
		{verb: "resolve", args: []string{shortID, "-o", "xml"}, wantErr: "unknown output format"},
	} {
		t.Run(tc.verb+" "+tc.wantErr, func(t *testing.T) {
			ios, _, _ := streams(false)
			var got *SignalOptions
			cmd := NewCmdSignal(&cmdutil.Factory{IO: ios}, tc.verb, func(_ context.Context, o *SignalOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			cmd.SetOut(ios.Out)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || got != nil {
					t.Fatalf("err %v, ran %v; want %q", err, got != nil, tc.wantErr)
				}
				return
			}
			if err != nil || got.Ref != shortID || got.Reason != tc.reason || got.Format != tc.format || got.Verb != tc.verb {
				t.Fatalf("err %v, options %+v", err, got)
			}
		})
	}
}

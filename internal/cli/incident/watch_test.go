package incident

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents/incidentsfake"
	"github.com/quench-dev/quench/workflows"
)

func TestWatchRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		format     string
		tty        bool
		closeFirst bool
		cancel     bool // Ctrl-C before anything else happens
		fail       error
		wantErr    string
		wantStdout []string
		wantStderr string
		check      func(t *testing.T, stdout string)
	}{
		{name: "until it closes", closeFirst: true, wantStdout: []string{"started", "step_done", "[failover]", "approval_requested", "closed", "Incident 1a2b3c closed: resolved"}},
		{name: "json lines", closeFirst: true, format: cmdutil.FormatJSON,
			check: func(t *testing.T, stdout string) {
				lines := strings.Split(strings.TrimSpace(stdout), "\n")
				var kinds []string
				for _, l := range lines {
					var e workflows.Event
					if err := json.Unmarshal([]byte(l), &e); err != nil {
						t.Fatalf("line %q is not a JSON event: %v", l, err)
					}
					kinds = append(kinds, e.Kind)
				}
				if strings.Join(kinds, ",") != "started,step_done,approval_requested,closed" {
					t.Errorf("kinds %v", kinds)
				}
			}},
		{name: "ctrl-c on a terminal is a clean stop", tty: true, cancel: true, wantStdout: []string{"approval_requested"},
			wantStderr: "Stopped watching; the incident goes on (quench incident watch 1a2b3c to follow it again)."},
		{name: "ctrl-c in a script is quiet", cancel: true, format: cmdutil.FormatJSON, wantStdout: []string{`"kind":"approval_requested"`}},
		{name: "failure", fail: errors.New("cannot reach Temporal"), wantErr: "cannot reach Temporal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := incidentsfake.New(nil)
			fake.Add(failback())
			fake.Fail("Watch", tc.fail)
			if tc.closeFirst {
				fake.Close(incID, workflows.StateResolved)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			ios, out, errOut := streams(tc.tty)
			format := tc.format
			if format == "" {
				format = cmdutil.FormatTable
			}
			err := watchRun(ctx, &WatchOptions{IO: ios, Incidents: client(fake), Ref: shortID, Format: format})
			checkErr(t, err, tc.wantErr, false)
			checkOutput(t, "stdout", out.String(), tc.wantStdout, nil)
			if strings.TrimSpace(errOut.String()) != tc.wantStderr {
				t.Errorf("stderr %q, want %q", errOut, tc.wantStderr)
			}
			if tc.check != nil {
				tc.check(t, out.String())
			}
		})
	}
}

// A live watch prints events as they come and returns when the incident closes: whenever
// the close lands relative to the watch's start, the output is the same.
func TestWatchFollowsLiveChanges(t *testing.T) {
	fake := incidentsfake.New(nil)
	fake.Add(failback())
	ios, out, _ := streams(false)
	done := make(chan error, 1)
	go func() {
		done <- watchRun(context.Background(), &WatchOptions{IO: ios, Incidents: client(fake), Ref: shortID, Format: cmdutil.FormatJSON})
	}()
	fake.Update(incID, func(st *workflows.Status) {
		st.Timeline = append(st.Timeline, workflows.Event{At: t0, Kind: workflows.EventNote, Actor: "bob", Text: "looking"})
	})
	fake.Close(incID, workflows.StateAborted)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 5 {
		t.Fatalf("want 5 events (3 old, the note, closed), got %d:\n%s", n, out)
	}
	if !strings.Contains(out.String(), `"text":"looking"`) {
		t.Errorf("the note is missing:\n%s", out)
	}
}

func TestNewCmdWatchRefusesYAML(t *testing.T) {
	ios, _, _ := streams(false)
	ran := false
	cmd := NewCmdWatch(&cmdutil.Factory{IO: ios}, func(context.Context, *WatchOptions) error { ran = true; return nil })
	cmd.SetArgs([]string{shortID, "-o", "yaml"})
	cmd.SetOut(ios.Out)
	cmd.SetErr(ios.ErrOut)
	if err := cmd.Execute(); ran || err == nil {
		t.Fatalf("err %v, ran %v", err, ran)
	} else {
		checkErr(t, err, "one event per line", true)
	}
}

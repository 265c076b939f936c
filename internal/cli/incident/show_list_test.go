package incident

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

func TestShowRun(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ref        string
		format     string
		fail       error
		wantErr    string
		wantStdout []string
	}{
		{name: "table", ref: shortID, wantStdout: []string{
			"Incident 1a2b3c  LLM provider outage", "runbook:   provider-outage", "severity:  critical", "params:    route=chat",
			"failover", "switched chat from primary to fallback",
			"Waiting for approval: step failback (gateway.restore)", "digest:  aaaaaaaa1111", "who:     sre (quorum 1)",
			"approve: quench incident approve 1a2b3c --step failback", "Timeline", "approval_requested",
			"\nPage: https://quench.example/incidents/1a2b3c\n"}},
		{name: "json", ref: shortID, format: cmdutil.FormatJSON, wantStdout: []string{`"incident_id": "` + incID, `"requester": "alice"`, `"digest": "` + digestA}},
		{name: "full ID", ref: incID, wantStdout: []string{"Incident 1a2b3c"}},
		{name: "unknown", ref: "abcdef", wantErr: "no incident with ID abcdef (see `quench incident list`)"},
		{name: "not an ID", ref: "not-an-id", wantErr: "not an incident ID"},
		{name: "status fails", ref: shortID, fail: errors.New("cannot reach Temporal"), wantErr: "cannot reach Temporal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := incidentsfake.New(nil)
			fake.Add(failback())
			fake.Fail("Status", tc.fail)
			ios, out, _ := streams(true)
			format := tc.format
			if format == "" {
				format = cmdutil.FormatTable
			}
			err := showRun(context.Background(), &ShowOptions{IO: ios, Incidents: client(fake), Ref: tc.ref, Format: format,
				PageURL: func(ref string) string { return "https://quench.example/incidents/" + ref }})
			checkErr(t, err, tc.wantErr, false)
			checkOutput(t, "stdout", out.String(), tc.wantStdout, nil)
			if tc.format == cmdutil.FormatJSON {
				var st workflows.Status
				if err := json.Unmarshal(out.Bytes(), &st); err != nil || st.IncidentID != incID {
					t.Errorf("json: %v, %+v", err, st)
				}
			}
		})
	}
}

func TestListRun(t *testing.T) {
	closed := t0.Add(time.Hour)
	seed := func(f *incidentsfake.Fake) {
		f.Add(failback())
		f.Add(workflows.Status{IncidentID: otherID, Runbook: "prompt-regression", State: workflows.StateResolved, StartedAt: t0.Add(-time.Hour), ClosedAt: &closed})
	}
	for _, tc := range []struct {
		name       string
		opts       ListOptions
		tty        bool
		empty      bool
		fail       error
		wantErr    string
		wantStdout []string
		noStdout   []string
		wantStderr string
		check      func(t *testing.T, stdout string)
	}{
		{name: "tty table of open incidents", tty: true, wantStdout: []string{"ID", "RUNBOOK", "STATE", shortID, "provider-outage", "awaiting", "critical"}, noStdout: []string{otherShort}},
		{name: "all", tty: true, opts: ListOptions{All: true}, wantStdout: []string{shortID, otherShort, "resolved"}},
		{name: "runbook filter", tty: true, opts: ListOptions{All: true, Runbook: "prompt-regression"}, wantStdout: []string{otherShort}, noStdout: []string{shortID}},
		{name: "not a tty: tab-separated, no header, absolute times", opts: ListOptions{All: true},
			check: func(t *testing.T, stdout string) {
				want := shortID + "\tprovider-outage\tawaiting_approval\tcritical\t\t2026-01-02T03:04:05Z\t\n" +
					otherShort + "\tprompt-regression\tresolved\t\t\t2026-01-02T02:04:05Z\t2026-01-02T04:04:05Z\n"
				if stdout != want {
					t.Errorf("stdout %q, want %q", stdout, want)
				}
			}},
		{name: "json", opts: ListOptions{All: true, Format: cmdutil.FormatJSON},
			check: func(t *testing.T, stdout string) {
				var rows []incidents.Summary
				if err := json.Unmarshal([]byte(stdout), &rows); err != nil || len(rows) != 2 || rows[0].IncidentID != incID {
					t.Errorf("json rows %v, %+v", err, rows)
				}
			}},
		{name: "json of nothing is an empty array", empty: true, opts: ListOptions{Format: cmdutil.FormatJSON}, wantStdout: []string{"[]"}},
		{name: "nothing open", empty: true, tty: true, wantStderr: "No open incidents (add --all for closed ones)."},
		{name: "nothing at all", empty: true, tty: true, opts: ListOptions{All: true}, wantStderr: "No incidents yet. Start one: quench incident start provider-outage"},
		{name: "list fails", fail: errors.New("cannot reach Temporal"), wantErr: "cannot reach Temporal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := incidentsfake.New(nil)
			if !tc.empty {
				seed(fake)
			}
			fake.Fail("List", tc.fail)
			ios, out, errOut := streams(tc.tty)
			opts := tc.opts
			opts.IO, opts.Incidents = ios, client(fake)
			if opts.Format == "" {
				opts.Format = cmdutil.FormatTable
			}
			if opts.Limit == 0 {
				opts.Limit = 30
			}
			err := listRun(context.Background(), &opts)
			checkErr(t, err, tc.wantErr, false)
			checkOutput(t, "stdout", out.String(), tc.wantStdout, tc.noStdout)
			if strings.TrimSpace(errOut.String()) != tc.wantStderr {
				t.Errorf("stderr %q, want %q", errOut, tc.wantStderr)
			}
			if tc.check != nil {
				tc.check(t, out.String())
			}
			if tc.fail == nil {
				lf := fake.Calls()[0].Arg.(incidents.ListFilter)
				if lf.Open == opts.All || lf.Runbook != opts.Runbook || lf.Limit != 30 {
					t.Errorf("filter %+v for options %+v", lf, opts)
				}
			}
		})
	}
}

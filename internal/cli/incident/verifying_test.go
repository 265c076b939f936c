package incident

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/incidents/incidentsfake"
	"github.com/quench-dev/quench/runbooks"
	"github.com/quench-dev/quench/workflows"
)

// verifying is provider-outage while its failover's verify waits for post-switch traffic.
func verifying() workflows.Status {
	st := running()
	st.State = workflows.StateVerifying
	below := 0.05
	st.Verifying = &workflows.Verifying{
		StepID: "failover", Signal: "error_rate", Below: &below, MinRequests: 20,
		Condition: "error_rate below 0.05 over at least 20 requests that started after the change, served by fallback",
		Since:     t0, Provider: "fallback", Every: runbooks.Duration(30 * time.Second), Window: runbooks.Duration(2 * time.Minute), Deadline: t0.Add(5 * time.Minute), Polls: 1,
		Last: &workflows.Measurement{At: t0.Add(time.Second), Value: 0.125, Requests: 8, Detail: "1 of 8 requests failed since 12:00:00"},
	}
	return st
}

func TestShowVerifying(t *testing.T) {
	fake := incidentsfake.New(nil)
	fake.Add(verifying())
	ios, out, _ := streams(true)
	if err := showRun(context.Background(), &ShowOptions{IO: ios, Incidents: client(fake), Ref: shortID, Format: cmdutil.FormatTable}); err != nil {
		t.Fatal(err)
	}
	checkOutput(t, "stdout", out.String(), []string{
		"state:     verifying",
		"Verifying step failover",
		"condition: error_rate below 0.05 over at least 20 requests that started after the change, served by fallback",
		"latest:    error_rate = 0.125 over 8 requests at", "too few requests to judge (need 20)",
		"1 of 8 requests failed since 12:00:00",
		"deadline:  " + t0.Add(5*time.Minute).Local().Format(time.DateTime),
		"quench incident resolve 1a2b3c keeps the change",
	}, nil)

	ios, out, _ = streams(false)
	if err := showRun(context.Background(), &ShowOptions{IO: ios, Incidents: client(fake), Ref: shortID, Format: cmdutil.FormatJSON}); err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	v, _ := raw["verifying"].(map[string]any)
	last, _ := v["last"].(map[string]any)
	if raw["state"] != "verifying" || v["step_id"] != "failover" || v["condition"] == "" || v["deadline"] == nil ||
		v["min_requests"] != float64(20) || v["every"] != "30s" || v["window"] != "2m0s" || last["requests"] != float64(8) || last["enough"] != false {
		t.Fatalf("json verifying: %v", raw["verifying"])
	}
}

func TestApproveWhileVerifyingSaysSo(t *testing.T) {
	fake := incidentsfake.New(nil)
	fake.Add(verifying())
	ios, _, _ := streams(false)
	err := decideRun(context.Background(), &DecideOptions{IO: ios, Incidents: client(fake), Identity: func() string { return "bob" },
		Ref: shortID, Verdict: workflows.VerdictApprove})
	checkErr(t, err, "it is verifying step failover until "+t0.Add(5*time.Minute).UTC().Format(time.TimeOnly)+" UTC", false)
	checkErr(t, err, "quench incident resolve 1a2b3c", false)
}

func TestResolveWhileVerifyingSaysWhatItDid(t *testing.T) {
	fake := incidentsfake.New(nil)
	fake.Add(verifying())
	// The workflow's part: a resolve stops the verify at once and the runbook goes on.
	fake.React = func(method string, st *workflows.Status) {
		if method != "Signal:"+workflows.SignalResolve {
			return
		}
		st.Verifying, st.State = nil, workflows.StateAwaiting
		st.Timeline = append(st.Timeline, workflows.Event{At: t0, Kind: workflows.EventVerify, StepID: "failover",
			Text: "verify of step failover stopped: the incident was resolved; the change stays"})
		st.Pending = failback().Pending
	}
	ios, out, _ := streams(false)
	err := signalRun(context.Background(), &SignalOptions{IO: ios, Incidents: client(fake), Identity: func() string { return "alice" },
		Verb: "resolve", Ref: shortID, Format: cmdutil.FormatTable})
	if err != nil {
		t.Fatal(err)
	}
	checkOutput(t, "stdout", out.String(), []string{
		"Marked incident 1a2b3c resolved, but it stays open: it waits for approval of step failback",
		"then: verify of step failover stopped: the incident was resolved; the change stays",
	}, []string{"Resolved incident"})

	ios, out, _ = streams(false)
	fake.React = nil
	fake.Add(verifying())
	if err := signalRun(context.Background(), &SignalOptions{IO: ios, Incidents: client(fake), Identity: func() string { return "alice" },
		Verb: "resolve", Ref: shortID, Format: cmdutil.FormatJSON}); err != nil {
		t.Fatal(err)
	}
	var r incidents.Signalled
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Verifying == nil || r.Verifying.StepID != "failover" {
		t.Fatalf("a verify still running is reported: %+v", r)
	}
}

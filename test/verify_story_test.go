package e2e

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/fixtures"
	"github.com/quench-dev/quench/workflows"
)

// outageSpeed compresses provider-outage's waits on quench dev (--speed): verify polls every
// 3 s over a 12 s window and gives up after 30 s, instead of 30 s, 2 m and 5 m.
const outageSpeed = "10"

// startOutageStory starts quench dev on the provider-outage story with traffic after the
// switch: a request every 200 ms on the fallback (so a 12 s window holds enough), which
// serves them well or, with fallbackFailing, fails about 4 in 10. The incident window ends
// now, so the traffic after it is the traffic after the switch (the second or so before the
// switch is what the verify's since excludes), not minutes of it that the evidence would
// count too.
func startOutageStory(t *testing.T, fallbackFailing bool) *storyRun {
	t.Helper()
	return startStoryWith(t, fixtures.ProviderOutage, fixtures.Options{Now: time.Now(), After: 15 * time.Minute, AfterEvery: 200 * time.Millisecond,
		FallbackFailing: fallbackFailing}, "--speed", outageSpeed)
}

// failedOf reads "N of M requests failed" from a verify line: the real post-change numbers.
var failedOf = regexp.MustCompile(`(\d+) of (\d+) requests failed (since the change|in the last \S+ after the change).* served by ` + fixtures.FallbackProvider)

// checkVerdict checks a verify event's result and that it judged at least 20 requests sent
// after the switch and served by the fallback, with the error rate its text gives.
func checkVerdict(t *testing.T, ev map[string]any, want string) (failed, total int) {
	t.Helper()
	data, _ := ev["data"].(map[string]any)
	text, _ := ev["text"].(string)
	if data["result"] != want {
		t.Fatalf("verify %v, want %s", ev, want)
	}
	m := failedOf.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("verify %q does not give the post-switch numbers on %s", text, fixtures.FallbackProvider)
	}
	failed, _ = strconv.Atoi(m[1])
	total, _ = strconv.Atoi(m[2])
	if total < 20 || data["requests"] != m[2] {
		t.Fatalf("verify judged %d requests (data %v), want at least 20: %q", total, data["requests"], text)
	}
	return failed, total
}

// TestStoriesProviderOutageFallbackAlsoFailing: the fallback fails too. The evidence is
// captured first; while verify waits the incident says it is verifying (show, -o json, and
// approve explains there is nothing to approve yet); at the deadline, on the requests sent
// after the switch, the verify fails, the switch is reverted and SRE is paged.
func TestStoriesProviderOutageFallbackAlsoFailing(t *testing.T) {
	s := startOutageStory(t, true)
	inc := s.fireAlert(t, "provider-outage")
	w := s.dev.watch(t, inc.IncidentID)

	w.waitFor(t, workflows.EventStepDone, "failover")
	w.waitFor(t, workflows.EventStepDone, "evidence")
	w.waitFor(t, workflows.EventVerifying, "failover")

	var st workflows.Status
	if err := json.Unmarshal([]byte(s.dev.mustQuench(t, "incident", "show", inc.ShortID, "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	v := st.Verifying
	if st.State != workflows.StateVerifying || v == nil || v.StepID != "failover" || v.Provider != fixtures.FallbackProvider ||
		v.MinRequests != 20 || !v.Deadline.After(v.Since) || !strings.Contains(v.Condition, "error_rate below 0.05") {
		t.Fatalf("while verifying: state %s, verifying %+v", st.State, v)
	}
	if step := stepOf(t, st, "evidence"); step.State != workflows.StepDone {
		t.Fatalf("the evidence is not in before the verify: %+v", step)
	}
	table := s.dev.mustQuench(t, "incident", "show", inc.ShortID)
	for _, want := range []string{"state:     verifying", "Verifying step failover", "condition: error_rate below 0.05", "deadline:"} {
		if !strings.Contains(table, want) {
			t.Errorf("show lacks %q:\n%s", want, table)
		}
	}
	res := s.dev.quench(t, "incident", "approve", inc.ShortID, "--as", "bob")
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "it is verifying step failover") {
		t.Errorf("approve while verifying: exit %d\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	}

	verdict := w.waitFor(t, workflows.EventVerify, "failover")
	failed, total := checkVerdict(t, verdict, "failed")
	if rate := float64(failed) / float64(total); rate < 0.05 {
		t.Fatalf("failed at %d of %d (%.3f), which is below the threshold", failed, total, rate)
	}
	w.waitFor(t, workflows.EventEscalated, "failover")
	if got := s.route(t); got.Provider != fixtures.PrimaryProvider {
		t.Fatalf("route after the failed verify: %+v, want reverted to %s", got, fixtures.PrimaryProvider)
	}
	st = s.status(t, inc.ShortID)
	if step := stepOf(t, st, "failover"); step.State != workflows.StepReverted {
		t.Fatalf("failover after the failed verify: %+v", step)
	}
	if st.Verifying != nil {
		t.Fatalf("still verifying after the verdict: %+v", st.Verifying)
	}

	w.waitFor(t, workflows.EventStepStarted, "recovered")
	s.dev.mustQuench(t, "incident", "abort", inc.ShortID, "--as", "alice", "--reason", "both providers down; handled by hand")
	w.waitFor(t, workflows.EventClosed, "")
	recordClosed(t, s.dev, inc.IncidentID, "provider-outage-verify-since-change-reverted")
}

// TestResolveDuringVerifyIsHonouredAtOnce: someone resolves while the verify still waits
// for traffic; the verify stops, the change stays, and resolve says so.
func TestResolveDuringVerifyIsHonouredAtOnce(t *testing.T) {
	s := startOutageStory(t, true) // failing: the verify would otherwise run to its deadline
	inc := s.fireAlert(t, "provider-outage")
	w := s.dev.watch(t, inc.IncidentID)
	w.waitFor(t, workflows.EventVerifying, "failover")

	out := s.dev.mustQuench(t, "incident", "resolve", inc.ShortID, "--as", "alice", "--reason", "fallback fine by the dashboards")
	if !strings.Contains(out, "then: verify of step failover stopped: the incident was resolved; the change stays") {
		t.Errorf("resolve did not say it stopped the verify:\n%s", out)
	}
	v := w.waitFor(t, workflows.EventVerify, "failover")
	if v["data"].(map[string]any)["result"] != "stopped" {
		t.Fatalf("verify after the resolve: %v", v)
	}
	w.waitFor(t, workflows.EventApprovalAsked, "failback")
	if got := s.route(t); got.Provider != fixtures.FallbackProvider {
		t.Fatalf("route after a resolve during verify: %+v, want the switch kept", got)
	}
	s.dev.mustQuench(t, "incident", "reject", inc.ShortID, "--as", "bob", "--reason", "stay on the fallback")
	w.waitFor(t, workflows.EventClosed, "")
}

package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/ingest"
	"github.com/quench-dev/quench/workflows"
)

// routeTable is GET /v1/routes.
type routeTable struct {
	Version int64 `json:"version"`
	Routes  []struct {
		Route    string `json:"route"`
		Provider string `json:"provider"`
		Version  int64  `json:"version"`
	} `json:"routes"`
}

func (r routeTable) provider(route string) string {
	for _, rt := range r.Routes {
		if rt.Route == route {
			return rt.Provider
		}
	}
	return ""
}

func (s *quenchServer) routes() (routeTable, error) {
	code, body := s.call("GET", "/v1/routes", "", nil)
	var rt routeTable
	if code != http.StatusOK {
		return rt, fmt.Errorf("GET %s/v1/routes: %d %s", s.url, code, body)
	}
	return rt, json.Unmarshal(body, &rt)
}

// routesAgree waits until every server serves the same table with chat on provider, and
// returns it. Servers may cache the table briefly, so agreement is awaited, not assumed.
func routesAgree(t testing.TB, provider string, servers ...*quenchServer) routeTable {
	t.Helper()
	var first routeTable
	waitFor(t, "every server's /v1/routes to show chat on "+provider, time.Minute, func() (bool, error) {
		var seen []string
		for i, s := range servers {
			rt, err := s.routes()
			if err != nil {
				return false, err
			}
			seen = append(seen, fmt.Sprintf("%s: v%d chat=%s", s.name, rt.Version, rt.provider("chat")))
			if rt.provider("chat") != provider {
				return false, fmt.Errorf("%s", strings.Join(seen, "; "))
			}
			if i == 0 {
				first = rt
			} else if rt.Version != first.Version {
				return false, fmt.Errorf("versions differ: %s", strings.Join(seen, "; "))
			}
		}
		return true, nil
	})
	return first
}

// postAlert posts one Alertmanager v4 notification (one alert) to the server's hook.
func (s *quenchServer) postAlert(t testing.TB, status, group, fingerprint string) ingest.HookResponse {
	t.Helper()
	return s.postAlertNamed(t, "LLMProviderErrorRateHigh", "chat: 40% of requests fail", status, group, fingerprint)
}

// postAlertNamed is postAlert for alert alertname on route chat.
func (s *quenchServer) postAlertNamed(t testing.TB, alertname, summary, status, group, fingerprint string) ingest.HookResponse {
	t.Helper()
	ends := "0001-01-01T00:00:00Z"
	if status == "resolved" {
		ends = time.Now().UTC().Format(time.RFC3339)
	}
	body := map[string]any{
		"version": "4", "receiver": "quench", "status": status, "groupKey": group, "truncatedAlerts": 0,
		"groupLabels": map[string]string{}, "commonLabels": map[string]string{}, "commonAnnotations": map[string]string{},
		"externalURL": "http://alertmanager.invalid",
		"alerts": []map[string]any{{
			"status": status, "fingerprint": fingerprint,
			"labels":      map[string]string{"alertname": alertname, "route": "chat", "severity": "critical"},
			"annotations": map[string]string{"summary": summary},
			"startsAt":    "2026-12-03T19:00:00Z", "endsAt": ends,
		}},
	}
	var out ingest.HookResponse
	s.mustCall(t, "POST", "/hooks/alertmanager", alertToken, body, http.StatusOK, &out)
	return out
}

func (s *quenchServer) status(t testing.TB, id string) workflows.Status {
	t.Helper()
	var st workflows.Status
	s.mustCall(t, "GET", "/api/v1/incidents/"+id, apiToken, nil, http.StatusOK, &st)
	return st
}

// waitStatus polls the incident's status through s until cond holds.
func (s *quenchServer) waitStatus(t testing.TB, id, what string, cond func(workflows.Status) bool, watch ...*proc) workflows.Status {
	t.Helper()
	var st workflows.Status
	waitFor(t, what, 3*time.Minute, func() (bool, error) {
		code, body := s.call("GET", "/api/v1/incidents/"+id, apiToken, nil)
		if code != http.StatusOK {
			return false, fmt.Errorf("%d %s", code, body)
		}
		if err := json.Unmarshal(body, &st); err != nil {
			return false, err
		}
		return cond(st), fmt.Errorf("state %s, steps %s", st.State, stepStates(st))
	}, watch...)
	return st
}

func stepStates(st workflows.Status) string {
	var out []string
	for _, s := range st.Steps {
		out = append(out, s.ID+"="+s.State)
	}
	return strings.Join(out, " ")
}

func stepIs(st workflows.Status, id, state string) bool {
	for _, s := range st.Steps {
		if s.ID == id {
			return s.State == state
		}
	}
	return false
}

// holdRouteTable locks the store's routing-table tables against writes (reads go on) in a
// transaction the test holds open, so a switch is observably in flight until release.
func (c *cluster) holdRouteTable(t testing.TB) (release func()) {
	t.Helper()
	ctx := context.Background()
	rows, err := c.storeDB.QueryContext(ctx, `SELECT quote_ident(table_name) FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name LIKE '%rout%' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if len(tables) == 0 {
		t.Fatalf("the quench store (%s) has no routing-table table: the routing table is not in the shared store", c.storeDSN)
	}
	tx, err := c.storeDB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// EXCLUSIVE: plain SELECTs (the servers' /v1/routes) go on; every write and SELECT …
	// FOR UPDATE waits.
	if _, err := tx.ExecContext(ctx, "LOCK TABLE "+strings.Join(tables, ", ")+" IN EXCLUSIVE MODE"); err != nil {
		_ = tx.Rollback()
		t.Fatal(err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			_ = tx.Rollback()
		}
	}
	t.Cleanup(release)
	return release
}

// pendingActivity waits until the incident has a started attempt of activity typ and
// returns the identity of the worker running it.
func pendingActivity(t testing.TB, tc client.Client, id, typ string, watch ...*proc) string {
	t.Helper()
	var identity string
	waitFor(t, "activity "+typ+" of "+id+" to be running on a worker", 2*time.Minute, func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d, err := tc.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return false, err
		}
		var seen []string
		for _, pa := range d.GetPendingActivities() {
			seen = append(seen, pa.GetActivityType().GetName()+"/"+pa.GetState().String())
			if pa.GetActivityType().GetName() == typ && pa.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED && pa.GetLastWorkerIdentity() != "" {
				identity = pa.GetLastWorkerIdentity()
				return true, nil
			}
		}
		return false, fmt.Errorf("pending activities: %v", seen)
	}, watch...)
	return identity
}

// lastWorkflowWorker is the identity of the worker that completed the incident's last
// workflow task: the one whose cache (sticky queue) holds the incident.
func lastWorkflowWorker(t testing.TB, tc client.Client, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	identity := ""
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := e.GetWorkflowTaskCompletedEventAttributes(); a != nil {
			identity = a.GetIdentity()
		}
	}
	if identity == "" {
		t.Fatalf("incident %s has no completed workflow task", id)
	}
	return identity
}

// workerByIdentity finds the worker process behind a Temporal worker identity (the SDK's
// default is <pid>@<host>@).
func (c *cluster) workerByIdentity(t testing.TB, identity string) string {
	t.Helper()
	for name, p := range c.workers {
		if strings.HasPrefix(identity, fmt.Sprintf("%d@", p.cmd.Process.Pid)) {
			return name
		}
	}
	t.Fatalf("no worker of this cluster has identity %q", identity)
	return ""
}

// TestProviderOutageSurvivesKillsOnACluster is issue 12's cluster scenario: an alert posted
// to server A starts provider-outage; both servers' /v1/routes show the switch at the same
// version; the worker running the switch is killed -9 mid-switch, and so is the worker
// holding the incident while it waits for approval; Temporal itself is killed -9 and
// restarted while the incident waits (the servers say not ready meanwhile); the approval
// comes through server B. At the end every change happened once: the table moved exactly
// two versions (fail over, fail back), the timeline has one fail over and one fail back,
// and both servers agree.
func TestProviderOutageSurvivesKillsOnACluster(t *testing.T) {
	c := newCluster(t)
	c.startWorker("worker-1")
	c.startWorker("worker-2")
	a, b := c.startServer("server-a"), c.startServer("server-b")
	tc := c.client()

	before := routesAgree(t, "primary", a, b)

	// The switch will be in flight, held on the table, when its worker dies.
	release := c.holdRouteTable(t)
	group := "cluster-" + randomHex(4)
	fingerprint := "fp-" + randomHex(4)
	fired := a.postAlert(t, "firing", group, fingerprint)
	if len(fired.Incidents) != 1 || fired.Incidents[0].Result != "started" || fired.Incidents[0].Runbook != "provider-outage" {
		t.Fatalf("alert to server A: %+v, want one provider-outage started", fired)
	}
	id, short := fired.Incidents[0].IncidentID, fired.Incidents[0].ShortID
	holder := c.workerByIdentity(t, pendingActivity(t, tc, id, "gateway.switch"))
	t.Logf("%s holds the switch of %s: kill -9", holder, short)
	c.workers[holder].kill()
	delete(c.workers, holder)
	release()
	c.startWorker("worker-3") // as a Deployment would replace it

	b.waitStatus(t, short, "the fail over to finish on another worker", func(st workflows.Status) bool {
		return stepIs(st, "failover", workflows.StepDone) && stepIs(st, "recovered", workflows.StepRunning)
	})
	switched := routesAgree(t, "fallback", a, b)
	if switched.Version != before.Version+1 {
		t.Fatalf("table version %d after the fail over, want %d (one change): the switch was applied %d times",
			switched.Version, before.Version+1, switched.Version-before.Version)
	}

	// The alert resolves; the fail back waits for an approval.
	if res := b.postAlert(t, "resolved", group, fingerprint); len(res.Incidents) != 1 || res.Incidents[0].IncidentID != id {
		t.Fatalf("resolved alert to server B: %+v, want it to reach %s", res, id)
	}
	st := b.waitStatus(t, short, "the fail back to ask for approval", func(st workflows.Status) bool {
		return len(st.Pending) == 1 && st.Pending[0].StepID == "failback"
	})
	digest := st.Pending[0].Digest

	// Kill the worker that holds the waiting incident in its cache.
	holder = c.workerByIdentity(t, lastWorkflowWorker(t, tc, id))
	t.Logf("%s holds %s while it waits for approval: kill -9", holder, short)
	c.workers[holder].kill()
	delete(c.workers, holder)
	c.startWorker("worker-4")

	// Temporal dies and comes back while the incident waits; meanwhile the servers are
	// alive but not ready.
	c.temporal.proc.kill()
	for _, s := range []*quenchServer{a, b} {
		waitFor(t, s.name+"'s /readyz to answer 503 while Temporal is down", time.Minute, func() (bool, error) {
			code, r := s.readyz()
			return code == http.StatusServiceUnavailable && strings.HasPrefix(r.Reason, "temporal: "), fmt.Errorf("%d %+v", code, r)
		}, s.proc)
		if code, _ := s.call("GET", "/healthz", "", nil); code != http.StatusOK {
			t.Fatalf("%s /healthz %d while Temporal is down: liveness must hold", s.name, code)
		}
	}
	c.temporal.start(t)
	for _, s := range []*quenchServer{a, b} {
		waitFor(t, s.name+" to be ready again", 2*time.Minute, func() (bool, error) {
			code, r := s.readyz()
			return code == http.StatusOK, fmt.Errorf("%d %+v", code, r)
		}, s.proc)
	}

	// Approval through server B, as alice (the ops-bot token's person, in group sre).
	var res workflows.DecisionResult
	waitFor(t, "the approval through server B to be taken", 2*time.Minute, func() (bool, error) {
		code, body := b.call("POST", "/api/v1/incidents/"+short+"/decisions", apiToken,
			map[string]string{"verdict": "approve", "digest": digest, "reason": "provider healthy again"})
		switch {
		case code == http.StatusOK:
			return true, json.Unmarshal(body, &res)
		case code == http.StatusConflict:
			// An earlier attempt that timed out was taken after all: the final state says.
			res.Outcome = "approved"
			return true, nil
		case code >= 400 && code < 500:
			t.Fatalf("approve through server B: %d %s", code, body)
		}
		return false, fmt.Errorf("%d %s", code, body) // Temporal still settling after its restart
	})
	if res.Outcome != "approved" {
		t.Fatalf("decision: %+v, want approved", res)
	}
	final := a.waitStatus(t, short, "the incident to close resolved", func(st workflows.Status) bool {
		return st.State == workflows.StateResolved && st.ClosedAt != nil
	})

	// Every side effect once.
	back := routesAgree(t, "primary", a, b)
	if back.Version != before.Version+2 {
		t.Fatalf("table version %d at the end, want %d (fail over + fail back): %d changes", back.Version, before.Version+2, back.Version-before.Version)
	}
	counts := map[string]int{}
	for _, e := range final.Timeline {
		if e.Kind == workflows.EventStepDone {
			counts[e.StepID]++
		}
	}
	if counts["failover"] != 1 || counts["failback"] != 1 {
		t.Fatalf("step_done events %v, want failover and failback once each", counts)
	}
	if !stepIs(final, "failback", workflows.StepDone) {
		t.Fatalf("fail back %s, want done: %s", stepStates(final), final.State)
	}
	assertNoSecretIn(t, c, final)
}

// assertNoSecretIn checks the incident's status and the processes' logs carry none of the
// secrets the cluster runs with.
func assertNoSecretIn(t testing.TB, c *cluster, st workflows.Status) {
	t.Helper()
	data, _ := json.Marshal(st)
	texts := map[string]string{"the incident's status": string(data)}
	for name, p := range c.workers {
		texts[name+"'s log"] = p.log()
	}
	for name, s := range c.servers {
		texts[name+"'s log"] = s.log()
	}
	for name, secret := range c.secrets {
		if name == "QUENCH_STORE_DSN" {
			continue // no password in the test's DSN; its host and database may be named
		}
		for where, text := range texts {
			if strings.Contains(text, secret) {
				t.Errorf("%s contains %s", where, name)
			}
		}
	}
}

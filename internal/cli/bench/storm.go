package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/ingest"
)

// Storm orders.
const (
	// OrderGrouped sends the alerts group after group: the concurrent posts of a moment
	// belong to one or two groups, as when one alert group storms.
	OrderGrouped = "grouped"
	// OrderInterleaved sends alert i to group i mod groups: every group a little at a time.
	OrderInterleaved = "interleaved"
)

// Storm is one benchmark storm: Alerts alerts, each with its own fingerprint, over Groups
// Alertmanager groups (each group is one incident), Concurrency posts at a time.
type Storm struct {
	Alerts      int
	Groups      int
	Concurrency int
	Order       string
	Alertname   string
	RunID       string // makes this run's group keys unique on a server that keeps incidents
}

// groupOf is the group of alert i.
func (s Storm) groupOf(i int) int {
	if s.Order == OrderInterleaved {
		return i % s.Groups
	}
	return i * s.Groups / s.Alerts
}

// GroupKey is the Alertmanager groupKey of group g; prefix tells the two phases apart.
func (s Storm) GroupKey(prefix string, g int) string {
	return fmt.Sprintf(`{}:{alertname="%s",bench="%s-%s-%d"}`, s.Alertname, prefix, s.RunID, g)
}

// Alert is alert i of the storm, in its group under prefix.
func (s Storm) Alert(prefix string, i int, status string) alert.Alert {
	g := s.groupOf(i)
	return alert.Alert{
		Source: ingest.SourceAlertmanager, Key: s.GroupKey(prefix, g), Fingerprint: fmt.Sprintf("%016x", i), Status: status,
		Title:       "bench storm",
		Labels:      map[string]string{"alertname": s.Alertname, "bench": fmt.Sprintf("%s-%d", prefix, g), "instance": fmt.Sprintf("pod-%d", i)},
		Annotations: map[string]string{"summary": "quench bench ingest"},
	}
}

// payload is the Alertmanager v4 webhook carrying alerts (all of one group).
func payload(alerts []alert.Alert) []byte {
	type amAlert struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    string            `json:"startsAt"`
		EndsAt      string            `json:"endsAt"`
		Fingerprint string            `json:"fingerprint"`
	}
	status := alert.StatusResolved
	list := make([]amAlert, 0, len(alerts))
	for _, a := range alerts {
		ends := "0001-01-01T00:00:00Z"
		if a.Firing() {
			status = alert.StatusFiring
		} else {
			ends = time.Now().UTC().Format(time.RFC3339)
		}
		list = append(list, amAlert{Status: a.Status, Labels: a.Labels, Annotations: a.Annotations,
			StartsAt: "2026-01-01T00:00:00Z", EndsAt: ends, Fingerprint: a.Fingerprint})
	}
	b, _ := json.Marshal(map[string]any{
		"version": "4", "receiver": "quench", "status": status, "groupKey": alerts[0].Key, "truncatedAlerts": 0,
		"groupLabels": map[string]string{"alertname": alerts[0].Labels["alertname"]}, "commonLabels": map[string]string{},
		"commonAnnotations": map[string]string{}, "externalURL": "http://alertmanager.invalid", "alerts": list,
	})
	return b
}

// PhaseResult is what one phase measured.
type PhaseResult struct {
	Name            string  `json:"name"`
	Alerts          int     `json:"alerts"`
	Seconds         float64 `json:"seconds"`
	AlertsPerSecond float64 `json:"alerts_per_second"`
	P50Millis       float64 `json:"p50_ms"`
	P99Millis       float64 `json:"p99_ms"`
	// DeliveredSeconds is from the first post until the last alert reached its incident
	// (answered after its commit, or acknowledged by Temporal out of quench's inbox).
	DeliveredSeconds         float64 `json:"delivered_seconds"`
	DeliveredAlertsPerSecond float64 `json:"delivered_alerts_per_second"`
	Queued                   int     `json:"queued"` // alerts answered 202 queued (the inbox)
	IncidentsCreated         int     `json:"incidents_created"`
	Commits                  int     `json:"commits"`
	AlertsPerCommit          float64 `json:"alerts_per_commit"`
	Deduplicated             int     `json:"deduplicated"`
	Errors                   int     `json:"errors"`
	FirstError               string  `json:"first_error,omitempty"`
	// Incidents maps each incident the phase touched to the alerts it should have received.
	Incidents map[string]int `json:"-"`
}

// runner fires calls from Concurrency goroutines and measures each.
type runner struct {
	storm    Storm
	progress func(done int, elapsed time.Duration)
}

// run calls do(i) for every alert index, Concurrency at a time, and returns the
// latencies and the wall time. do returns an error for a failed call.
func (r runner) run(ctx context.Context, do func(ctx context.Context, i int) error) (lat []time.Duration, wall time.Duration, errs int, firstErr string) {
	lat = make([]time.Duration, r.storm.Alerts)
	failed := make([]bool, r.storm.Alerts)
	var next, done atomic.Int64
	var mu sync.Mutex
	start := time.Now()
	stopProgress := make(chan struct{})
	var progressDone sync.WaitGroup
	if r.progress != nil {
		progressDone.Add(1)
		go func() {
			defer progressDone.Done()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					r.progress(int(done.Load()), time.Since(start))
				case <-stopProgress:
					return
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for range r.storm.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= r.storm.Alerts || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				err := do(ctx, i)
				lat[i] = time.Since(t0)
				if err != nil {
					failed[i] = true
					mu.Lock()
					if firstErr == "" {
						firstErr = err.Error()
					}
					mu.Unlock()
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	wall = time.Since(start)
	close(stopProgress)
	progressDone.Wait()
	for _, f := range failed {
		if f {
			errs++
		}
	}
	return lat, wall, errs, firstErr
}

func summarize(name string, n int, lat []time.Duration, wall time.Duration, errs int, firstErr string) PhaseResult {
	sorted := append([]time.Duration(nil), lat...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	pct := func(p float64) float64 {
		if len(sorted) == 0 {
			return 0
		}
		return float64(sorted[int(p*float64(len(sorted)-1))].Microseconds()) / 1000
	}
	return PhaseResult{
		Name: name, Alerts: n, Seconds: wall.Seconds(), AlertsPerSecond: float64(n) / wall.Seconds(),
		P50Millis: pct(0.50), P99Millis: pct(0.99), Errors: errs, FirstError: firstErr, Incidents: map[string]int{},
	}
}

// IngestPhase posts the storm to POST {baseURL}/hooks/alertmanager, one alert per post.
func IngestPhase(ctx context.Context, storm Storm, baseURL, token string, progress func(int, time.Duration)) (PhaseResult, error) {
	bodies := make([][]byte, storm.Alerts)
	for i := range bodies {
		bodies[i] = payload([]alert.Alert{storm.Alert("hook", i, alert.StatusFiring)})
	}
	httpc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: storm.Concurrency}}
	defer httpc.CloseIdleConnections()
	commitsBefore, err := scrapeCounter(ctx, httpc, baseURL, "quench_ingest_commits_total")
	if err != nil {
		return PhaseResult{}, err
	}
	startedBefore, err := scrapeCounter(ctx, httpc, baseURL, "quench_ingest_incidents_started_total")
	if err != nil {
		return PhaseResult{}, err
	}
	begin := time.Now()
	var mu sync.Mutex
	dedup, queued := 0, 0
	perIncident := map[string]int{}
	r := runner{storm: storm, progress: progress}
	lat, wall, errs, firstErr := r.run(ctx, func(ctx context.Context, i int) error {
		resp, err := postHook(ctx, httpc, baseURL, token, bodies[i])
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		dedup += resp.Deduplicated
		queued += resp.Queued
		if resp.Unmatched > 0 {
			return fmt.Errorf("alert %d matched no runbook of the server: pass --alertname of an alert one of its runbooks answers", i)
		}
		for _, inc := range resp.Incidents {
			perIncident[inc.IncidentID] += inc.Alerts - inc.Deduplicated
		}
		return nil
	})
	res := summarize("ingest (group commit)", storm.Alerts, lat, wall, errs, firstErr)
	res.Deduplicated, res.Incidents, res.Queued = dedup, perIncident, queued
	// Queued alerts reach their incidents after their answer: the phase ends when quench's
	// inbox is empty.
	if err := WaitInboxEmpty(ctx, httpc, baseURL); err != nil {
		return res, err
	}
	delivered := time.Since(begin)
	res.DeliveredSeconds = delivered.Seconds()
	res.DeliveredAlertsPerSecond = float64(storm.Alerts) / delivered.Seconds()
	startedAfter, err := scrapeCounter(ctx, httpc, baseURL, "quench_ingest_incidents_started_total")
	if err != nil {
		return res, err
	}
	res.IncidentsCreated = int(startedAfter - startedBefore)
	commitsAfter, err := scrapeCounter(ctx, httpc, baseURL, "quench_ingest_commits_total")
	if err != nil {
		return res, err
	}
	res.Commits = int(commitsAfter - commitsBefore)
	if res.Commits > 0 {
		res.AlertsPerCommit = float64(storm.Alerts-dedup) / float64(res.Commits)
	}
	return res, nil
}

func postHook(ctx context.Context, httpc *http.Client, baseURL, token string, body []byte) (ingest.HookResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/hooks/alertmanager", bytes.NewReader(body))
	if err != nil {
		return ingest.HookResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return ingest.HookResponse{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return ingest.HookResponse{}, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusAccepted {
		return ingest.HookResponse{}, fmt.Errorf("POST /hooks/alertmanager: %s: %s", resp.Status, strings.TrimSpace(string(data)))
	}
	var out ingest.HookResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return ingest.HookResponse{}, fmt.Errorf("POST /hooks/alertmanager: decode answer: %w", err)
	}
	return out, nil
}

// WaitInboxEmpty polls quench's inbox gauge until every queued alert was delivered (up to
// two minutes: past it, quench is not delivering).
func WaitInboxEmpty(ctx context.Context, httpc *http.Client, baseURL string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		rows, err := scrapeCounter(ctx, httpc, baseURL, "quench_ingest_inbox_rows")
		if err != nil {
			return err
		}
		if rows == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%.0f queued alerts still wait in quench's inbox: %w", rows, ctx.Err())
		case <-tick.C:
		}
	}
}

// ScrapeMetric reads an unlabelled counter or gauge from GET {baseURL}/metrics (0 when absent).
func ScrapeMetric(ctx context.Context, httpc *http.Client, baseURL, name string) (float64, error) {
	return scrapeCounter(ctx, httpc, baseURL, name)
}

// scrapeCounter reads an unlabelled counter or gauge from GET {baseURL}/metrics.
func scrapeCounter(ctx context.Context, httpc *http.Client, baseURL, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read %s/metrics: %w", baseURL, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, sc.Err() // absent: none yet
}

// FloorClient is what the floor phase needs of a Temporal client; client.Client has it.
type FloorClient interface {
	SignalWithStartWorkflow(ctx context.Context, workflowID string, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
	QueryWorkflow(ctx context.Context, workflowID string, runID string, queryType string, args ...any) (converter.EncodedValue, error)
}

// FloorPhase sends the same storm straight to Temporal, on the same server: one
// signal-with-start per alert to a bare workflow per group (the floor workflow, lingering
// after its no-op activity), no coalescing and no interpreter. A floor worker must poll
// FloorTaskQueue.
func FloorPhase(ctx context.Context, storm Storm, c FloorClient, progress func(int, time.Duration)) (PhaseResult, error) {
	id := func(g int) string { return fmt.Sprintf("bench-floor-storm-%s-%d", storm.RunID, g) }
	delivered := make([]bool, storm.Alerts)
	r := runner{storm: storm, progress: progress}
	lat, wall, errs, firstErr := r.run(ctx, func(ctx context.Context, i int) error {
		g := storm.groupOf(i)
		_, err := c.SignalWithStartWorkflow(ctx, id(g), FloorSignal, []alert.Alert{storm.Alert("floor", i, alert.StatusFiring)},
			FloorOptions(id(g), false), FloorWorkflowName, FloorInput{Linger: true})
		delivered[i] = err == nil
		return err
	})
	res := summarize("floor: bare signal-with-start", storm.Alerts, lat, wall, errs, firstErr)
	res.DeliveredSeconds, res.DeliveredAlertsPerSecond = res.Seconds, res.AlertsPerSecond // answered once delivered
	res.Commits = storm.Alerts
	res.AlertsPerCommit = 1
	for i, ok := range delivered {
		if ok {
			res.Incidents[id(storm.groupOf(i))]++
		}
	}
	res.IncidentsCreated = len(res.Incidents)
	return res, nil
}

// VerifyFloor reads each floor workflow's count: it must equal what the phase delivered.
func VerifyFloor(ctx context.Context, c FloorClient, res PhaseResult) Verification {
	return verify(res, func(id string) (int, error) {
		v, err := c.QueryWorkflow(ctx, id, "", FloorQueryReceived)
		if err != nil {
			return 0, err
		}
		var n int
		return n, v.Get(&n)
	})
}

// Verification checks every alert reached its incident.
type Verification struct {
	Phase     string   `json:"phase"`
	Incidents int      `json:"incidents"`
	Expected  int      `json:"expected_alerts"`
	Received  int      `json:"received_alerts"`
	OK        bool     `json:"ok"`
	Problems  []string `json:"problems,omitempty"`
}

// Verify reads each incident's status: its Received must equal what the phase delivered.
func Verify(ctx context.Context, svc *incidents.Service, res PhaseResult) Verification {
	return verify(res, func(id string) (int, error) {
		st, err := svc.Status(ctx, id)
		return st.Alerts.Received, err
	})
}

func verify(res PhaseResult, received func(id string) (int, error)) Verification {
	v := Verification{Phase: res.Name, Incidents: len(res.Incidents)}
	ids := make([]string, 0, len(res.Incidents))
	for id := range res.Incidents {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		want := res.Incidents[id]
		v.Expected += want
		got, err := received(id)
		if err != nil {
			v.Problems = append(v.Problems, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		v.Received += got
		if got != want {
			v.Problems = append(v.Problems, fmt.Sprintf("%s received %d alerts, %d were delivered", id, got, want))
		}
	}
	v.OK = len(v.Problems) == 0
	return v
}

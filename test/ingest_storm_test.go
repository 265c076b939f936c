package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/cli/bench"
	"github.com/quench-dev/quench/internal/devstack"
	"github.com/quench-dev/quench/internal/ingest"
)

// stormPost is one webhook of the storm: some alerts of one Alertmanager group.
type stormPost struct {
	group  string
	alerts []alert.Alert
}

// stormTally is what the answers said about one group's incident.
type stormTally struct {
	incidentIDs  map[string]bool
	startedRuns  map[string]bool // runs that answers said their alerts started
	posted       int             // alerts posted
	deduplicated int             // alerts acknowledged as identical re-sends
	fingerprints map[string]bool
}

// TestIngestStormOneIncidentPerGroup posts 2,000 webhooks from 20 goroutines to a real
// embedded quench: 1,500 for one Alertmanager group (100 alerts, re-sent over and over)
// and 100 for each of five other groups (new alerts and one re-sent alert). Every answer
// must be 2xx; each group must make exactly one incident; each incident's own count of the
// alerts it received must equal what was posted minus what was acknowledged as duplicate.
func TestIngestStormOneIncidentPerGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))
	stack, err := devstack.StartInDir(ctx, devstack.DirOptions{Dir: t.TempDir(), Logger: logger,
		Runbooks: map[string]string{"bench-storm.yaml": bench.BenchRunbook}})
	require.NoError(t, err)
	defer stack.Stop()

	posts := stormPosts()
	work := make(chan stormPost)
	var mu sync.Mutex
	tally := map[string]*stormTally{}
	var failures []string
	var wg sync.WaitGroup
	httpc := &http.Client{Timeout: time.Minute}
	startedBefore, err := bench.ScrapeMetric(ctx, httpc, stack.HTTPURL, "quench_ingest_incidents_started_total")
	require.NoError(t, err)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				code, resp, err := stormPostHook(ctx, httpc, stack.HTTPURL, p.alerts)
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err.Error())
				case code != http.StatusOK && code != http.StatusAccepted:
					failures = append(failures, fmt.Sprintf("group %s: HTTP %d", p.group, code))
				default:
					stormCount(tally, p, resp)
				}
				mu.Unlock()
			}
		}()
	}
	for _, p := range posts {
		work <- p
	}
	close(work)
	wg.Wait()
	require.Empty(t, failures, "every post must be answered 2xx")
	// Alerts answered 202 "queued" reach their incident out of the inbox, after the answer.
	require.NoError(t, bench.WaitInboxEmpty(ctx, httpc, stack.HTTPURL))
	startedAfter, err := bench.ScrapeMetric(ctx, httpc, stack.HTTPURL, "quench_ingest_incidents_started_total")
	require.NoError(t, err)
	assert.Equal(t, 6.0, startedAfter-startedBefore, "each group started exactly one incident")

	require.Len(t, tally, 6)
	seen := map[string]bool{}
	totalDeduplicated := 0
	for group, tl := range tally {
		require.Len(t, tl.incidentIDs, 1, "group %s must land in one incident", group)
		id := onlyKey(tl.incidentIDs)
		assert.False(t, seen[id], "groups must not share an incident")
		seen[id] = true
		totalDeduplicated += tl.deduplicated

		// Several posts may share the commit that started the incident; all name one run,
		// the one running now.
		desc, err := stack.Client.DescribeWorkflowExecution(ctx, id, "")
		require.NoError(t, err)
		assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus())
		current := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
		for run := range tl.startedRuns {
			assert.Equal(t, current, run, "group %s: the run answers said started is the current one", group)
		}
		assert.LessOrEqual(t, len(tl.startedRuns), 1, "group %s: one run was started", group)
		st, err := stack.Incidents.Status(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, tl.posted-tl.deduplicated, st.Alerts.Received,
			"group %s: the incident counts every alert posted (%d) but the %d acknowledged as re-sends", group, tl.posted, tl.deduplicated)
		assert.Equal(t, len(tl.fingerprints), st.Alerts.Distinct, "group %s: every distinct alert reached the incident", group)
		assert.Equal(t, len(tl.fingerprints), st.Alerts.Firing, "group %s", group)
	}
	assert.Greater(t, totalDeduplicated, 0, "the hot group's re-sends were deduplicated")
	t.Logf("%d posts, %d alerts acknowledged as re-sends", len(posts), totalDeduplicated)
}

// stormPosts is the storm, shuffled the same way every run.
func stormPosts() []stormPost {
	var posts []stormPost
	hot := "storm-hot"
	for i := range 1500 {
		posts = append(posts, stormPost{group: hot, alerts: []alert.Alert{stormAlert(hot, fmt.Sprintf("hot-%d", i%100))}})
	}
	for g := range 5 {
		group := fmt.Sprintf("storm-%d", g)
		for i := range 100 {
			posts = append(posts, stormPost{group: group, alerts: []alert.Alert{
				stormAlert(group, fmt.Sprintf("%s-new-%d", group, i)),
				stormAlert(group, group+"-steady"),
			}})
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(posts), func(i, j int) { posts[i], posts[j] = posts[j], posts[i] })
	return posts
}

func stormAlert(group, fingerprint string) alert.Alert {
	return alert.Alert{
		Source: ingest.SourceAlertmanager, Key: group, Fingerprint: fingerprint, Status: alert.StatusFiring,
		Labels:      map[string]string{"alertname": bench.BenchAlertname, "group": group, "instance": fingerprint},
		Annotations: map[string]string{"summary": "storm"},
	}
}

func stormCount(tally map[string]*stormTally, p stormPost, resp ingest.HookResponse) {
	tl := tally[p.group]
	if tl == nil {
		tl = &stormTally{incidentIDs: map[string]bool{}, startedRuns: map[string]bool{}, fingerprints: map[string]bool{}}
		tally[p.group] = tl
	}
	tl.posted += len(p.alerts)
	for _, a := range p.alerts {
		tl.fingerprints[a.Fingerprint] = true
	}
	for _, inc := range resp.Incidents {
		tl.incidentIDs[inc.IncidentID] = true
		tl.deduplicated += inc.Deduplicated
		if inc.Result == ingest.ResultStarted {
			tl.startedRuns[inc.RunID] = true
		}
	}
}

// stormPostHook posts alerts (of one group) as an Alertmanager v4 webhook.
func stormPostHook(ctx context.Context, httpc *http.Client, base string, alerts []alert.Alert) (int, ingest.HookResponse, error) {
	type amAlert struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    string            `json:"startsAt"`
		EndsAt      string            `json:"endsAt"`
		Fingerprint string            `json:"fingerprint"`
	}
	var list []amAlert
	for _, a := range alerts {
		list = append(list, amAlert{Status: a.Status, Labels: a.Labels, Annotations: a.Annotations,
			StartsAt: "2026-01-01T00:00:00Z", EndsAt: "0001-01-01T00:00:00Z", Fingerprint: a.Fingerprint})
	}
	body, err := json.Marshal(map[string]any{
		"version": "4", "receiver": "quench", "status": "firing", "groupKey": alerts[0].Key, "truncatedAlerts": 0,
		"groupLabels": map[string]string{}, "commonLabels": map[string]string{}, "commonAnnotations": map[string]string{},
		"externalURL": "http://alertmanager.invalid", "alerts": list,
	})
	if err != nil {
		return 0, ingest.HookResponse{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/hooks/alertmanager", bytes.NewReader(body))
	if err != nil {
		return 0, ingest.HookResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, ingest.HookResponse{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, ingest.HookResponse{}, err
	}
	var out ingest.HookResponse
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted {
		if err := json.Unmarshal(data, &out); err != nil {
			return resp.StatusCode, out, fmt.Errorf("decode %s: %w", data, err)
		}
	}
	return resp.StatusCode, out, nil
}

func onlyKey(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}

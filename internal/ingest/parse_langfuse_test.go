package ingest

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/alert"
)

const langfuseKey = "langfuse/cproj7y1z2/cmon8x2k40001"

func TestParseLangfuseAlertFiring(t *testing.T) {
	d := parseFixture(t, SourceLangfuseAlerts, "langfuse_alert_firing.json")
	if d.ID != "4b8c1e0a-6f9d-4a53-9e0f-2d1c7a5b3e91" {
		t.Errorf("ID = %q, want the notification id", d.ID)
	}
	title := "[ALERT] p95 latency gpt-4o"
	assertAlerts(t, d.Alerts, []alert.Alert{{
		Source: SourceLangfuseAlerts, Key: langfuseKey, Fingerprint: langfuseKey, Status: alert.StatusFiring,
		Severity: "critical", Title: title,
		Labels: map[string]string{
			"alertname": LangfuseLatencyAlert, "langfuse_project": "cproj7y1z2", "langfuse_alert_id": "cmon8x2k40001",
			"langfuse_view": "observations", "model": "gpt-4o", "environment": "production", "route": "chat",
		},
		Annotations: map[string]string{
			"severity": "ALERT", "metric_alert": LangfuseLatencyAlert, "alert_name": "p95 latency gpt-4o", "summary": title,
			"description": "p95 latency is 8412 ms (threshold: 5000 ms) over the last 1 hour", "window": "3600000",
			"fromTimestamp": "2026-12-03T13:00:00Z", "toTimestamp": "2026-12-03T14:00:00Z",
		},
		StartsAt: time.Date(2026, 12, 3, 14, 0, 2, 0, time.UTC),
		Links:    []alert.Link{{Name: "langfuse", URL: "https://cloud.langfuse.com/project/cproj7y1z2/monitors/cmon8x2k40001"}},
	}}, []string{`"monitorId":"cmon8x2k40001"`})
}

// The recovery carries the breach's labels (its title's "[OK] " is not part of the name), so
// it reaches the incident the breach started and resolves it.
func TestParseLangfuseAlertResolved(t *testing.T) {
	firing := parseFixture(t, SourceLangfuseAlerts, "langfuse_alert_firing.json").Alerts[0]
	a := parseFixture(t, SourceLangfuseAlerts, "langfuse_alert_resolved.json").Alerts[0]
	if a.Status != alert.StatusResolved || a.Key != firing.Key || a.Fingerprint != firing.Fingerprint {
		t.Errorf("resolved %q key %q fingerprint %q: want the breach's alert resolved", a.Status, a.Key, a.Fingerprint)
	}
	if strings.Join(sortedPairs(a.Labels), ",") != strings.Join(sortedPairs(firing.Labels), ",") {
		t.Errorf("labels differ from the breach's:\n got %v\nwant %v", a.Labels, firing.Labels)
	}
	if want := time.Date(2026, 12, 3, 15, 0, 2, 0, time.UTC); !a.EndsAt.Equal(want) || !a.StartsAt.IsZero() {
		t.Errorf("StartsAt %v EndsAt %v, want the end %v", a.StartsAt, a.EndsAt, want)
	}
}

func sortedPairs(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// A warning does not fail over a route: it is kept under its own alert name.
func TestParseLangfuseAlertWarning(t *testing.T) {
	a := parseFixture(t, SourceLangfuseAlerts, "langfuse_alert_warning.json").Alerts[0]
	if a.Labels["alertname"] != LangfuseWarning || a.Annotations["metric_alert"] != LangfuseLatencyAlert || a.Status != alert.StatusFiring || a.Severity != "warning" {
		t.Errorf("warning alert %+v", a)
	}
}

func TestParseLangfuseAlertMetrics(t *testing.T) {
	cost := parseFixture(t, SourceLangfuseAlerts, "langfuse_alert_cost_firing.json").Alerts[0]
	if cost.Labels["alertname"] != LangfuseCostAlert || cost.Labels["agent"] != "support-agent" {
		t.Errorf("cost alert labels %v: want LangfuseCostAlert with the user as agent", cost.Labels)
	}
	score := parseFixture(t, SourceLangfuseAlerts, "langfuse_alert_score_firing.json").Alerts[0]
	if score.Labels["alertname"] != LangfuseScoreAlert || score.Labels["langfuse_view"] != "scores-numeric" {
		t.Errorf("score alert labels %v", score.Labels)
	}
	for _, c := range []struct{ name, view, want string }{
		{"avg latency", "observations", LangfuseLatencyAlert},
		{"count errors", "observations", LangfuseErrorAlert},
		{"Total Cost per day", "OBSERVATIONS", LangfuseCostAlert},
		{"p95 cost", "SCORES_NUMERIC", LangfuseScoreAlert},
		{"trace count", "observations", LangfuseAlert},
	} {
		if got := langfuseMetric(c.name, c.view, false); got != c.want {
			t.Errorf("%q on %s: %s, want %s", c.name, c.view, got, c.want)
		}
	}
	if got := langfuseMetric("trace count", "observations", true); got != LangfuseErrorAlert {
		t.Errorf("a level = ERROR filter: %s, want %s", got, LangfuseErrorAlert)
	}
}

// UNKNOWN and PAUSED say nothing about the metric: accepted, no alert.
func TestParseLangfuseAlertQuietSeverities(t *testing.T) {
	for _, sev := range []string{"UNKNOWN", "PAUSED"} {
		body := strings.Replace(string(readFixture(t, "langfuse_alert_firing.json")), `"severity": "ALERT"`, `"severity": "`+sev+`"`, 1)
		d, err := ParseLangfuseAlerts([]byte(body))
		if err != nil || len(d.Alerts) != 0 {
			t.Errorf("%s: %d alerts, %v", sev, len(d.Alerts), err)
		}
	}
}

func TestParseLangfuseAlertsRefusesBadPayloads(t *testing.T) {
	firing := string(readFixture(t, "langfuse_alert_firing.json"))
	edit := func(old, new string) string {
		if !strings.Contains(firing, old) {
			t.Fatalf("fixture has no %q", old)
		}
		return strings.Replace(firing, old, new, 1)
	}
	for _, c := range []struct{ name, body, field, hint string }{
		{"prompt-version event", string(readFixture(t, "langfuse_prompt_version.json")), "type", "/hooks/langfuse"},
		{"no type", `{"payload":{}}`, "type", ""},
		{"unknown type", edit(`"monitor-alert"`, `"trace-created"`), "type", ""},
		{"other api version", edit(`"apiVersion": "v1"`, `"apiVersion": "v2"`), "apiVersion", ""},
		{"no payload", `{"type":"monitor-alert","apiVersion":"v1"}`, "payload", ""},
		{"payload not an object", `{"type":"monitor-alert","payload":[1]}`, "payload", ""},
		{"no severity", edit(`"severity": "ALERT",`, ``), "payload.severity", ""},
		{"unknown severity", edit(`"severity": "ALERT"`, `"severity": "CRITICAL"`), "payload.severity", ""},
		{"no monitorId", edit(`"monitorId": "cmon8x2k40001",`, ``), "payload.monitorId", ""},
		{"no projectId", edit(`"projectId": "cproj7y1z2",`, ``), "payload.projectId", ""},
		{"javascript permalink", edit(`"permalink": "https://cloud.langfuse.com/project/cproj7y1z2/monitors/cmon8x2k40001"`, `"permalink": "javascript:alert(1)"`), "payload.permalink", ""},
		{"bad timestamp", edit(`"severity": "ALERT",
    "timestamp": "2026-12-03T14:00:02.000Z"`, `"severity": "ALERT", "timestamp": "yesterday"`), "payload.timestamp", ""},
		{"title not a string", edit(`"title": "[ALERT] p95 latency gpt-4o"`, `"title": 5`), "payload.message.title", ""},
		{"filters not an array", edit(`"filters": [`, `"filters": "all", "unused": [`), "payload.filters", ""},
		{"filter not an object", edit(`"filters": [`, `"filters": [7, `), "payload.filters[0]", ""},
		{"too many filters", edit(`"filters": [`, `"filters": [`+strings.Repeat(`{},`, MaxLabels)), "payload.filters", ""},
		{"duplicate severity", edit(`"severity": "ALERT"`, `"severity": "OK", "severity": "ALERT"`), "payload.severity", ""},
		{"key too long", edit(`"monitorId": "cmon8x2k40001"`, `"monitorId": "`+strings.Repeat("m", MaxKeyBytes)+`"`), "payload.monitorId", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseLangfuseAlerts([]byte(c.body))
			if err == nil {
				t.Fatal("accepted")
			}
			if got := fieldOf(t, err); got != c.field {
				t.Errorf("field %q, want %q (%v)", got, c.field, err)
			}
			if c.hint != "" && !strings.Contains(err.Error(), c.hint) {
				t.Errorf("%v: should point at %s", err, c.hint)
			}
		})
	}
}

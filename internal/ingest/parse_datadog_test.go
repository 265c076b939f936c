package ingest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/alert"
)

func TestParseDatadogTriggered(t *testing.T) {
	d := parseFixture(t, SourceDatadog, "datadog_triggered.json")
	if d.ID != "7573983420571063290" {
		t.Errorf("ID = %q, want the event id", d.ID)
	}
	title := "[Triggered on {provider:openai,env:prod}] LLM provider error rate high"
	assertAlerts(t, d.Alerts, []alert.Alert{{
		Source: SourceDatadog, Key: "7573983420571063101", Fingerprint: "7573983420571063101",
		Status: alert.StatusFiring, Severity: "P1", Title: title,
		Labels: map[string]string{
			"env": "prod", "monitor": "", "service": "llm-gateway", "team": "ml,platform",
			"provider": "openai", "alertname": "LLM provider error rate high",
			"monitor_id": "148219341", "priority": "P1",
		},
		Annotations: map[string]string{"transition": "Triggered", "scope": "env:prod, provider:openai", "summary": title},
		StartsAt:    time.UnixMilli(1714564800000).UTC(),
		Links:       []alert.Link{{Name: "datadog", URL: "https://app.datadoghq.com/event/event?id=7573983420571063290"}},
	}}, []string{`"alert_cycle_key":"7573983420571063101"`})
}

// Recovered resolves the same cycle key. date in seconds ($DATE_POSIX, bare) reads as well as
// milliseconds, and an unfilled $VARIABLE is no value (alertname falls back to the title).
func TestParseDatadogRecovered(t *testing.T) {
	d := parseFixture(t, SourceDatadog, "datadog_recovered.json")
	a := d.Alerts[0]
	if a.Key != "7573983420571063101" || a.Status != alert.StatusResolved {
		t.Errorf("Key %q Status %q: want the triggered cycle key, resolved", a.Key, a.Status)
	}
	if want := time.Unix(1714566600, 0).UTC(); !a.EndsAt.Equal(want) || !a.StartsAt.IsZero() {
		t.Errorf("StartsAt %v EndsAt %v: want no start, end %v", a.StartsAt, a.EndsAt, want)
	}
	if a.Labels["alertname"] != "LLM provider error rate high" {
		t.Errorf("alertname %q: want the monitor name from the title", a.Labels["alertname"])
	}
}

func TestParseDatadogTransitions(t *testing.T) {
	for transition, want := range map[string]string{
		"Triggered": alert.StatusFiring, "Re-Triggered": alert.StatusFiring, "Warn": alert.StatusFiring,
		"No Data": alert.StatusFiring, "Renotify": alert.StatusFiring, "Recovered": alert.StatusResolved,
		"recovered": alert.StatusResolved,
	} {
		body, _ := json.Marshal(map[string]string{"alert_id": "1", "transition": transition})
		d, err := ParseDatadog(body)
		if err != nil {
			t.Errorf("%s: %v", transition, err)
			continue
		}
		if got := d.Alerts[0].Status; got != want {
			t.Errorf("%s: status %q, want %q", transition, got, want)
		}
		if d.Alerts[0].Key != "1" {
			t.Errorf("%s: key %q: want alert_id when there is no cycle key", transition, d.Alerts[0].Key)
		}
	}
}

// The template quench publishes is what the parser reads, once Datadog fills it in.
func TestParseDatadogTemplateRoundTrip(t *testing.T) {
	filled := strings.NewReplacer(
		"$ID", "1", "$ALERT_ID", "2", "$ALERT_CYCLE_KEY", "3", "$ALERT_TRANSITION", "Triggered",
		"$EVENT_TITLE", "[Triggered] M", "$ALERT_TITLE", "M", "$ALERT_SCOPE", "host:a",
		"$ALERT_PRIORITY", "P2", "$TAGS", "env:prod", "$LINK", "https://app.datadoghq.com/monitors/2",
		"$DATE", "1714564800000",
	).Replace(DatadogTemplate)
	d, err := ParseDatadog([]byte(filled))
	if err != nil {
		t.Fatal(err)
	}
	a := d.Alerts[0]
	if a.Key != "3" || a.Labels["alertname"] != "M" || a.Labels["host"] != "a" || a.Labels["env"] != "prod" || a.Severity != "P2" || len(a.Links) != 1 {
		t.Errorf("filled template parsed to %+v", a)
	}
}

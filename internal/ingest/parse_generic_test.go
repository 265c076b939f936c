package ingest

import (
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/alert"
)

func TestParseGenericSingle(t *testing.T) {
	d := parseFixture(t, SourceGeneric, "generic_single.json")
	if d.ID != "ci-run-8812" {
		t.Errorf("ID = %q", d.ID)
	}
	labels := map[string]string{"alertname": "PromptEvalRegression", "prompt": "summarise", "version": "v8"}
	assertAlerts(t, d.Alerts, []alert.Alert{{
		Source: SourceGeneric, Key: "eval-regression/summarise", Fingerprint: labelsFingerprint(labels),
		Status: alert.StatusFiring, Severity: "critical", Title: "Eval score dropped 12 points on summarise-v8",
		Labels:      labels,
		Annotations: map[string]string{"summary": "faithfulness 0.71 (was 0.83)", "runbook_url": "https://runbooks.example.com/prompt-regression"},
		StartsAt:    time.Date(2024, 5, 1, 6, 15, 0, 0, time.UTC),
		Links:       []alert.Link{{Name: "eval report", URL: "https://ci.example.com/runs/8812/eval"}},
	}}, []string{`"key":"eval-regression/summarise"`})
}

// Top-level fields are defaults for every entry of a batch; an entry's own values win.
func TestParseGenericBatch(t *testing.T) {
	d := parseFixture(t, SourceGeneric, "generic_batch.json")
	canary := alert.Link{Name: "canary", URL: "https://canary.example.com/42"}
	first := map[string]string{"alertname": "CanaryCheck", "model": "gpt-4o-2024-08-06", "check": "refusals"}
	third := map[string]string{"alertname": "CanaryOther", "model": "gpt-4o-2024-08-06"}
	assertAlerts(t, d.Alerts, []alert.Alert{
		{
			Source: SourceGeneric, Key: "canary/gpt-4o-2024-08-06", Fingerprint: labelsFingerprint(first),
			Status: alert.StatusResolved, Title: "CanaryCheck", Labels: first,
			Annotations: map[string]string{"owner": "ml-platform"},
			StartsAt:    time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
			EndsAt:      time.Date(2024, 5, 1, 10, 30, 0, 0, time.UTC),
			Links:       []alert.Link{canary},
		},
		{
			Source: SourceGeneric, Key: "canary/gpt-4o-2024-08-06", Fingerprint: "latency-p99",
			Status: alert.StatusFiring, Severity: "warning", Title: "p99 up 40%",
			Labels:      map[string]string{"alertname": "CanaryCheck", "model": "gpt-4o-2024-08-06", "check": "latency", "severity": "warning"},
			Annotations: map[string]string{"owner": "sre"},
			Links:       []alert.Link{canary},
		},
		{
			Source: SourceGeneric, Key: "canary/other", Fingerprint: labelsFingerprint(third),
			Status: alert.StatusFiring, Title: "CanaryOther", Labels: third,
			Annotations: map[string]string{"owner": "ml-platform"},
			Links:       []alert.Link{canary},
		},
	}, []string{`"check":"refusals"`, `"fingerprint":"latency-p99"`, `"key":"canary/other"`})
}

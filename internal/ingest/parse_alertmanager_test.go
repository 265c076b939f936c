package ingest

import (
	"net/url"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/alert"
)

const amProviderGroup = `{}/{severity="critical"}:{alertname="LLMProviderErrorRate", provider="openai"}`

const amGenerator = "http://prometheus:9090/graph?g0.expr=llm_errors_ratio%3E0.1&g0.tab=1"

func amSilence(base, filter string) alert.Link {
	return alert.Link{Name: "silence", URL: base + "/#/silences/new?filter=" + url.QueryEscape(filter)}
}

func TestParseAlertmanagerFiringGroup(t *testing.T) {
	d := parseFixture(t, SourceAlertmanager, "alertmanager_firing.json")
	if d.Truncated != 0 || d.ID != "" {
		t.Errorf("Truncated = %d, ID = %q; want 0 and none", d.Truncated, d.ID)
	}
	assertAlerts(t, d.Alerts, []alert.Alert{
		{
			Source: SourceAlertmanager, Key: amProviderGroup, Fingerprint: "3f1c9a2b7d4e5f60",
			Status: alert.StatusFiring, Severity: "critical", Title: "openai error rate 23% over 5m",
			Labels: map[string]string{
				"alertname": "LLMProviderErrorRate", "job": "llm-gateway", "provider": "openai",
				"model": "gpt-4o", "severity": "critical",
			},
			Annotations: map[string]string{
				"summary":     "openai error rate 23% over 5m",
				"description": "5xx and timeouts from openai are above 10% for 5 minutes.",
				"runbook_url": "https://runbooks.example.com/provider-outage",
			},
			StartsAt: time.Date(2024, 5, 1, 12, 0, 30, 123e6, time.UTC),
			Links: []alert.Link{
				{Name: "generator", URL: amGenerator},
				amSilence("http://alertmanager:9093", `{alertname="LLMProviderErrorRate",job="llm-gateway",model="gpt-4o",provider="openai",severity="critical"}`),
			},
		},
		{
			Source: SourceAlertmanager, Key: amProviderGroup, Fingerprint: "a0b1c2d3e4f50617",
			Status: alert.StatusFiring, Severity: "critical", Title: "openai error rate 17% over 5m",
			Labels: map[string]string{
				"alertname": "LLMProviderErrorRate", "job": "llm-gateway", "provider": "openai",
				"model": "gpt-4o-mini", "severity": "critical",
			},
			Annotations: map[string]string{"summary": "openai error rate 17% over 5m"},
			StartsAt:    time.Date(2024, 5, 1, 12, 1, 0, 0, time.UTC),
			Links: []alert.Link{
				{Name: "generator", URL: amGenerator},
				amSilence("http://alertmanager:9093", `{alertname="LLMProviderErrorRate",job="llm-gateway",model="gpt-4o-mini",provider="openai",severity="critical"}`),
			},
		},
	}, []string{`"fingerprint":"3f1c9a2b7d4e5f60"`, `"fingerprint":"a0b1c2d3e4f50617"`})
}

func TestParseAlertmanagerResolvedKeepsEndsAt(t *testing.T) {
	d := parseFixture(t, SourceAlertmanager, "alertmanager_resolved.json")
	assertAlerts(t, d.Alerts, []alert.Alert{{
		Source: SourceAlertmanager, Key: amProviderGroup, Fingerprint: "3f1c9a2b7d4e5f60",
		Status: alert.StatusResolved, Severity: "critical", Title: "openai error rate 23% over 5m",
		Labels: map[string]string{
			"alertname": "LLMProviderErrorRate", "job": "llm-gateway", "provider": "openai",
			"model": "gpt-4o", "severity": "critical",
		},
		Annotations: map[string]string{"summary": "openai error rate 23% over 5m"},
		StartsAt:    time.Date(2024, 5, 1, 12, 0, 30, 123e6, time.UTC),
		EndsAt:      time.Date(2024, 5, 1, 12, 25, 30, 0, time.UTC),
		Links: []alert.Link{
			{Name: "generator", URL: amGenerator},
			amSilence("http://alertmanager:9093", `{alertname="LLMProviderErrorRate",job="llm-gateway",model="gpt-4o",provider="openai",severity="critical"}`),
		},
	}}, []string{`"status":"resolved"`})
}

// A group still firing carries an alert already resolved: each alert keeps its own status,
// and an alert without a fingerprint gets one from its labels.
func TestParseAlertmanagerPartlyResolvedGroup(t *testing.T) {
	d := parseFixture(t, SourceAlertmanager, "alertmanager_partly_resolved.json")
	key := `{}:{alertname="LLMLatencyHigh"}`
	secondLabels := map[string]string{"alertname": "LLMLatencyHigh", "provider": "anthropic", "route": "/summarise", "severity": "warning"}
	assertAlerts(t, d.Alerts, []alert.Alert{
		{
			Source: SourceAlertmanager, Key: key, Fingerprint: "1111111111111111",
			Status: alert.StatusResolved, Severity: "warning", Title: "LLMLatencyHigh",
			Labels:      map[string]string{"alertname": "LLMLatencyHigh", "provider": "anthropic", "route": "/chat", "severity": "warning"},
			Annotations: map[string]string{"description": "p99 latency above 8s"},
			StartsAt:    time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC),
			EndsAt:      time.Date(2024, 5, 1, 9, 20, 0, 0, time.UTC),
			Links: []alert.Link{
				{Name: "generator", URL: "http://prometheus:9090/graph?g0.expr=p99%3E8"},
				amSilence("http://alertmanager:9093", `{alertname="LLMLatencyHigh",provider="anthropic",route="/chat",severity="warning"}`),
			},
		},
		{
			Source: SourceAlertmanager, Key: key, Fingerprint: labelsFingerprint(secondLabels),
			Status: alert.StatusFiring, Severity: "warning", Title: "LLMLatencyHigh",
			Labels:      secondLabels,
			Annotations: map[string]string{"description": "p99 latency above 8s"},
			StartsAt:    time.Date(2024, 5, 1, 9, 5, 0, 0, time.UTC),
			Links: []alert.Link{
				{Name: "generator", URL: "http://prometheus:9090/graph?g0.expr=p99%3E8"},
				amSilence("http://alertmanager:9093", `{alertname="LLMLatencyHigh",provider="anthropic",route="/summarise",severity="warning"}`),
			},
		},
	}, []string{`"route":"/chat"`, `"route":"/summarise"`})
	if fp := d.Alerts[1].Fingerprint; len(fp) != 16 || fp == d.Alerts[0].Fingerprint {
		t.Errorf("derived fingerprint %q: want 16 hex digits distinct from the other alert's", fp)
	}
}

func TestParseAlertmanagerTruncatedGroup(t *testing.T) {
	d := parseFixture(t, SourceAlertmanager, "alertmanager_truncated.json")
	if d.Truncated != 3 {
		t.Errorf("Truncated = %d, want 3", d.Truncated)
	}
	// No externalURL and an empty generatorURL: no links at all.
	assertAlerts(t, d.Alerts, []alert.Alert{
		{
			Source: SourceAlertmanager, Key: `{}:{alertname="LLMCostVelocity"}`, Fingerprint: "c0ffee0000000001",
			Status: alert.StatusFiring, Severity: "critical", Title: "spend $41/h, budget $10/h",
			Labels:      map[string]string{"alertname": "LLMCostVelocity", "team": "search", "severity": "critical"},
			Annotations: map[string]string{"summary": "spend $41/h, budget $10/h"},
			StartsAt:    time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
		},
		{
			Source: SourceAlertmanager, Key: `{}:{alertname="LLMCostVelocity"}`, Fingerprint: "c0ffee0000000002",
			Status: alert.StatusFiring, Severity: "critical", Title: "spend $22/h, budget $10/h",
			Labels:      map[string]string{"alertname": "LLMCostVelocity", "team": "ads", "severity": "critical"},
			Annotations: map[string]string{"summary": "spend $22/h, budget $10/h"},
			StartsAt:    time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
		},
	}, nil)
}

func TestParseAlertmanagerCapsRawAndAnnotations(t *testing.T) {
	long := make([]byte, 3*MaxAnnotationValueBytes)
	for i := range long {
		long[i] = 'x'
	}
	body := `{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing",` +
		`"labels":{"alertname":"A"},"annotations":{"description":"` + string(long) + `"}}]}`
	d, err := ParseAlertmanager([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	a := d.Alerts[0]
	if got := len(a.Annotations["description"]); got != MaxAnnotationValueBytes {
		t.Errorf("description cut to %d bytes, want %d", got, MaxAnnotationValueBytes)
	}
	if len(a.Raw) != MaxRawBytes {
		t.Errorf("Raw is %d bytes, want it cut to %d", len(a.Raw), MaxRawBytes)
	}
}

func TestParseGrafanaFiringWithValuesAndDashboards(t *testing.T) {
	d := parseFixture(t, SourceGrafana, "grafana_firing.json")
	key := `{}/{__grafana_autogenerated__="true"}/{__grafana_receiver__="quench"}:{alertname="OutputLengthDrift", grafana_folder="LLM"}`
	rule := "https://grafana.example.com/alerting/grafana/ddlk3x0/view?orgId=1"
	assertAlerts(t, d.Alerts, []alert.Alert{
		{
			Source: SourceGrafana, Key: key, Fingerprint: "8e1f7a6c2b3d4e5f",
			Status: alert.StatusFiring, Severity: "warning",
			Title: "Output tokens up 43% vs last week for summarise-v7",
			Labels: map[string]string{
				"alertname": "OutputLengthDrift", "grafana_folder": "LLM", "model": "gpt-4o",
				"prompt": "summarise-v7", "severity": "warning",
			},
			Annotations: map[string]string{
				"summary":     "Output tokens up 43% vs last week for summarise-v7",
				"description": "Mean output tokens 812 (baseline 568).",
				"value.A":     "812.5", "value.B": "1.43", "value.C": "1",
			},
			StartsAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
			Links: []alert.Link{
				{Name: "generator", URL: rule},
				{Name: "silence", URL: "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DOutputLengthDrift&matcher=model%3Dgpt-4o&orgId=1"},
				{Name: "dashboard", URL: "https://grafana.example.com/d/llm-quality?orgId=1"},
				{Name: "panel", URL: "https://grafana.example.com/d/llm-quality?orgId=1&viewPanel=4"},
				{Name: "image", URL: "https://grafana.example.com/public/img/attachments/abc123.png"},
			},
		},
		{
			// Empty dashboard/panel URLs give no link; a null value gives no annotation.
			Source: SourceGrafana, Key: key, Fingerprint: "7d0e6b5a4c3b2a19",
			Status: alert.StatusFiring, Severity: "warning", Title: "OutputLengthDrift",
			Labels: map[string]string{
				"alertname": "OutputLengthDrift", "grafana_folder": "LLM", "model": "claude-3-5-sonnet",
				"prompt": "summarise-v7", "severity": "warning",
			},
			Annotations: map[string]string{"value.A": "1200"},
			StartsAt:    time.Date(2024, 5, 1, 12, 2, 0, 0, time.UTC),
			Links: []alert.Link{
				{Name: "generator", URL: rule},
				{Name: "silence", URL: "https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DOutputLengthDrift&matcher=model%3Dclaude-3-5-sonnet&orgId=1"},
			},
		},
	}, []string{`"values":{"A":812.5`, `"fingerprint":"7d0e6b5a4c3b2a19"`})
}

func TestParseGrafanaResolved(t *testing.T) {
	d := parseFixture(t, SourceGrafana, "grafana_resolved.json")
	if len(d.Alerts) != 1 {
		t.Fatalf("got %d alerts, want 1", len(d.Alerts))
	}
	a := d.Alerts[0]
	if a.Status != alert.StatusResolved || !a.EndsAt.Equal(time.Date(2024, 5, 1, 12, 40, 0, 0, time.UTC)) {
		t.Errorf("Status %q EndsAt %v: want resolved at 12:40", a.Status, a.EndsAt)
	}
	if _, ok := a.Annotations["value.A"]; ok || len(a.Annotations) != 1 {
		t.Errorf("null values must add no annotation: %v", a.Annotations)
	}
	if len(a.Links) != 4 {
		t.Errorf("links %v: want generator, silence, dashboard, panel", a.Links)
	}
}

// Each hook reads its own format and says where the other one goes.
func TestParseAlertmanagerAndGrafanaRefuseEachOthersVersion(t *testing.T) {
	_, err := ParseGrafana(readFixture(t, "alertmanager_firing.json"))
	if f := fieldOf(t, err); f != "version" || !containsAll(err.Error(), `"4"`, "/hooks/alertmanager") {
		t.Errorf("grafana hook given an Alertmanager payload: %v", err)
	}
	_, err = ParseAlertmanager(readFixture(t, "grafana_firing.json"))
	if f := fieldOf(t, err); f != "version" || !containsAll(err.Error(), `"1"`, "/hooks/grafana") {
		t.Errorf("alertmanager hook given a Grafana payload: %v", err)
	}
	_, err = ParseAlertmanager([]byte(`{"version":"3","groupKey":"g","status":"firing","alerts":[]}`))
	if f := fieldOf(t, err); f != "version" || !containsAll(err.Error(), `"3"`, `version "4"`) {
		t.Errorf("unknown version: %v", err)
	}
}

package ingest

import (
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/alert"
)

const litellmKeyToken = "9c2f0e8a41d7b3e6f5a8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2"

// A key crossing its budget is a cost-runaway alert about that key: the hashed token (what
// LiteLLM's /key/block takes) is the agent, one incident per key.
func TestParseLiteLLMKeyBudgetCrossed(t *testing.T) {
	d := parseFixture(t, SourceLiteLLM, "litellm_key_budget_crossed.json")
	key := "litellm/budget/key/" + litellmKeyToken
	title := "Key Budget: Budget Crossed\n Total Budget:`10.0`"
	assertAlerts(t, d.Alerts, []alert.Alert{{
		Source: SourceLiteLLM, Key: key, Fingerprint: key + "/budget_crossed", Status: alert.StatusFiring,
		Severity: "critical", Title: title,
		Labels: map[string]string{
			"alertname": LiteLLMKeyBudgetAlert, "agent": litellmKeyToken, "key_alias": "support-agent",
			"user": "svc-support-bot", "litellm_event": "budget_crossed", "litellm_event_group": "key",
		},
		Annotations: map[string]string{"event": "budget_crossed", "spend": "10.0421", "max_budget": "10", "summary": title},
	}}, []string{`"event":"budget_crossed"`})

	withEmail := strings.Replace(string(readFixture(t, "litellm_key_budget_crossed.json")), `"user_email": null`, `"user_email": "dana@example.com"`, 1)
	e, err := ParseLiteLLM([]byte(withEmail))
	if err != nil {
		t.Fatal(err)
	}
	if raw := e.Alerts[0].Raw; strings.Contains(raw, "dana@example.com") || !strings.Contains(raw, `"key_alias":"support-agent"`) {
		t.Errorf("the raw event should keep all but the email: %s", raw)
	}
}

// The earlier warnings of the same key land in the same incident as separate alerts.
func TestParseLiteLLMKeyBudgetWarningsShareTheIncident(t *testing.T) {
	crossed := parseFixture(t, SourceLiteLLM, "litellm_key_budget_crossed.json").Alerts[0]
	for _, name := range []string{"litellm_key_threshold_crossed.json", "litellm_key_projected_limit.json"} {
		a := parseFixture(t, SourceLiteLLM, name).Alerts[0]
		if a.Key != crossed.Key || a.Fingerprint == crossed.Fingerprint {
			t.Errorf("%s: key %q fingerprint %q: want the key's incident %q as another alert", name, a.Key, a.Fingerprint, crossed.Key)
		}
		if a.Labels["alertname"] != LiteLLMKeyBudgetAlert || a.Severity != "warning" || a.Status != alert.StatusFiring {
			t.Errorf("%s: %+v: want a firing warning LiteLLMKeyBudgetAlert", name, a)
		}
	}
	p := parseFixture(t, SourceLiteLLM, "litellm_key_projected_limit.json").Alerts[0]
	if p.Annotations["projected_spend"] != "31.5" || p.Annotations["projected_exceeded_date"] != "2026-12-05" {
		t.Errorf("projection annotations %v", p.Annotations)
	}
}

// A team budget has no key to block: another alert name, the team as the holder.
func TestParseLiteLLMTeamBudget(t *testing.T) {
	a := parseFixture(t, SourceLiteLLM, "litellm_team_budget_crossed.json").Alerts[0]
	if a.Key != "litellm/budget/team/team-growth" || a.Labels["alertname"] != LiteLLMBudgetAlert ||
		a.Labels["team"] != "team-growth" || a.Labels["team_alias"] != "growth" || a.Labels["agent"] != "" {
		t.Errorf("team budget alert %+v", a)
	}
}

// spend_tracked fires on every customer request and key_created on every new key: accepted,
// no incident.
func TestParseLiteLLMQuietEvents(t *testing.T) {
	if d := parseFixture(t, SourceLiteLLM, "litellm_spend_tracked.json"); len(d.Alerts) != 0 {
		t.Errorf("spend_tracked gave %d alerts, want none", len(d.Alerts))
	}
	for _, body := range []string{
		`{"spend":0,"event":"key_created","event_group":"key","event_message":"API Key Created"}`,
		`{"spend":0,"event":"internal_user_created","event_group":"internal_user","event_message":"User invited"}`,
	} {
		d, err := ParseLiteLLM([]byte(body))
		if err != nil || len(d.Alerts) != 0 {
			t.Errorf("%s: %d alerts, %v: want none", body, len(d.Alerts), err)
		}
	}
	if d := parseFixture(t, SourceLiteLLM, "litellm_daily_report.json"); len(d.Alerts) != 0 {
		t.Errorf("the daily report gave %d alerts, want none", len(d.Alerts))
	}
}

// LiteLLM's own outage alert (5+ timeouts or 5xx of one deployment): provider, model and
// API base from its text; minor then major are two alerts of one incident.
func TestParseLiteLLMOutage(t *testing.T) {
	minor := parseFixture(t, SourceLiteLLM, "litellm_outage_minor.json").Alerts[0]
	key := "litellm/outage/azure/azure/gpt-4o-eu"
	assertAlerts(t, []alert.Alert{minor}, []alert.Alert{{
		Source: SourceLiteLLM, Key: key, Fingerprint: key + "/minor", Status: alert.StatusFiring,
		Severity: "warning", Title: "Minor Service Outage",
		Labels: map[string]string{
			"alertname": LiteLLMDeploymentOutage, "provider": "azure", "model": "azure/gpt-4o-eu",
			"api_base": "https://acme-eu.openai.azure.com",
		},
		Annotations: map[string]string{"outage": "minor", "summary": "Minor Service Outage", "text": readLiteLLMText(t, "litellm_outage_minor.json")},
	}}, []string{"Minor Service Outage"})

	major := parseFixture(t, SourceLiteLLM, "litellm_outage_major.json").Alerts[0]
	if major.Key != key || major.Fingerprint != key+"/major" || major.Severity != "critical" {
		t.Errorf("major outage key %q fingerprint %q severity %q", major.Key, major.Fingerprint, major.Severity)
	}
	if major.Annotations["num_alerts"] != "2" || strings.HasPrefix(major.Annotations["text"], "[Num Alerts") {
		t.Errorf("a squashed batch: num_alerts %q, text %.40q", major.Annotations["num_alerts"], major.Annotations["text"])
	}

	region := parseFixture(t, SourceLiteLLM, "litellm_region_outage.json").Alerts[0]
	if region.Labels["alertname"] != LiteLLMRegionOutage || region.Labels["region"] != "eu-west-1" ||
		region.Labels["provider"] != "bedrock" || region.Key != "litellm/region-outage/bedrock/eu-west-1" {
		t.Errorf("region outage %+v", region)
	}
}

func readLiteLLMText(t *testing.T, name string) string {
	t.Helper()
	root, err := decodeBody(readFixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := root.str("text")
	return s
}

// A slow response names the model and the caller's key; the prompt LiteLLM quotes is not kept.
func TestParseLiteLLMSlowResponse(t *testing.T) {
	a := parseFixture(t, SourceLiteLLM, "litellm_slow_response.json").Alerts[0]
	if a.Labels["alertname"] != LiteLLMSlowResponses || a.Labels["model"] != "gpt-4o" || a.Key != "litellm/slow/gpt-4o" ||
		a.Labels["key_alias"] != "support-agent" || a.Labels["team_alias"] != "" || a.Severity != "info" {
		t.Errorf("slow response alert %+v", a)
	}
	for what, s := range map[string]string{"text": a.Annotations["text"], "raw": a.Raw, "title": a.Title} {
		if strings.Contains(s, "4111") {
			t.Errorf("the %s keeps the caller's prompt: %.200q", what, s)
		}
	}
	if !strings.Contains(a.Title, "Responses are slow - 312.48s") {
		t.Errorf("title %q", a.Title)
	}
}

// A failed call is a provider error when LiteLLM's exception class says the provider failed.
func TestParseLiteLLMException(t *testing.T) {
	a := parseFixture(t, SourceLiteLLM, "litellm_llm_exception.json").Alerts[0]
	if a.Labels["alertname"] != LiteLLMProviderError || a.Labels["litellm_exception"] != "ServiceUnavailableError" ||
		a.Labels["model_group"] != "chat" || a.Key != "litellm/exception/chat" || a.Severity != "critical" {
		t.Errorf("exception alert %+v", a)
	}
	d, err := ParseLiteLLM([]byte(`{"text":"Level: ` + "`High`" + `\n\nMessage: LLM API call failed: ` + "`litellm.BadRequestError: context window`" + `"}`))
	if err != nil {
		t.Fatal(err)
	}
	if b := d.Alerts[0]; b.Labels["alertname"] != LiteLLMRequestError || b.Key != "litellm/exception/BadRequestError" {
		t.Errorf("a caller's mistake: %+v", b)
	}
}

// Text quench does not recognise is still an alert (kept visible as unmatched), grouped by
// its first line.
func TestParseLiteLLMOtherText(t *testing.T) {
	body := `{"text":"Level: ` + "`High`" + `\nTimestamp: ` + "`10:00:00`" + `\n\nMessage: DB read/write call failed: timeout"}`
	d1, err := ParseLiteLLM([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := ParseLiteLLM([]byte(strings.Replace(body, "10:00:00", "10:05:00", 1)))
	a := d1.Alerts[0]
	if a.Labels["alertname"] != LiteLLMAlert || a.Key != d2.Alerts[0].Key || a.Title != "DB read/write call failed: timeout" {
		t.Errorf("other alert %+v (second key %q)", a, d2.Alerts[0].Key)
	}
}

func TestParseLiteLLMRefusesBadPayloads(t *testing.T) {
	for _, c := range []struct{ name, body, field string }{
		{"neither shape", `{"message":"hi"}`, "event"},
		{"unknown event", `{"spend":1,"event":"budget_exploded","event_group":"key","token":"t"}`, "event"},
		{"event not a string", `{"spend":1,"event":7,"event_group":"key","token":"t"}`, "event"},
		{"no event_group", `{"spend":1,"event":"budget_crossed","token":"t"}`, "event_group"},
		{"unknown event_group", `{"spend":1,"event":"budget_crossed","event_group":"galaxy"}`, "event_group"},
		{"key budget without key", `{"spend":1,"event":"budget_crossed","event_group":"key"}`, "token"},
		{"team budget without team", `{"spend":1,"event":"budget_crossed","event_group":"team"}`, "team_id"},
		{"no spend", `{"event":"budget_crossed","event_group":"proxy"}`, "spend"},
		{"spend not a number", `{"spend":"ten","event":"budget_crossed","event_group":"proxy"}`, "spend"},
		{"spend out of range", `{"spend":1e999,"event":"budget_crossed","event_group":"proxy"}`, "spend"},
		{"token not a string", `{"spend":1,"event":"budget_crossed","event_group":"key","token":["t"]}`, "token"},
		{"empty text", `{"text":"  "}`, "text"},
		{"text not a string", `{"text":{"blocks":[]}}`, "text"},
		{"duplicate event", `{"spend":1,"event":"key_created","event":"budget_crossed","event_group":"proxy"}`, "event"},
		{"key too long", `{"spend":1,"event":"budget_crossed","event_group":"team","team_id":"` + strings.Repeat("t", MaxKeyBytes) + `"}`, "team_id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseLiteLLM([]byte(c.body))
			if err == nil {
				t.Fatal("accepted")
			}
			if got := fieldOf(t, err); got != c.field {
				t.Errorf("field %q, want %q (%v)", got, c.field, err)
			}
		})
	}
}

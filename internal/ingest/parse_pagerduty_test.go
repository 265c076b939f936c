package ingest

import (
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/alert"
)

func TestParsePagerDutyTriggered(t *testing.T) {
	d := parseFixture(t, SourcePagerDuty, "pagerduty_triggered.json")
	if d.ID != "01DEN4HPBQAAAG05V5QQYBRZMF" {
		t.Errorf("ID = %q, want the event id", d.ID)
	}
	assertAlerts(t, d.Alerts, []alert.Alert{{
		Source: SourcePagerDuty, Key: "PGR0VU2", Fingerprint: "PGR0VU2",
		Status: alert.StatusFiring, Severity: "P1", Title: "Checkout assistant returns empty answers",
		Labels: map[string]string{
			"alertname": PagerDutyAlertName, "pagerduty_incident": "PGR0VU2",
			"service": "checkout-assistant", "pagerduty_service_id": "PF9KMXH",
			"urgency": "high", "priority": "P1",
		},
		Annotations: map[string]string{
			"summary": "Checkout assistant returns empty answers", "incident_number": "2",
			"event_type": "incident.triggered", "agent": "Tenex Engineer",
		},
		StartsAt: time.Date(2024, 5, 1, 12, 3, 40, 0, time.UTC),
		Links: []alert.Link{
			{Name: "incident", URL: "https://acme.pagerduty.com/incidents/PGR0VU2"},
			{Name: "service", URL: "https://acme.pagerduty.com/services/PF9KMXH"},
		},
	}}, []string{`"event_type":"incident.triggered"`})
}

func TestParsePagerDutyResolved(t *testing.T) {
	d := parseFixture(t, SourcePagerDuty, "pagerduty_resolved.json")
	// No priority: severity falls back to the urgency; EndsAt is when it resolved.
	assertAlerts(t, d.Alerts, []alert.Alert{{
		Source: SourcePagerDuty, Key: "PGR0VU2", Fingerprint: "PGR0VU2",
		Status: alert.StatusResolved, Severity: "low", Title: "Checkout assistant returns empty answers",
		Labels: map[string]string{
			"alertname": PagerDutyAlertName, "pagerduty_incident": "PGR0VU2",
			"service": "checkout-assistant", "pagerduty_service_id": "PF9KMXH", "urgency": "low",
		},
		Annotations: map[string]string{
			"summary": "Checkout assistant returns empty answers", "incident_number": "2",
			"event_type": "incident.resolved", "agent": "Tenex Engineer",
		},
		StartsAt: time.Date(2024, 5, 1, 12, 3, 40, 0, time.UTC),
		EndsAt:   time.Date(2024, 5, 1, 12, 47, 2, 0, time.UTC),
		Links: []alert.Link{
			{Name: "incident", URL: "https://acme.pagerduty.com/incidents/PGR0VU2"},
			{Name: "service", URL: "https://acme.pagerduty.com/services/PF9KMXH"},
		},
	}}, nil)
}

// Events that are not an incident's lifecycle (a note, the test ping) parse to no alerts: the
// handler answers 2xx and starts nothing.
func TestParsePagerDutyOtherEventsGiveNoAlerts(t *testing.T) {
	for _, name := range []string{"pagerduty_annotated.json", "pagerduty_ping.json"} {
		d := parseFixture(t, SourcePagerDuty, name)
		if len(d.Alerts) != 0 || d.ID == "" {
			t.Errorf("%s: %d alerts, ID %q; want none and the event id", name, len(d.Alerts), d.ID)
		}
	}
}

// A lifecycle event about an incident PagerDuty already resolved must not read as firing:
// that could start an incident for something over.
func TestParsePagerDutyLateEventOnResolvedIncidentIsResolved(t *testing.T) {
	body := `{"event":{"id":"e1","event_type":"incident.priority_updated","resource_type":"incident",
		"occurred_at":"2024-05-01T13:00:00Z","data":{"id":"PGR0VU2","type":"incident","status":"resolved","title":"t"}}}`
	d, err := ParsePagerDuty([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Alerts) != 1 || d.Alerts[0].Status != alert.StatusResolved {
		t.Fatalf("alerts %+v: want one resolved", d.Alerts)
	}
}

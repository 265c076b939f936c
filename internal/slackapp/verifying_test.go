package slackapp

import (
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/workflows"
)

func TestCardShowsTheVerifyInProgress(t *testing.T) {
	deadline := time.Date(2026, 3, 1, 12, 5, 0, 0, time.UTC)
	card := ports.Card{IncidentID: "incident-provider-outage-1a2b3c", ShortID: "1a2b3c", Title: "LLM provider outage", State: workflows.StateVerifying,
		Steps: []ports.CardStep{{ID: "failover", Action: "gateway.switch", State: workflows.StepVerifying}},
		Verifying: &ports.CardVerifying{StepID: "failover", Deadline: deadline,
			Condition: "error_rate below 0.05 over at least 20 requests that started after the change, served by <!channel>",
			Latest:    "error_rate = 0.125 over 8 requests: too few to judge (need 20)"}}
	all := strings.Join(mrkdwnTexts(t, CardBlocks(card)), "\n")
	for _, want := range []string{"*Verifying* step `failover` until <!date^", "12:05:00 UTC", "error_rate below 0.05 over at least 20 requests",
		"latest: error_rate = 0.125 over 8 requests: too few to judge (need 20)", "🔎 `failover`"} {
		if !strings.Contains(all, want) {
			t.Errorf("card lacks %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "<!channel>") {
		t.Errorf("the condition is not escaped:\n%s", all)
	}

	card.Closed = true
	if all := strings.Join(mrkdwnTexts(t, CardBlocks(card)), "\n"); strings.Contains(all, "*Verifying*") {
		t.Errorf("a closed card shows a verify:\n%s", all)
	}

	st := workflows.Status{ShortID: "1a2b3c", State: workflows.StateVerifying, Verifying: &workflows.Verifying{StepID: "failover", Signal: "error_rate",
		Condition: "error_rate below 0.05", Deadline: deadline, Last: &workflows.Measurement{Value: 0.125, Requests: 8}}}
	if got := statusText(st); !strings.Contains(got, "verifying step `failover` until 12:05:00 UTC: error_rate below 0.05; latest error_rate = 0.125 over 8 requests") {
		t.Errorf("status text: %s", got)
	}
}

package slackapp

import (
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/workflows"
)

// FuzzCommand: any /quench text gets an immediate ephemeral answer, never a panic.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{"", "help", "start provider-outage route=chat", "approve abcdef failback", "reject x y z", "note", "start a ==", "status \x00"} {
		f.Add(s)
	}
	app := newTestApp(f)
	f.Fuzz(func(t *testing.T, text string) {
		msg := app.handler.Command(slack.SlashCommand{Text: text, UserID: "UALICE"})
		if msg == nil || msg.ResponseType != slack.ResponseTypeEphemeral || msg.Text == "" {
			t.Fatalf("answer to %q: %+v", text, msg)
		}
		app.handler.Wait()
	})
}

// FuzzButtonValue: a button value either names an approval or is refused with a message.
func FuzzButtonValue(f *testing.F) {
	f.Add(failbackButton().encode())
	f.Add(`{"i":"x"}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		v, err := decodeButton(s)
		if err == nil && (v.IncidentID == "" || v.StepID == "") {
			t.Fatalf("%q accepted without an incident and step: %+v", s, v)
		}
		if err != nil && err.Error() == "" {
			t.Fatal("a refusal says why")
		}
	})
}

// FuzzCardMarkup: whatever an alert, a person or a step puts into a card, the rendered
// mrkdwn holds no control sequence quench did not write itself.
func FuzzCardMarkup(f *testing.F) {
	for _, s := range injections {
		f.Add(s, "https://grafana.example/d/x")
	}
	f.Add("&amp;lt;", "https://grafana.example/a|b")
	f.Fuzz(func(t *testing.T, s, link string) {
		card := ports.Card{IncidentID: s, ShortID: s, Runbook: s, Title: s, State: s, Severity: s, Service: s, Requester: "slack:" + s,
			Steps:     []ports.CardStep{{ID: s, Action: s, State: "done", Summary: s}},
			Pending:   []ports.CardApproval{{StepID: s, Action: s, Prompt: s, Params: map[string]string{s: s}, Digest: s, Groups: []string{s}}},
			Decisions: []ports.CardDecision{{Text: s}},
			Links:     []ports.Link{{Name: s, URL: link}},
			Evidence:  []ports.EvidenceRef{{Name: s, SHA256: s}},
		}
		texts := mrkdwnTexts(t, CardBlocks(card))
		texts = append(texts, cardText(card), statusText(workflows.Status{ShortID: s, Title: s, Runbook: s, Requester: s}))
		for _, text := range texts {
			for _, m := range markup.FindAllString(text, -1) {
				ok := strings.HasPrefix(m, "<!date^")
				if u, safe := safeURL(link); safe {
					ok = ok || strings.HasPrefix(m, "<"+escape(u)+"|")
				}
				if !ok {
					t.Fatalf("markup %q in %q", m, text)
				}
			}
		}
	})
}

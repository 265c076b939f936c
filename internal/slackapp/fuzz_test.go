package slackapp

import (
	"testing"

	"github.com/slack-go/slack"
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

package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/slackapp"
	"github.com/quench-dev/quench/internal/slackapp/slackfake"
)

const (
	slackSecret  = "e2e-signing-secret"
	slackChannel = "C0INCIDENTS"
	slackWait    = 2 * time.Minute
)

// slackDrill gates a route switch on an approval by sre with four eyes.
const slackDrill = `name: slack-drill
title: Slack drill - fail over on approval
params:
  route: {default: chat}
steps:
  - id: failover
    title: Move the route to the fallback provider
    action: gateway.switch
    with: {route: "{{ .params.route }}", to: fallback}
    undo: {keep: true}
    approval: {group: sre, four_eyes: true}
  - id: tell
    action: notify
    with: {text: route moved}
`

// slackDev runs quench dev with Slack pointed at the fake and the drill runbook.
func slackDev(t *testing.T, fake *slackfake.Fake) devConfig { return slackDevWith(t, fake, false) }

// slackDevWith: socket receives Slack's requests over Socket Mode instead of HTTP.
func slackDevWith(t *testing.T, fake *slackfake.Fake, socket bool) devConfig {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.Mkdir(filepath.Join(dir, "runbooks"), 0o700); err != nil {
		t.Fatal(err)
	}
	write("runbooks/slack-drill.yaml", slackDrill)
	receiver, secretFile := "signing_secret", write("signing-secret", slackSecret)
	if socket {
		receiver, secretFile = "app_token", write("app-token", "xapp-e2e")
	}
	config := write("quench.yaml", fmt.Sprintf(`runbooks_dir: %s
approvers:
  sre: ["cli:nobody"]
slack:
  bot_token: file:%s
  %s: file:%s
  channel: %s
  api_url: %s
  groups:
    SSRE: [sre]
`, filepath.Join(dir, "runbooks"), write("bot-token", "xoxb-e2e"), receiver, secretFile, slackChannel, fake.APIURL()))
	return newDevConfig(t, "--config", config)
}

// slackPost sends a request signed as Slack signs it and returns the status and body.
func slackPost(t *testing.T, dev *devProcess, path string, form url.Values) (int, string) {
	t.Helper()
	return slackPostAt(t, dev, path, form, time.Now())
}

// slackPostAt signs with the given time: the same form and time make the same request, as
// a replay of a captured one would be.
func slackPostAt(t *testing.T, dev *devProcess, path string, form url.Values, at time.Time) (int, string) {
	t.Helper()
	body := form.Encode()
	req, err := http.NewRequest(http.MethodPost, "http://"+dev.http+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ts := fmt.Sprint(at.Unix())
	mac := hmac.New(sha256.New, []byte(slackSecret))
	fmt.Fprintf(mac, "v0:%s:%s", ts, body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// clicks numbers the clicks' trigger_ids: Slack gives every click its own, and quench
// ignores a request it has seen (a replay), so two clicks must differ as real ones do.
var clicks atomic.Int64

func click(t *testing.T, dev *devProcess, user, value string) {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "trigger_id": fmt.Sprint("trig-", clicks.Add(1)), "user": map[string]any{"id": user},
		"channel": map[string]any{"id": slackChannel},
		"actions": []map[string]any{{"action_id": slackapp.ActionApprove, "block_id": "b", "value": value, "type": "button"}},
	})
	if code, body := slackPost(t, dev, "/slack/interactions", url.Values{"payload": {string(payload)}}); code != http.StatusOK {
		t.Fatalf("click by %s: HTTP %d %s", user, code, body)
	}
}

// cards are the top-level incident cards in the channel.
func cards(fake *slackfake.Fake) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range fake.Messages(slackChannel) {
		if m.ThreadTS == "" && m.Metadata != nil && m.Metadata.EventPayload["kind"] == "card" {
			out = append(out, m)
		}
	}
	return out
}

var approveValue = regexp.MustCompile(`"action_id":"quench_approve","value":"((?:[^"\\]|\\.)*)"`)

// buttonValue reads the Approve button's value off the card, as Slack would send it back.
func buttonValue(t *testing.T, card slackfake.Message) string {
	t.Helper()
	m := approveValue.FindStringSubmatch(card.Blocks)
	if m == nil {
		t.Fatalf("the card has no Approve button: %s", card.Blocks)
	}
	var v string
	if err := json.Unmarshal([]byte(`"`+m[1]+`"`), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func waitSlack(t *testing.T, fake *slackfake.Fake, what string, cond func() bool) {
	t.Helper()
	if !fake.WaitUntil(slackWait, cond) {
		var last string
		if c := cards(fake); len(c) > 0 {
			last = c[len(c)-1].Text + " " + c[len(c)-1].Blocks
		}
		t.Fatalf("Slack never saw %s; %d calls; %d cards, the last: %s", what, len(fake.Calls("")), len(cards(fake)), last)
	}
}

func ephemeralTo(fake *slackfake.Fake, user, text string) bool {
	for _, e := range fake.Ephemerals() {
		if e.User == user && strings.Contains(e.Text, text) {
			return true
		}
	}
	return false
}

func threadHas(fake *slackfake.Fake, text string) int {
	n := 0
	for _, m := range fake.Messages(slackChannel) {
		if m.ThreadTS != "" && strings.Contains(m.Text, text) {
			n++
		}
	}
	return n
}

// TestSlackIncidentEndToEnd works an incident from Slack on the embedded server: /quench
// start, the card, refused clicks (not an approver; the requester under four eyes), a
// SIGKILL while the approval waits, the approving click after the restart, the step running
// and the card updated, one card throughout, and a late double click deciding nothing.
func TestSlackIncidentEndToEnd(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	fake.SetGroup("SSRE", "UALICE", "UREQ")
	cfg := slackDev(t, fake)
	dev := startDev(t, cfg)

	code, body := slackPost(t, dev, "/slack/commands", url.Values{"command": {"/quench"}, "text": {"start slack-drill route=chat"},
		"user_id": {"UREQ"}, "channel_id": {slackChannel}, "response_url": {fake.ResponseURL("start")}})
	if code != http.StatusOK || !strings.Contains(body, "Working on") {
		t.Fatalf("/quench start: HTTP %d %s", code, body)
	}
	waitSlack(t, fake, "the start confirmed", func() bool { return len(fake.Responses()) > 0 })
	if r := fake.Responses()[0].Msg; r.ResponseType != "in_channel" || !strings.Contains(r.Text, "started incident") {
		t.Fatalf("start response: %+v", r)
	}
	waitSlack(t, fake, "a card with an Approve button", func() bool {
		c := cards(fake)
		return len(c) == 1 && strings.Contains(c[0].Blocks, slackapp.ActionApprove)
	})
	value := buttonValue(t, cards(fake)[0])
	if !strings.Contains(cards(fake)[0].Blocks, "route=chat") || !strings.Contains(cards(fake)[0].Blocks, "to=fallback") {
		t.Fatalf("the card does not show the rendered params: %s", cards(fake)[0].Blocks)
	}

	// Refused: not in a group Slack says maps to sre; the requester under four eyes.
	click(t, dev, "UBOB", value)
	waitSlack(t, fake, "UBOB told why", func() bool { return ephemeralTo(fake, "UBOB", "not a member of sre") })
	click(t, dev, "UREQ", value)
	waitSlack(t, fake, "UREQ told why", func() bool { return ephemeralTo(fake, "UREQ", "four eyes") })
	waitSlack(t, fake, "the refusals on the timeline", func() bool { return threadHas(fake, "refused:") == 2 })

	// Crash while the approval waits; the click still works after the restart.
	dev.Kill()
	dev = startDev(t, cfg)
	click(t, dev, "UALICE", value)
	waitSlack(t, fake, "the card closed with the decision in place of the buttons", func() bool {
		c := cards(fake)
		return len(c) == 1 && strings.Contains(c[0].Text, "[completed]") && !strings.Contains(c[0].Blocks, slackapp.ActionApprove) &&
			strings.Contains(c[0].Blocks, "slack:UALICE approved step failover (gateway.switch) via slack")
	})
	// The card can show the end before the thread has caught up: the closing line is last.
	waitSlack(t, fake, "the incident closed in the thread", func() bool { return threadHas(fake, "incident closed: completed") == 1 })
	if got := getRoute(t, "http://"+dev.http); got.Provider != "fallback" {
		t.Fatalf("the approved step did not run: route %+v", got)
	}
	if n := len(cards(fake)); n != 1 {
		t.Fatalf("%d cards for one incident", n)
	}
	if n := threadHas(fake, "route moved"); n != 1 {
		for _, m := range fake.Messages(slackChannel) {
			t.Logf("message %s thread %q: %s", m.TS, m.ThreadTS, m.Text)
		}
		for _, c := range fake.Calls("") {
			t.Logf("call %s %s %s", c.Method, c.Form.Get("ts"), c.Form.Get("metadata"))
		}
		t.Fatalf("the step after the approval was announced %d times", n)
	}
	// The notify step posted it itself, in the card's thread, through quench's Slack client.
	for _, m := range fake.Messages(slackChannel) {
		if m.ThreadTS != "" && strings.Contains(m.Text, "route moved") {
			if m.ThreadTS != cards(fake)[0].TS || m.Metadata == nil || m.Metadata.EventPayload["kind"] != "notify" {
				t.Fatalf("the notify step's message is not its own post in the card's thread: %+v", m)
			}
		}
	}

	// The crash-interrupted history, chat announcements included, replays on the current code.
	incidentID, _ := cards(fake)[0].Metadata.EventPayload["incident_id"].(string)
	recordHistory(t, dev, incidentID, "slack-drill-kill-awaiting-click")

	// A late double click decides nothing more.
	click(t, dev, "UALICE", value)
	waitSlack(t, fake, "the late click refused", func() bool { return ephemeralTo(fake, "UALICE", "Not approved") })
	if n := threadHas(fake, "approved step failover"); n != 1 {
		t.Fatalf("%d approvals announced, want 1", n)
	}
}

// TestSlackSocketModeInQuenchDev: with an app-level token and no public URL, quench dev
// connects to Slack over Socket Mode and serves /quench there.
func TestSlackSocketModeInQuenchDev(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	dev := startDev(t, slackDevWith(t, fake, true))
	if !fake.Socket.WaitConnected(slackWait) {
		t.Fatal("quench dev did not open a Socket Mode connection")
	}
	id, err := fake.Socket.Send("slash_commands", map[string]any{"command": "/quench", "text": "start slack-drill",
		"user_id": "UREQ", "channel_id": slackChannel, "response_url": fake.ResponseURL("socket")})
	if err != nil {
		t.Fatal(err)
	}
	ack, ok := fake.Socket.WaitAck(id, slackWait)
	if !ok || !strings.Contains(string(ack), "Working on") {
		t.Fatalf("envelope ack: %v %s", ok, ack)
	}
	waitSlack(t, fake, "the start confirmed", func() bool { return len(fake.Responses()) > 0 })
	if r := fake.Responses()[0].Msg; !strings.Contains(r.Text, "started incident") {
		t.Fatalf("start response: %+v", r)
	}
	waitSlack(t, fake, "the card", func() bool { return len(cards(fake)) == 1 })
	// Without a signing secret the HTTP endpoints are not served.
	if code, _ := slackPost(t, dev, "/slack/commands", url.Values{"text": {"help"}}); code == http.StatusOK {
		t.Fatalf("/slack/commands answered %d without a signing secret configured", code)
	}
}

// TestSlackReplayAndMrkdwnInjection: a signed /quench start replayed three times within the
// window starts one incident and says so; markup in what people type and in their Slack
// identity reaches Slack escaped, never as a mention or a link.
func TestSlackReplayAndMrkdwnInjection(t *testing.T) {
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	fake.SetGroup("SSRE", "UALICE", "UREQ")
	dev := startDev(t, slackDev(t, fake))

	start := url.Values{"command": {"/quench"}, "text": {"start slack-drill"}, "user_id": {"UREQ"}, "team_id": {"T1"},
		"trigger_id": {"trig-replayed"}, "channel_id": {slackChannel}, "response_url": {fake.ResponseURL("replayed")}}
	at := time.Now()
	for i := range 4 {
		code, body := slackPostAt(t, dev, "/slack/commands", start, at)
		if code != http.StatusOK {
			t.Fatalf("delivery %d: HTTP %d %s", i, code, body)
		}
		if want := map[bool]string{true: "Working on", false: "nothing new happened"}[i == 0]; !strings.Contains(body, want) {
			t.Fatalf("delivery %d answered %s, want %q", i, body, want)
		}
	}
	waitSlack(t, fake, "the start confirmed", func() bool { return len(fake.Responses()) > 0 })
	short := regexp.MustCompile(`started incident \*([0-9a-f]{6})\*`).FindStringSubmatch(fake.Responses()[0].Msg.Text)
	if short == nil {
		t.Fatalf("start response: %+v", fake.Responses()[0].Msg)
	}

	// A note with markup: the thread shows it as typed.
	code, _ := slackPost(t, dev, "/slack/commands", url.Values{"command": {"/quench"}, "user_id": {"UALICE"}, "team_id": {"T1"},
		"trigger_id": {"trig-note"}, "text": {"note " + short[1] + " <!channel> see <https://evil.example/x|Approve here> & <@UREQ>"},
		"channel_id": {slackChannel}, "response_url": {fake.ResponseURL("note")}})
	if code != http.StatusOK {
		t.Fatalf("note: HTTP %d", code)
	}
	waitSlack(t, fake, "the note in the thread", func() bool { return threadHas(fake, "see &lt;https://evil.example/x|Approve here&gt;") == 1 })
	for _, m := range fake.Messages(slackChannel) {
		for _, raw := range []string{"<!channel>", "<https://evil", "<@UREQ> &"} {
			if strings.Contains(m.Text, raw) {
				t.Fatalf("raw markup %q reached Slack: %q", raw, m.Text)
			}
		}
	}
	// A click from a user ID carrying markup: refused, and its answer shows the ID as text.
	waitSlack(t, fake, "a card with an Approve button", func() bool {
		c := cards(fake)
		return len(c) == 1 && strings.Contains(c[0].Blocks, slackapp.ActionApprove)
	})
	click(t, dev, "U<!here>", buttonValue(t, cards(fake)[0]))
	waitSlack(t, fake, "the hostile clicker told why", func() bool { return ephemeralTo(fake, "U<!here>", "slack:U&lt;!here&gt;") })

	if n := len(cards(fake)); n != 1 {
		t.Fatalf("%d cards after a start replayed 3 times, want 1", n)
	}
	started := 0
	for _, r := range fake.Responses() {
		if strings.Contains(r.Msg.Text, "started incident") {
			started++
		}
	}
	if started != 1 {
		t.Fatalf("%d start confirmations, want 1", started)
	}
}

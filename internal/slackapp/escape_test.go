package slackapp

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/workflows"
)

// Markup an attacker would plant in an alert, a reason, a link or an identity.
var injections = []string{
	"<!channel>", "<!here>", "<!everyone>", "<@U0EVIL>", "<!subteam^S0EVIL>", "<#C0EVIL>",
	"<https://evil.example/approve|Approve here>", "<https://evil.example>", "a & b &lt;!channel&gt;",
}

// mrkdwnTexts decodes rendered blocks (Slack's JSON, as sent) and returns every mrkdwn text.
func mrkdwnTexts(t *testing.T, v any) []string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var doc any
	require.NoError(t, json.Unmarshal(b, &doc))
	var out []string
	var walk func(any)
	walk = func(n any) {
		switch n := n.(type) {
		case map[string]any:
			if n["type"] == "mrkdwn" {
				s, _ := n["text"].(string)
				out = append(out, s)
			}
			for _, c := range n {
				walk(c)
			}
		case []any:
			for _, c := range n {
				walk(c)
			}
		}
	}
	walk(doc)
	return out
}

// markup is every <…> sequence Slack would interpret in mrkdwn.
var markup = regexp.MustCompile(`<[^>]*>`)

// allowedMarkup: the only control sequences quench writes itself: dates, the requester's
// mention from a well-formed ID, and links to URLs it vouched for.
var allowedMarkup = []*regexp.Regexp{
	regexp.MustCompile(`^<!date\^\d+\^\{[a-z_ {}]+\}\|[0-9: -]+UTC>$`),
	regexp.MustCompile(`^<@UGOOD1>$`),
	regexp.MustCompile(`^<https://(temporal\.example|grafana\.example)/[^|<>\s]*\|[^<>]*>$`),
}

func assertNoForeignMarkup(t *testing.T, texts []string) {
	t.Helper()
	for _, text := range texts {
		for _, m := range markup.FindAllString(text, -1) {
			ok := false
			for _, re := range allowedMarkup {
				ok = ok || re.MatchString(m)
			}
			assert.True(t, ok, "markup %q that quench did not mean, in %q", m, text)
		}
		// A bare & must start an entity quench wrote (&amp; &lt; &gt;).
		for i := strings.IndexByte(text, '&'); i >= 0; i = next(text, i) {
			rest := text[i:]
			assert.True(t, strings.HasPrefix(rest, "&amp;") || strings.HasPrefix(rest, "&lt;") || strings.HasPrefix(rest, "&gt;"),
				"a bare & in %q", text)
		}
	}
}

func next(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '&')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

func TestCardEscapesEverythingFromOutside(t *testing.T) {
	deadline := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	for _, inj := range injections {
		t.Run(inj, func(t *testing.T) {
			card := ports.Card{
				IncidentID: "inc-x-" + inj, ShortID: inj, Runbook: "rb " + inj, Title: "title " + inj, State: "running " + inj,
				Severity: inj, Service: "svc " + inj, Requester: "slack:" + inj,
				UIURL: "https://temporal.example/namespaces/default/workflows/inc-x",
				Steps: []ports.CardStep{{ID: "s" + inj, Action: "a" + inj, State: "done", Summary: "label job=" + inj}},
				Pending: []ports.CardApproval{{StepID: "p" + inj, Action: "act" + inj, Prompt: "why " + inj,
					Params: map[string]string{"k" + inj: "v" + inj, "route": "```" + inj}, Digest: "sha256:" + inj,
					Groups: []string{"sre", inj}, Destructive: true, Deadline: &deadline}},
				Decisions: []ports.CardDecision{{StepID: "p", Text: "approved: " + inj, At: deadline}},
				Evidence:  []ports.EvidenceRef{{Name: "ev" + inj, SHA256: inj}},
				Links: []ports.Link{
					{Name: inj, URL: "https://grafana.example/d/abc?from=now-1h&to=now"},
					{Name: "Dashboard", URL: inj},
					{Name: "Approve here", URL: "https://grafana.example/x|Approve here"},
					{Name: "js", URL: "javascript:alert(1)"},
					{Name: "creds", URL: "https://user:pass@grafana.example/"},
					{Name: "space", URL: "https://grafana.example/a b"},
				},
			}
			texts := mrkdwnTexts(t, CardBlocks(card))
			require.NotEmpty(t, texts)
			assertNoForeignMarkup(t, texts)
			all := strings.Join(texts, "\n")
			if strings.HasPrefix(inj, "<") {
				assert.Contains(t, all, escape(inj), "the injected text shows as typed")
			}
			assert.Contains(t, all, "<https://grafana.example/d/abc?from=now-1h&amp;to=now|"+escape(inj)+">", "a vouched URL keeps its escaped label")
			assert.Contains(t, all, "Approve here (not linked: not a plain http(s) URL)")
			assert.Contains(t, all, "<https://temporal.example/namespaces/default/workflows/inc-x|Temporal Web UI>")
			// The fallback text is mrkdwn too (and it is what notifications show).
			assertNoForeignMarkup(t, []string{cardText(card)})
		})
	}
}

func TestRequesterMentionOnlyForSlackIDs(t *testing.T) {
	for id, want := range map[string]string{
		"slack:UGOOD1":             "<@UGOOD1>",
		"slack:W0GRID":             "<@W0GRID>",
		"slack:U1>|<!channel":      "slack:U1&gt;|&lt;!channel",
		"slack:<!here>":            "slack:&lt;!here&gt;",
		"cli:alice<!channel>":      "cli:alice&lt;!channel&gt;",
		"slack:u0lower":            "slack:u0lower",
		"slack:UGOOD1 <!everyone>": "slack:UGOOD1 &lt;!everyone&gt;",
	} {
		assert.Equal(t, want, who(id), id)
	}
}

func TestMentionsComeFromConfigShapedIDsOnly(t *testing.T) {
	c := NewClient(Options{BotToken: "xoxb-test", Mentions: map[string][]string{
		"sre": {"S0SRE", "U0ALICE"}, "odd": {"<!channel>", "S0|x"},
	}})
	for group, want := range map[string]string{
		"sre":        "<!subteam^S0SRE> <@U0ALICE> escalated: &lt;!channel&gt; please",
		"odd":        "@&lt;!channel&gt; @S0|x escalated: &lt;!channel&gt; please",
		"<!here>":    "@&lt;!here&gt; escalated: &lt;!channel&gt; please",
		"no-mapping": "@no-mapping escalated: &lt;!channel&gt; please",
	} {
		assert.Equal(t, want, c.replyText(ports.ChatReply{Text: "escalated: <!channel> please", Mention: group}), group)
	}
}

func TestSafeURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://grafana.example/d/x?a=1&b=2": true,
		"http://localhost:3000/":              true,
		"javascript:alert(1)":                 false,
		"https://a.example/x|Approve":         false,
		"https://a.example/<!channel>":        false,
		"https://a.example/a b":               false,
		"https://a.example/a\tb":              false,
		"https://a.example/\u2028":            false,
		"https://u:p@a.example/":              false,
		"//a.example/":                        false,
		"mailto:a@example.com":                false,
		"":                                    false,
		"https://":                            false,
	} {
		_, got := safeURL(raw)
		assert.Equal(t, ok, got, raw)
	}
}

func TestTruncateNeverSplitsAnEntityOrMarkup(t *testing.T) {
	s := strings.Repeat("x", 95) + "&lt;!channel&gt;"
	for n := 90; n < len(s); n++ {
		out := truncateEscaped(s, n)
		assertNoForeignMarkup(t, []string{out})
	}
	assert.Equal(t, "ab…", truncateEscaped("ab<https://x.example|label>", 6))
}

// Answers to slash commands and clicks carry what people typed and what the incident
// service said (which quotes identities): all escaped.
func TestAnswersEscapeWhatPeopleTyped(t *testing.T) {
	app := newTestApp(t)
	for _, tc := range []struct{ text, immediate, later string }{
		{"<!channel>", "Unknown command `&lt;!channel&gt;`", ""},
		{"start <!here>", "Working on `/quench start &lt;!here&gt;`", `Could not start &lt;!here&gt;: no runbook named "&lt;!here&gt;"`},
		{"start provider-outage <!channel>", "`&lt;!channel&gt;` is not key=value", ""},
		{"status <@U0EVIL>", "Working on", "&lt;@U0EVIL&gt;"},
	} {
		before := len(app.fake.Responses())
		msg := app.handler.Command(slack.SlashCommand{Text: tc.text, UserID: "UALICE", ResponseURL: app.fake.ResponseURL("e")})
		assert.Contains(t, msg.Text, tc.immediate, tc.text)
		assertNoForeignMarkup(t, []string{msg.Text})
		app.handler.Wait()
		responses := app.fake.Responses()[before:]
		if tc.later == "" {
			assert.Empty(t, responses, tc.text)
			continue
		}
		require.Len(t, responses, 1, tc.text)
		assert.Contains(t, responses[0].Msg.Text, tc.later, tc.text)
		assert.Equal(t, "none", responses[0].Msg.Parse, "Slack is told not to link names itself")
		assertNoForeignMarkup(t, []string{responses[0].Msg.Text})
	}

	// A refused click quotes the clicker's identity back: a hostile user ID stays text.
	code, _ := do(t, signed(t, app.server.URL+"/slack/interactions", testSecret, time.Now(), clickBody("U<!channel>", ActionApprove, failbackButton())))
	require.Equal(t, http.StatusOK, code)
	app.handler.Wait()
	eph := app.fake.Ephemerals()
	require.Len(t, eph, 1)
	assert.Contains(t, eph[0].Text, "slack:U&lt;!channel&gt; may not decide")
	assertNoForeignMarkup(t, []string{eph[0].Text})
}

func TestRejectModalEscapesTheButtonValue(t *testing.T) {
	texts := mrkdwnTexts(t, rejectModal(ButtonValue{IncidentID: "inc-<!channel>", StepID: "<@U0EVIL>"}))
	require.Len(t, texts, 1)
	assertNoForeignMarkup(t, texts)
	assert.Contains(t, texts[0], "&lt;@U0EVIL&gt;")
}

// Statuses render identities, titles and step lines from the incident.
func TestStatusTextEscapes(t *testing.T) {
	st := statusText(workflows.Status{ShortID: "<!here>", Title: "t <!channel>", State: "running", Runbook: "<@U0EVIL>",
		Requester: "slack:<!everyone>", Steps: []workflows.StepState{{ID: "<#C1>", Action: "a&b", State: workflows.StepAwaiting, Summary: "<https://evil.example|x>"}},
		Pending: []workflows.PendingApproval{{StepID: "<!channel>", Digest: "<!here>"}}})
	assertNoForeignMarkup(t, []string{st})
	assert.Contains(t, st, "t &lt;!channel&gt;")
}

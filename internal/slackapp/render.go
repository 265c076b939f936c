package slackapp

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"github.com/slack-go/slack"

	"github.com/quench-dev/quench/internal/ports"
)

// Action and callback IDs of quench's interactive elements.
const (
	ActionApprove  = "quench_approve"
	ActionReject   = "quench_reject"
	CallbackReject = "quench_reject_reason" // the Reject modal
	reasonBlock    = "reason"
	reasonInput    = "reason_input"
)

// ButtonValue is what an Approve/Reject button carries: which approval, bound to the digest
// of the params it showed. It names the approval; it never grants anything: who may decide
// is checked by the workflow against the clicker's identity resolved on the server.
type ButtonValue struct {
	IncidentID string `json:"i"`
	StepID     string `json:"s"`
	Digest     string `json:"d"`
	Channel    string `json:"c,omitempty"` // set in the modal's private metadata
}

func (v ButtonValue) encode() string {
	b, _ := json.Marshal(v)
	return string(b)
}

func decodeButton(s string) (ButtonValue, error) {
	var v ButtonValue
	if err := json.Unmarshal([]byte(s), &v); err != nil || v.IncidentID == "" || v.StepID == "" {
		return v, fmt.Errorf("this button is not one of quench's (value %q)", s)
	}
	return v, nil
}

var stateEmoji = map[string]string{
	"pending": "⚪", "running": "🔵", "awaiting_approval": "🟡", "done": "✅", "skipped": "⏭️",
	"rejected": "⛔", "failed": "❌", "reverted": "↩️", "canceled": "🚫",
	"verifying": "🔎",
}

// cardText is the notification and fallback text of the card. Slack parses it as mrkdwn
// too, so it is escaped like the blocks.
func cardText(c ports.Card) string {
	return escape(fmt.Sprintf("Incident %s: %s [%s]", c.ShortID, c.Title, c.State))
}

// md is a mrkdwn text object. Verbatim: Slack must not turn bare words into mentions or
// links by itself; every link and mention quench means is written out by quench.
func md(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, true)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

// CardBlocks renders the incident card. Everything that comes from an alert, a person, a
// runbook or a step's result is escaped before it goes into mrkdwn (see escape), so
// "<!channel>" or "<https://evil|Approve here>" in an alert label shows as typed.
func CardBlocks(c ports.Card) []slack.Block {
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(truncate(fmt.Sprintf("%s %s", c.ShortID, c.Title), 150))),
	}
	fields := []*slack.TextBlockObject{md("*State*\n" + escape(c.State)), md("*Runbook*\n" + escape(c.Runbook))}
	if c.Severity != "" {
		fields = append(fields, md("*Severity*\n"+escape(c.Severity)))
	}
	if c.Service != "" {
		fields = append(fields, md("*Service*\n"+escape(c.Service)))
	}
	if c.Requester != "" {
		fields = append(fields, md("*Started by*\n"+who(c.Requester)))
	}
	blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))

	var steps []string
	for _, s := range c.Steps {
		line := fmt.Sprintf("%s `%s` %s", stateEmoji[s.State], escape(s.ID), escape(s.Action))
		if s.Summary != "" {
			line += " — " + escape(truncate(s.Summary, 200))
		}
		steps = append(steps, line)
	}
	if len(steps) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(md(truncateEscaped(strings.Join(steps, "\n"), 2900)), nil, nil))
	}

	if c.Verifying != nil && !c.Closed {
		blocks = append(blocks, slack.NewDividerBlock(), slack.NewSectionBlock(md(verifyingText(*c.Verifying)), nil, nil))
	}
	for _, p := range c.Pending {
		blocks = append(blocks, slack.NewDividerBlock(), slack.NewSectionBlock(md(approvalText(p)), nil, nil))
		value := ButtonValue{IncidentID: c.IncidentID, StepID: p.StepID, Digest: p.Digest}.encode()
		approve := slack.NewButtonBlockElement(ActionApprove, value, plain("Approve")).WithStyle(slack.StylePrimary)
		if p.Destructive {
			approve = approve.WithConfirm(slack.NewConfirmationBlockObject(
				plain("Run "+truncate(p.Action, 80)+"?"),
				md(fmt.Sprintf("This changes production: *%s* with\n%s\ndigest `%s`", escape(p.Action), paramsText(p.Params), escape(shortDigest(p.Digest)))),
				plain("Approve"), plain("Cancel")))
		}
		reject := slack.NewButtonBlockElement(ActionReject, value, plain("Reject")).WithStyle(slack.StyleDanger)
		blocks = append(blocks, slack.NewActionBlock("approval:"+p.StepID+":"+shortDigest(p.Digest), approve, reject))
	}
	if len(c.Decisions) > 0 {
		var lines []string
		for _, d := range c.Decisions {
			lines = append(lines, fmt.Sprintf("• %s (<!date^%d^{date_short_pretty} {time}|%s>)", escape(d.Text), d.At.Unix(), d.At.UTC().Format("2006-01-02 15:04 UTC")))
		}
		blocks = append(blocks, slack.NewSectionBlock(md(truncateEscaped("*Decisions*\n"+strings.Join(lines, "\n"), 2900)), nil, nil))
	}

	var links []string
	if c.UIURL != "" {
		links = append(links, link(c.UIURL, "Temporal Web UI"))
	}
	for _, l := range c.Links {
		links = append(links, link(l.URL, l.Name))
	}
	for _, e := range c.Evidence {
		links = append(links, fmt.Sprintf("evidence `%s` (sha256 %s)", escape(e.Name), escape(shortDigest(e.SHA256))))
	}
	ctx := fmt.Sprintf("`%s` · /quench status %s", escape(c.IncidentID), escape(c.ShortID))
	if len(links) > 0 {
		ctx += " · " + strings.Join(links, " · ")
	}
	blocks = append(blocks, slack.NewContextBlock("", md(truncateEscaped(ctx, 2900))))
	return blocks
}

// verifyingText is the card's line for a verify in progress: the condition, the deadline
// and the latest measurement.
func verifyingText(v ports.CardVerifying) string {
	text := fmt.Sprintf("%s *Verifying* step `%s` until <!date^%d^{time}|%s>\n%s", stateEmoji["verifying"], escape(v.StepID),
		v.Deadline.Unix(), v.Deadline.UTC().Format("15:04:05 UTC"), escape(v.Condition))
	if v.Latest != "" {
		text += "\nlatest: " + escape(v.Latest)
	} else {
		text += "\nlatest: no measurement yet"
	}
	return truncateEscaped(text, 2900)
}

// approvalText says exactly what an approval lets run.
func approvalText(p ports.CardApproval) string {
	subject := fmt.Sprintf("step `%s` (%s)", escape(p.StepID), escape(p.Action))
	if p.Undo {
		subject = "the undo of " + subject
	}
	text := fmt.Sprintf(":raised_hand: *Approval needed* for %s\n%s\ndigest `%s`", subject, paramsText(p.Params), escape(shortDigest(p.Digest)))
	if p.Prompt != "" {
		text = escape(p.Prompt) + "\n" + text
	}
	if len(p.Groups) > 0 {
		text += " · approvers: " + escape(strings.Join(p.Groups, ", "))
	}
	if p.Deadline != nil && !p.Escalated {
		text += fmt.Sprintf(" · escalates <!date^%d^{time}|%s>", p.Deadline.Unix(), p.Deadline.UTC().Format("15:04 UTC"))
	}
	if p.Destructive {
		text += "\n:warning: changes production"
	}
	return truncateEscaped(text, 2900)
}

// paramsText shows the params in a code block. Slack reads <…> and &… inside code blocks
// too, so keys and values are escaped there as well.
func paramsText(params map[string]string) string {
	if len(params) == 0 {
		return "(no params)"
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fence := strings.NewReplacer("```", "'''")
	var b strings.Builder
	b.WriteString("```")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", escape(fence.Replace(k)), escape(fence.Replace(params[k])))
	}
	b.WriteString("```")
	return b.String()
}

// rejectModal asks for the reason of a Reject.
func rejectModal(v ButtonValue) slack.ModalViewRequest {
	input := slack.NewPlainTextInputBlockElement(plain("why not"), reasonInput)
	input.Multiline = true
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      CallbackReject,
		PrivateMetadata: v.encode(),
		Title:           plain("Reject step"),
		Submit:          plain("Reject"),
		Close:           plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(md(fmt.Sprintf("Reject step `%s` of incident `%s`?", escape(v.StepID), escape(ShortOf(v.IncidentID)))), nil, nil),
			slack.NewInputBlock(reasonBlock, plain("Reason"), nil, input),
		}},
	}
}

// ShortOf is an incident's short ID (the last 6 characters of its ID).
func ShortOf(id string) string {
	if len(id) <= 6 {
		return id
	}
	return id[len(id)-6:]
}

// who shows an identity: a well-formed Slack user ID as a mention (Slack renders it as the
// person's name), anything else escaped, as text.
func who(id string) string {
	if u, ok := strings.CutPrefix(id, "slack:"); ok && slackUserID.MatchString(u) {
		return "<@" + u + ">"
	}
	return escape(id)
}

// userMention is the mention of the Slack user who sent a request; an ID that is not
// Slack's shape is shown escaped instead of put into markup.
func userMention(userID string) string { return who("slack:" + userID) }

// Slack's IDs: users (U…, W… on Enterprise Grid) and user groups (S…). Nothing else is
// put into mention markup.
var (
	slackUserID  = regexp.MustCompile(`^[UW][A-Z0-9]{2,30}$`)
	slackGroupID = regexp.MustCompile(`^S[A-Z0-9]{2,30}$`)
)

// link is a mrkdwn link when raw is a URL quench can vouch for (see safeURL), with its
// label escaped; otherwise the label alone, marked as not linked, so neither a label nor a
// URL can carry markup or point a trusted-looking label elsewhere.
func link(raw, label string) string {
	label = strings.TrimSpace(label)
	u, ok := safeURL(raw)
	if !ok {
		if label == "" {
			label = "link"
		}
		return escape(label) + " (not linked: not a plain http(s) URL)"
	}
	if label == "" {
		label = u
	}
	return "<" + escape(u) + "|" + escape(label) + ">"
}

// safeURL accepts an absolute http(s) URL with a host, no user info, and none of the
// characters that end or split Slack's <url|label> syntax, no whitespace or controls.
func safeURL(raw string) (string, bool) {
	if raw == "" || len(raw) > 2000 || strings.ContainsAny(raw, "|<>\"") {
		return "", false
	}
	for _, r := range raw {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return "", false
		}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "", false
	}
	return raw, true
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// escape makes text safe for Slack's mrkdwn: &, < and > are its control characters
// (<!channel>, <@U…>, <url|label>); escaped, they show as typed.
func escape(s string) string { return mrkdwnEscaper.Replace(s) }

var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// truncateEscaped truncates mrkdwn quench built, never inside an entity (&lt;) or a <…>
// sequence: a cut there would leave a bare & or < for Slack to read.
func truncateEscaped(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	cut := string(r[:n-1])
	if i := strings.LastIndexByte(cut, '<'); i >= 0 && !strings.Contains(cut[i:], ">") {
		cut = cut[:i]
	}
	if i := strings.LastIndexByte(cut, '&'); i >= 0 && !strings.Contains(cut[i:], ";") {
		cut = cut[:i]
	}
	return cut + "…"
}

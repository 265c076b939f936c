package slackapp

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

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
}

// cardText is the notification and fallback text of the card.
func cardText(c ports.Card) string {
	return fmt.Sprintf("Incident %s: %s [%s]", c.ShortID, c.Title, c.State)
}

// CardBlocks renders the incident card.
func CardBlocks(c ports.Card) []slack.Block {
	md := func(s string) *slack.TextBlockObject {
		return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
	}
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, truncate(fmt.Sprintf("%s %s", c.ShortID, c.Title), 150), false, false)),
	}
	fields := []*slack.TextBlockObject{md("*State*\n" + c.State), md("*Runbook*\n" + escape(c.Runbook))}
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
		line := fmt.Sprintf("%s `%s` %s", stateEmoji[s.State], s.ID, escape(s.Action))
		if s.Summary != "" {
			line += " — " + escape(truncate(s.Summary, 200))
		}
		steps = append(steps, line)
	}
	if len(steps) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(md(truncate(strings.Join(steps, "\n"), 2900)), nil, nil))
	}

	for _, p := range c.Pending {
		blocks = append(blocks, slack.NewDividerBlock(), slack.NewSectionBlock(md(approvalText(p)), nil, nil))
		value := ButtonValue{IncidentID: c.IncidentID, StepID: p.StepID, Digest: p.Digest}.encode()
		approve := slack.NewButtonBlockElement(ActionApprove, value, slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false)).WithStyle(slack.StylePrimary)
		if p.Destructive {
			approve = approve.WithConfirm(slack.NewConfirmationBlockObject(
				slack.NewTextBlockObject(slack.PlainTextType, "Run "+truncate(p.Action, 80)+"?", false, false),
				md(fmt.Sprintf("This changes production: *%s* with\n%s\ndigest `%s`", escape(p.Action), paramsText(p.Params), shortDigest(p.Digest))),
				slack.NewTextBlockObject(slack.PlainTextType, "Approve", false, false),
				slack.NewTextBlockObject(slack.PlainTextType, "Cancel", false, false)))
		}
		reject := slack.NewButtonBlockElement(ActionReject, value, slack.NewTextBlockObject(slack.PlainTextType, "Reject", false, false)).WithStyle(slack.StyleDanger)
		blocks = append(blocks, slack.NewActionBlock("approval:"+p.StepID+":"+shortDigest(p.Digest), approve, reject))
	}
	if len(c.Decisions) > 0 {
		var lines []string
		for _, d := range c.Decisions {
			lines = append(lines, fmt.Sprintf("• %s (<!date^%d^{date_short_pretty} {time}|%s>)", escape(d.Text), d.At.Unix(), d.At.UTC().Format("2006-01-02 15:04 UTC")))
		}
		blocks = append(blocks, slack.NewSectionBlock(md(truncate("*Decisions*\n"+strings.Join(lines, "\n"), 2900)), nil, nil))
	}

	var links []string
	if c.UIURL != "" {
		links = append(links, fmt.Sprintf("<%s|Temporal Web UI>", c.UIURL))
	}
	for _, l := range c.Links {
		links = append(links, fmt.Sprintf("<%s|%s>", l.URL, escape(l.Name)))
	}
	for _, e := range c.Evidence {
		links = append(links, fmt.Sprintf("evidence `%s` (sha256 %s)", escape(e.Name), shortDigest(e.SHA256)))
	}
	ctx := fmt.Sprintf("`%s` · /quench status %s", c.IncidentID, c.ShortID)
	if len(links) > 0 {
		ctx += " · " + strings.Join(links, " · ")
	}
	blocks = append(blocks, slack.NewContextBlock("", md(truncate(ctx, 2900))))
	return blocks
}

// approvalText says exactly what an approval lets run.
func approvalText(p ports.CardApproval) string {
	subject := fmt.Sprintf("step `%s` (%s)", p.StepID, escape(p.Action))
	if p.Undo {
		subject = "the undo of " + subject
	}
	text := fmt.Sprintf(":raised_hand: *Approval needed* for %s\n%s\ndigest `%s`", subject, paramsText(p.Params), shortDigest(p.Digest))
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
	return truncate(text, 2900)
}

func paramsText(params map[string]string) string {
	if len(params) == 0 {
		return "(no params)"
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("```")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, strings.ReplaceAll(params[k], "```", "'''"))
	}
	b.WriteString("```")
	return b.String()
}

// rejectModal asks for the reason of a Reject.
func rejectModal(v ButtonValue) slack.ModalViewRequest {
	input := slack.NewPlainTextInputBlockElement(slack.NewTextBlockObject(slack.PlainTextType, "why not", false, false), reasonInput)
	input.Multiline = true
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      CallbackReject,
		PrivateMetadata: v.encode(),
		Title:           slack.NewTextBlockObject(slack.PlainTextType, "Reject step", false, false),
		Submit:          slack.NewTextBlockObject(slack.PlainTextType, "Reject", false, false),
		Close:           slack.NewTextBlockObject(slack.PlainTextType, "Cancel", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType,
				fmt.Sprintf("Reject step `%s` of incident `%s`?", v.StepID, ShortOf(v.IncidentID)), false, false), nil, nil),
			slack.NewInputBlock(reasonBlock, slack.NewTextBlockObject(slack.PlainTextType, "Reason", false, false), nil, input),
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

func who(id string) string {
	if u, ok := strings.CutPrefix(id, "slack:"); ok {
		return "<@" + u + ">"
	}
	return escape(id)
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

// escape makes text safe for Slack's mrkdwn (&, <, > are control characters).
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

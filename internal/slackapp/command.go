package slackapp

import (
	"context"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// Usage is the /quench help text.
const Usage = "*/quench* commands:\n" +
	"• `/quench start RUNBOOK [key=value …]` start an incident\n" +
	"• `/quench status [ID]` an incident's state (no ID: open incidents)\n" +
	"• `/quench list` recent incidents\n" +
	"• `/quench approve ID [STEP]` approve the pending step\n" +
	"• `/quench reject ID reason…` reject the pending step, saying why\n" +
	"• `/quench resolve ID` the condition is over\n" +
	"• `/quench note ID text…` add a line to the timeline\n" +
	"• `/quench help` this text"

// Command answers a slash command. The returned message is the immediate answer (always
// ephemeral); commands that call Temporal answer "working on it" and post their result to
// the command's response_url.
func (h *Handler) Command(cmd slack.SlashCommand) *slack.Msg {
	words := strings.Fields(cmd.Text)
	if len(words) == 0 {
		return ephemeralMsg(Usage)
	}
	verb, args := strings.ToLower(words[0]), words[1:]
	user := "slack:" + cmd.UserID
	need := func(n int, usage string) *slack.Msg {
		if len(args) < n {
			return ephemeralMsg("Usage: `/quench " + usage + "`")
		}
		return nil
	}
	switch verb {
	case "help":
		return ephemeralMsg(Usage)
	case "start":
		if m := need(1, "start RUNBOOK [key=value …]"); m != nil {
			return m
		}
		params := map[string]string{}
		for _, kv := range args[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return ephemeralMsg(fmt.Sprintf("`%s` is not key=value. Usage: `/quench start RUNBOOK [key=value …]`", escape(kv)))
			}
			params[k] = v
		}
		runbook := args[0]
		key := requestKey(cmd)
		h.later(func(ctx context.Context) {
			st, err := h.Incidents.Start(ctx, incidents.StartRequest{Runbook: runbook, Params: params, Requester: user, Source: "slack",
				Key: key, KeyOnce: key != ""})
			if err != nil {
				h.respond(ctx, cmd.ResponseURL, false, fmt.Sprintf("Could not start %s: %s\nSee the runbooks with `quench runbook list`; usage: `/quench start RUNBOOK [key=value …]`", escape(runbook), escape(err.Error())))
				return
			}
			h.respond(ctx, cmd.ResponseURL, true, fmt.Sprintf("%s started incident *%s* (%s): %s", userMention(cmd.UserID), escape(st.ShortID), escape(st.Runbook), escape(st.Title)))
		})
	case "status":
		if len(args) == 0 {
			h.later(func(ctx context.Context) { h.respond(ctx, cmd.ResponseURL, false, h.listText(ctx, true)) })
			break
		}
		ref := args[0]
		h.later(func(ctx context.Context) {
			st, err := h.Incidents.Status(ctx, ref)
			if err != nil {
				h.respond(ctx, cmd.ResponseURL, false, fmt.Sprintf("%s\nUsage: `/quench status ID` (`/quench list` shows the IDs)", escape(err.Error())))
				return
			}
			h.respond(ctx, cmd.ResponseURL, false, statusText(st))
		})
	case "list":
		h.later(func(ctx context.Context) { h.respond(ctx, cmd.ResponseURL, false, h.listText(ctx, false)) })
	case "approve", "reject":
		usage := "approve ID [STEP]"
		if verb == "reject" {
			usage = "reject ID reason…"
		}
		if m := need(map[string]int{"approve": 1, "reject": 2}[verb], usage); m != nil {
			return m
		}
		ref, step, reason := args[0], "", ""
		if verb == "approve" && len(args) > 1 {
			step = args[1]
		}
		if verb == "reject" {
			reason = strings.Join(args[1:], " ")
		}
		h.later(func(ctx context.Context) {
			res, err := h.decide(ctx, cmd.UserID, ref, step, "", verb, reason)
			if err != nil {
				h.respond(ctx, cmd.ResponseURL, false, fmt.Sprintf("Not %s: %s", pastTense[verb], escape(err.Error())))
				return
			}
			h.respond(ctx, cmd.ResponseURL, true, fmt.Sprintf("%s %s %s of %s: %s", userMention(cmd.UserID), pastTense[verb], escape(decidedWhat(res)), escape(ref), escape(res.Outcome)))
		})
	case "resolve":
		if m := need(1, "resolve ID"); m != nil {
			return m
		}
		ref := args[0]
		h.later(func(ctx context.Context) {
			id, err := h.Incidents.Signal(ctx, ref, workflows.SignalResolve, workflows.Resolve{By: user, Reason: "resolved from Slack", RequestKey: requestKey(cmd)})
			if err != nil {
				h.respond(ctx, cmd.ResponseURL, false, fmt.Sprintf("Could not resolve: %s\nUsage: `/quench resolve ID`", escape(err.Error())))
				return
			}
			// Say what the resolve did (e.g. it stopped a verify), not just that it was sent.
			text := fmt.Sprintf("%s resolved incident %s", userMention(cmd.UserID), escape(ref))
			for _, line := range incidents.AfterSignal(ctx, h.Incidents, id, "resolve").Then {
				text += "\n• " + escape(truncate(line, 300))
			}
			h.respond(ctx, cmd.ResponseURL, true, text)
		})
	case "note":
		if m := need(2, "note ID text…"); m != nil {
			return m
		}
		ref, text := args[0], strings.Join(args[1:], " ")
		h.later(func(ctx context.Context) {
			if _, err := h.Incidents.Signal(ctx, ref, workflows.SignalNote, workflows.Note{By: user, Text: text, RequestKey: requestKey(cmd)}); err != nil {
				h.respond(ctx, cmd.ResponseURL, false, fmt.Sprintf("Could not add the note: %s\nUsage: `/quench note ID text…`", escape(err.Error())))
				return
			}
			h.respond(ctx, cmd.ResponseURL, false, "Noted on "+escape(ref)+".")
		})
	default:
		return ephemeralMsg(fmt.Sprintf("Unknown command `%s`.\n%s", escape(verb), Usage))
	}
	return ephemeralMsg(fmt.Sprintf("Working on `/quench %s`…", escape(cmd.Text)))
}

// requestKey names a slash command after itself: Slack gives every invocation its own
// trigger_id, which a replay carries unchanged (it is inside the signed body). A start keyed
// by it lands in the same incident, and a resolve or note keyed by it is acted on once by
// the incident, whichever quench process a replay reaches. Without a trigger_id (not
// Slack's payload) every command is new.
func requestKey(cmd slack.SlashCommand) string {
	if cmd.TriggerID == "" {
		return ""
	}
	return "slack-command:" + cmd.TeamID + ":" + cmd.TriggerID
}

var pastTense = map[string]string{"approve": "approved", "reject": "rejected"}

func ephemeralMsg(text string) *slack.Msg {
	return &slack.Msg{ResponseType: slack.ResponseTypeEphemeral, Text: text}
}

func (h *Handler) listText(ctx context.Context, open bool) string {
	list, err := h.Incidents.List(ctx, incidents.ListFilter{Open: open, Limit: 20})
	if err != nil {
		return "Could not list incidents: " + escape(err.Error())
	}
	if len(list) == 0 {
		if open {
			return "No open incidents. Start one with `/quench start RUNBOOK`."
		}
		return "No incidents yet. Start one with `/quench start RUNBOOK`."
	}
	var b strings.Builder
	for _, s := range list {
		fmt.Fprintf(&b, "• *%s* %s — %s (started %s)\n", escape(s.ShortID), escape(s.Runbook), escape(s.State), s.StartedAt.UTC().Format("2006-01-02 15:04 UTC"))
	}
	return b.String()
}

func statusText(st workflows.Status) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s* %s — *%s* (runbook %s, started by %s)\n", escape(st.ShortID), escape(st.Title), escape(st.State), escape(st.Runbook), who(st.Requester))
	for _, s := range st.Steps {
		fmt.Fprintf(&b, "%s `%s` %s", stateEmoji[s.State], escape(s.ID), escape(s.Action))
		if s.Summary != "" {
			fmt.Fprintf(&b, " — %s", escape(truncate(s.Summary, 200)))
		}
		b.WriteString("\n")
	}
	if v := st.Verifying; v != nil {
		fmt.Fprintf(&b, "%s verifying step `%s` until %s: %s", stateEmoji["verifying"], escape(v.StepID), v.Deadline.UTC().Format("15:04:05 UTC"), escape(v.Condition))
		if v.Last != nil {
			fmt.Fprintf(&b, "; latest %s = %.4g over %d requests", escape(v.Signal), v.Last.Value, v.Last.Requests)
		}
		b.WriteString("\n")
	}
	for _, p := range st.Pending {
		fmt.Fprintf(&b, ":raised_hand: step `%s` waits for approval (digest `%s`): `/quench approve %s %s`\n", escape(p.StepID), escape(shortDigest(p.Digest)), escape(st.ShortID), escape(p.StepID))
	}
	return b.String()
}

// decidedWhat names what a decision was on: "step failback", or "the undo of step block"
// when the incident asked to approve an undo at close.
func decidedWhat(res workflows.DecisionResult) string {
	if res.Undo {
		return "the undo of step " + res.StepID
	}
	return "step " + res.StepID
}

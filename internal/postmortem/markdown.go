package postmortem

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// WriteMarkdown renders the report as a Markdown document.
func WriteMarkdown(w io.Writer, r Report) error {
	var b strings.Builder
	s := r.Summary
	fmt.Fprintf(&b, "# Postmortem: incident %s — %s\n\n", s.ShortID, md(orText(s.Title, s.Runbook)))

	b.WriteString("## Summary\n\n")
	fact := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "- **%s**: %s\n", k, v)
		}
	}
	fact("Runbook", "`"+s.Runbook+"`")
	fact("Incident ID", "`"+s.IncidentID+"`")
	fact("Severity", md(s.Severity))
	fact("Service", md(s.Service))
	fact("Started by", fmt.Sprintf("%s (via %s)", md(s.Requester), md(s.Source)))
	fact("Started", stamp(s.StartedAt))
	if s.ClosedAt != nil {
		fact("Closed", stamp(*s.ClosedAt))
	}
	fact("Duration", s.Duration)
	fact("Final state", s.State)
	fact("Resolution", md(s.Resolution))
	if len(s.Params) > 0 {
		fact("Params", md(params(s.Params)))
	}
	if s.Alerts > 0 {
		fact("Alerts received", fmt.Sprint(s.Alerts))
	}
	if s.Runs > 1 {
		fact("Workflow runs", fmt.Sprintf("%d (continued as new)", s.Runs))
	}

	b.WriteString("\n## Steps\n\n")
	row(&b, "Step", "Action", "State", "Attempts", "Started", "Ended", "Outcome")
	row(&b, "---", "---", "---", "---", "---", "---", "---")
	for _, st := range r.Steps {
		outcome := st.Summary
		if st.Error != "" {
			outcome = "error: " + st.Error
		}
		attempts := "-"
		if st.Attempts > 0 {
			attempts = fmt.Sprint(st.Attempts)
		}
		row(&b, st.ID, "`"+st.Action+"`", st.State, attempts, clock(st.StartedAt), clock(st.EndedAt), outcome)
	}

	b.WriteString("\n## Decisions\n\n")
	if len(r.Decisions) == 0 {
		b.WriteString("No approval decisions were taken.\n")
	} else {
		row(&b, "When", "Step", "Who", "Verdict", "Via", "Why")
		row(&b, "---", "---", "---", "---", "---", "---")
		for _, d := range r.Decisions {
			row(&b, stamp(d.At), d.StepID, d.Approver, d.Verdict, orText(d.Via, "-"), orText(d.Reason, "-"))
		}
	}

	if len(r.Retries) > 0 {
		b.WriteString("\n## Retries\n\n")
		for _, rt := range r.Retries {
			fmt.Fprintf(&b, "- %s step %s (`%s`): %d attempts", stamp(rt.At), md(orText(rt.StepID, "-")), rt.Action, rt.Attempts)
			if rt.LastFailure != "" {
				fmt.Fprintf(&b, "; last failure: %s", md(rt.LastFailure))
			}
			b.WriteString("\n")
		}
	}

	b.WriteString("\n## Mitigations and undos\n\n")
	if len(r.Mitigations) == 0 {
		b.WriteString("No step changed anything outside quench.\n")
	}
	for _, m := range r.Mitigations {
		fmt.Fprintf(&b, "- **%s** (`%s`): %s\n", md(m.StepID), m.Action, md(m.Summary))
		if m.Undo != nil {
			fmt.Fprintf(&b, "  - undo `%s` (%s): **%s**\n", m.Undo.Action, md(m.Undo.Description), md(m.Undo.State))
		}
	}
	if len(r.Undos) > 0 {
		b.WriteString("\n")
		row(&b, "Undo of step", "Action", "What", "Outcome")
		row(&b, "---", "---", "---", "---")
		for _, u := range r.Undos {
			row(&b, u.StepID, "`"+u.Action+"`", u.Description, u.State)
		}
	}

	b.WriteString("\n## Timeline\n\n")
	if s.TimelineDropped > 0 {
		fmt.Fprintf(&b, "(%d older events were dropped by the workflow to keep its state small.)\n\n", s.TimelineDropped)
	}
	row(&b, "Time", "Event", "Step", "By", "What")
	row(&b, "---", "---", "---", "---", "---")
	for _, e := range r.Timeline {
		row(&b, clock(&e.At), e.Kind, orText(e.StepID, ""), orText(e.Actor, ""), e.Text)
	}

	writeEvidence(&b, r.Evidence)

	if len(r.Links) > 0 {
		b.WriteString("\n## Links\n\n")
		for _, l := range r.Links {
			fmt.Fprintf(&b, "- [%s](%s)\n", md(l.Name), l.URL)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeEvidence(b *strings.Builder, ev Evidence) {
	b.WriteString("\n## Evidence\n\n")
	switch {
	case len(ev.Refs) == 0:
		b.WriteString("The incident captured no traffic evidence.\n")
		return
	case ev.Error != "":
		fmt.Fprintf(b, "The evidence store could not be read: %s\n\nRecorded bundles:\n\n", md(ev.Error))
		for _, ref := range ev.Refs {
			fmt.Fprintf(b, "- `%s`: %s (sha256 `%s`, %d bytes) — %s\n", ref.Name, ref.URI, ref.SHA256, ref.Bytes, md(ref.Summary))
		}
		return
	}
	for _, bs := range ev.Bundles {
		route := bs.Route
		if route == "" {
			route = "all routes"
		}
		fmt.Fprintf(b, "### Bundle `%s` (route %s)\n\n", bs.Name, md(route))
		fmt.Fprintf(b, "sha256 `%s` verified against the incident's record. %d requests in the incident window (%s), %d in the baseline (%s); error rate %s (baseline %s).\n\n",
			short(bs.SHA256), bs.Requests, bs.Window, bs.BaselineRequests, bs.BaselineWindow, pct(bs.ErrorRate), pct(bs.BaselineErrorRate))
		if len(bs.Changes) > 0 {
			b.WriteString("What changed most:\n\n")
			for i, c := range bs.Changes {
				fmt.Fprintf(b, "%d. %s\n", i+1, md(c))
			}
			b.WriteString("\n")
		}
		row(b, "Provider", "Model", "Prompt", "Requests ("+bs.Window+" / "+bs.BaselineWindow+")", "Error rate (incident / baseline)")
		row(b, "---", "---", "---", "---", "---")
		for _, g := range bs.Groups {
			row(b, g.Provider, orText(g.Model, "-"), orText(g.Prompt, "-"),
				fmt.Sprintf("%d / %d", g.Requests, g.BaselineRequests), pct(g.ErrorRate)+" / "+pct(g.BaselineErrorRate))
		}
		b.WriteString("\n")
	}
}

func row(b *strings.Builder, cells ...string) {
	esc := make([]string, len(cells))
	for i, c := range cells {
		c = strings.Join(strings.Fields(c), " ")
		if !strings.HasPrefix(c, "`") {
			c = md(c)
		}
		esc[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	b.WriteString("| " + strings.Join(esc, " | ") + " |\n")
}

// md keeps text from the incident (alert titles, reasons) from turning into Markdown or
// raw HTML in a viewer.
func md(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;", "`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]").Replace(s)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func clock(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("15:04:05.000")
}

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func params(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+p[k])
	}
	return strings.Join(parts, " ")
}

package report

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
)

func heading(rep Report) string {
	title := rep.Title
	if title == "" {
		title = rep.Runbook
	}
	return fmt.Sprintf("Incident %s: %s", rep.ShortID, title)
}

func noEvidence(rep Report) string {
	return fmt.Sprintf("incident %s has no traffic evidence yet: a traffic.snapshot step captures it", rep.ShortID)
}

// WriteText renders the report for a terminal.
func WriteText(w io.Writer, rep Report) error {
	fmt.Fprintln(w, heading(rep))
	if len(rep.Bundles) == 0 {
		fmt.Fprintln(w, noEvidence(rep))
		return nil
	}
	for _, b := range rep.Bundles {
		v := viewOf(b)
		fmt.Fprintf(w, "\n%s\n", v.Title)
		for _, f := range v.Facts {
			fmt.Fprintf(w, "  %-11s %s\n", f[0], f[1])
		}
		if len(v.Changes) > 0 {
			fmt.Fprintln(w, "\nWhat changed most")
			for _, c := range v.Changes {
				fmt.Fprintln(w, "  "+c)
			}
		}
		for _, t := range v.Tables {
			fmt.Fprintf(w, "\n%s\n", t.Title)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			for _, r := range append([][]string{t.Header}, t.Rows...) {
				fmt.Fprintln(tw, strings.Join(indent(r), "\t"))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		if len(v.Notes) > 0 {
			fmt.Fprintln(w, "\nNotes")
			for _, n := range v.Notes {
				fmt.Fprintln(w, "  - "+n)
			}
		}
	}
	return nil
}

func indent(cells []string) []string {
	out := append([]string{}, cells...)
	if len(out) > 0 {
		out[0] = "  " + out[0]
	}
	return out
}

// WriteMarkdown renders the report as a Markdown document.
func WriteMarkdown(w io.Writer, rep Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", mdEscape(heading(rep)))
	fmt.Fprintf(&b, "Runbook `%s`, state %s, incident ID `%s`.\n", rep.Runbook, rep.State, rep.IncidentID)
	if len(rep.Bundles) == 0 {
		fmt.Fprintf(&b, "\n%s\n", noEvidence(rep))
	}
	for _, bd := range rep.Bundles {
		v := viewOf(bd)
		fmt.Fprintf(&b, "\n## %s\n\n", mdEscape(v.Title))
		for _, f := range v.Facts {
			fmt.Fprintf(&b, "- **%s**: %s\n", f[0], mdEscape(f[1]))
		}
		if len(v.Changes) > 0 {
			b.WriteString("\n### What changed most\n\n")
			for _, c := range v.Changes {
				b.WriteString(mdEscape(c) + "\n")
			}
		}
		for _, t := range v.Tables {
			fmt.Fprintf(&b, "\n### %s\n\n", mdEscape(t.Title))
			b.WriteString(mdRow(t.Header))
			seps := make([]string, len(t.Header))
			for i := range seps {
				seps[i] = "---"
			}
			b.WriteString(mdRow(seps))
			for _, r := range t.Rows {
				b.WriteString(mdRow(r))
			}
		}
		if len(v.Notes) > 0 {
			b.WriteString("\n### Notes\n\n")
			for _, n := range v.Notes {
				b.WriteString("- " + mdEscape(n) + "\n")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mdRow(cells []string) string {
	esc := make([]string, len(cells))
	for i, c := range cells {
		esc[i] = strings.ReplaceAll(mdEscape(c), "|", `\|`)
	}
	return "| " + strings.Join(esc, " | ") + " |\n"
}

// mdEscape keeps text from a bundle (redacted samples, prompt names) from turning into
// Markdown or raw HTML in a viewer.
func mdEscape(s string) string {
	r := strings.NewReplacer("<", "&lt;", ">", "&gt;", "`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]")
	return r.Replace(s)
}

// htmlReport is parsed on first use: every quench command links this package, few render HTML.
var htmlReport = sync.OnceValue(func() *template.Template { return template.Must(template.New("report").Parse(htmlReportText)) })

const htmlReportText = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Heading}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#1d1d1f}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #d0d0d5;padding:.3rem .6rem;text-align:left;font-variant-numeric:tabular-nums}
th{background:#f2f2f5}
dt{font-weight:600;float:left;width:8rem}dd{margin:0 0 .2rem 8rem}
.changes li{margin:.2rem 0}.notes{color:#555}
figure{margin:.5rem 0 1rem}figcaption{color:#555;font-size:.9rem}
</style></head><body>
<h1>{{.Heading}}</h1>
<p>Runbook <code>{{.Report.Runbook}}</code>, state {{.Report.State}}, incident ID <code>{{.Report.IncidentID}}</code>.</p>
{{if not .Views}}<p>{{.Empty}}</p>{{end}}
{{range .Views}}<section>
<h2>{{.Title}}</h2>
<dl>{{range .Facts}}<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>{{end}}</dl>
{{if .Changes}}<h3>What changed most</h3><ul class="changes">{{range .Changes}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Charts}}<h3>Incident against baseline, per provider / model / prompt version</h3>
{{range .Charts}}<figure>{{.SVG}}<figcaption>{{.Title}}</figcaption></figure>
{{end}}{{end}}
{{range .Tables}}<h3>{{.Title}}</h3>
<table><thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</tbody></table>
{{end}}
{{if .Notes}}<h3>Notes</h3><ul class="notes">{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
</section>{{end}}
</body></html>
`

// WriteHTML renders the report as a self-contained HTML page (every value escaped).
func WriteHTML(w io.Writer, rep Report) error {
	views := make([]view, 0, len(rep.Bundles))
	for _, b := range rep.Bundles {
		views = append(views, viewOf(b))
	}
	return htmlReport().Execute(w, map[string]any{"Heading": heading(rep), "Report": rep, "Views": views, "Empty": noEvidence(rep)})
}

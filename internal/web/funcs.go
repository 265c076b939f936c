package web

import (
	"fmt"
	"html/template"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// pageNames are the pages; each is parsed with the layout.
var pageNames = []string{"list", "incident", "evidence", "postmortem", "login", "error"}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

var funcs = template.FuncMap{
	"badge":     badgeClass,
	"label":     stateLabel,
	"stamp":     stamp,
	"ago":       func(t time.Time) string { return t.UTC().Format("15:04:05") },
	"short":     shortDigest,
	"sortedKV":  sortedKV,
	"dur":       stepDuration,
	"pct":       func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) },
	"join":      strings.Join,
	"deref":     func(t *time.Time) time.Time { return *t },
	"svg":       func(s string) template.HTML { return template.HTML(s) }, // only for charts built here from escaped parts
	"lower":     strings.ToLower,
	"eventKind": func(k string) string { return strings.ReplaceAll(k, "_", " ") },
}

// knownStates are the states with a colour of their own; any other state (one a newer
// workflow reports) still shows, with the generic badge and its own name.
var knownStates = map[string]string{
	"running":           "run",
	"awaiting_approval": "wait",
	"verifying":         "verify",
	"closing":           "closing",
	"resolved":          "ok",
	"completed":         "ok",
	"done":              "ok",
	"aborted":           "abort",
	"canceled":          "abort",
	"failed":            "fail",
	"rejected":          "fail",
	"reverted":          "abort",
	"skipped":           "skip",
	"pending":           "pending",
}

func badgeClass(state string) string {
	if c, ok := knownStates[state]; ok {
		return "badge b-" + c
	}
	return "badge b-other"
}

func stateLabel(state string) string {
	if state == "" {
		return "unknown"
	}
	return strings.ReplaceAll(state, "_", " ")
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

type kv struct{ K, V string }

func sortedKV(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}

// stepDuration is how long a step took, or has been running ("" before it started).
func stepDuration(start, end *time.Time) string {
	if start == nil {
		return ""
	}
	if end == nil {
		return "running since " + start.UTC().Format("15:04:05")
	}
	return humanDuration(end.Sub(*start))
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

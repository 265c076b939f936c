package web

import (
	"context"
	"fmt"
	"html"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/evidence/report"
	"github.com/quench-dev/quench/internal/postmortem"
	"github.com/quench-dev/quench/workflows"
)

type evidenceView struct {
	base
	St      workflows.Status
	Bundles []bundleView
	Problem string
}

type bundleView struct {
	Name, SHA256 string
	Verified     bool
	Bytes        int64
	Doc          bundle.Bundle
	Charts       []chart
	Window       string
	Baseline     string
}

type chart struct {
	Title string
	SVG   string // built by barChart from escaped text and numbers only
}

func (h *Handler) evidence(w http.ResponseWriter, r *http.Request, _ *session) {
	st, ok := h.status(w, r)
	if !ok {
		return
	}
	v := &evidenceView{base: h.base(r, "Evidence · "+orText(st.Title, st.ShortID)), St: st}
	rep, err := h.loadEvidence(r.Context(), st)
	if err != nil {
		v.Problem = err.Error()
	}
	for _, b := range rep.Bundles {
		m := b.Doc.Manifest
		v.Bundles = append(v.Bundles, bundleView{Name: b.Step, SHA256: b.Ref.SHA256, Verified: b.Verified, Bytes: b.Ref.Bytes, Doc: b.Doc,
			Charts:   charts(b.Doc.Groups),
			Window:   fmt.Sprintf("%s → %s (%s)", stamp(m.Window.From), stamp(m.Window.To), m.Window.To.Sub(m.Window.From).Round(time.Second)),
			Baseline: fmt.Sprintf("%s → %s (%s)", stamp(m.Baseline.From), stamp(m.Baseline.To), m.Baseline.To.Sub(m.Baseline.From).Round(time.Second))})
	}
	h.render(w, r, http.StatusOK, "evidence", v)
}

func (h *Handler) loadEvidence(ctx context.Context, st workflows.Status) (report.Report, error) {
	if len(st.Evidence) > 0 && h.opts.Evidence == nil {
		return report.Report{}, fmt.Errorf("this quench has no evidence store to read the incident's %d bundle(s) from", len(st.Evidence))
	}
	return report.Load(ctx, st, h.opts.Evidence)
}

// charts compare the incident with its baseline per provider / model / prompt version.
func charts(groups []bundle.Group) []chart {
	if len(groups) == 0 {
		return nil
	}
	labels := make([]string, len(groups))
	for i, g := range groups {
		l := g.Provider + " / " + orText(g.ResponseModel, "-")
		if g.PromptName != "" {
			l += " / " + g.PromptName
			if g.PromptVersion != "" {
				l += "@" + g.PromptVersion
			}
		}
		labels[i] = l
	}
	series := func(f func(bundle.Stats) float64) (inc, base []float64) {
		for _, g := range groups {
			inc = append(inc, f(g.Incident))
			base = append(base, f(g.Baseline))
		}
		return
	}
	var out []chart
	add := func(title string, format func(float64) string, f func(bundle.Stats) float64) {
		inc, base := series(f)
		out = append(out, chart{Title: title, SVG: barChart(title, labels, inc, base, format)})
	}
	add("Error rate", func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }, func(s bundle.Stats) float64 { return s.ErrorRate })
	add("Latency p95 (ms)", func(x float64) string { return fmt.Sprintf("%.0f", x) }, func(s bundle.Stats) float64 { return s.LatencyMs.P95Or0() })
	add("Output tokens (mean)", func(x float64) string { return fmt.Sprintf("%.0f", x) }, func(s bundle.Stats) float64 { return s.OutputTokens.MeanOr0() })
	add("Cost per request (USD)", func(x float64) string { return fmt.Sprintf("%.4f", x) }, func(s bundle.Stats) float64 { return s.CostPerRequest })
	return out
}

// barChart draws paired horizontal bars (incident dark, baseline light) per row as an
// inline SVG. Every text is escaped; numbers are formatted here.
func barChart(title string, labels []string, inc, base []float64, format func(float64) string) string {
	const width, labelW, valueW, rowH, barH = 560.0, 200.0, 70.0, 34.0, 12.0
	maxV := 0.0
	for i := range inc {
		maxV = math.Max(maxV, math.Max(inc[i], base[i]))
	}
	plotW := width - labelW - valueW
	height := rowH*float64(len(labels)) + 24
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" aria-label="%s, incident against baseline" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" xmlns="http://www.w3.org/2000/svg">`,
		html.EscapeString(title), width, height, width, height)
	fmt.Fprintf(&b, `<rect class="k-inc" x="%.0f" y="2" width="10" height="10"/><text x="%.0f" y="11">incident</text>`, labelW, labelW+14)
	fmt.Fprintf(&b, `<rect class="k-base" x="%.0f" y="2" width="10" height="10"/><text x="%.0f" y="11">baseline</text>`, labelW+90, labelW+104)
	for i, l := range labels {
		y := 24 + rowH*float64(i)
		fmt.Fprintf(&b, `<text class="lbl" x="0" y="%.1f">%s</text>`, y+barH+2, html.EscapeString(clip(l, 34)))
		for j, v := range []float64{inc[i], base[i]} {
			w := 0.0
			if maxV > 0 {
				w = plotW * v / maxV
			}
			cls := "k-inc"
			if j == 1 {
				cls = "k-base"
			}
			by := y + float64(j)*(barH+2)
			fmt.Fprintf(&b, `<rect class="%s" x="%.0f" y="%.1f" width="%.1f" height="%.0f"><title>%s %s</title></rect>`, cls, labelW, by, math.Max(w, 1), barH,
				[]string{"incident", "baseline"}[j], html.EscapeString(format(v)))
			fmt.Fprintf(&b, `<text class="val" x="%.1f" y="%.1f">%s</text>`, labelW+math.Max(w, 1)+4, by+barH-2, html.EscapeString(format(v)))
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

type postmortemView struct {
	base
	St workflows.Status
	PM postmortem.Report
}

func (h *Handler) loadPostmortem(ctx context.Context, ref string) (postmortem.Report, error) {
	if h.opts.Postmortem != nil {
		return h.opts.Postmortem(ctx, ref)
	}
	st, err := h.opts.Incidents.Status(ctx, ref)
	if err != nil {
		return postmortem.Report{}, err
	}
	in := postmortem.Input{Status: st, UIURL: h.opts.UIURL, Namespace: h.opts.Namespace}
	rep, err := h.loadEvidence(ctx, st)
	if err != nil {
		in.EvidenceError = err.Error()
	}
	in.Bundles = rep.Bundles
	return postmortem.Build(in), nil
}

// postmortemFor builds the postmortem of the incident the path names, answering an
// error page when it cannot (ok false).
func (h *Handler) postmortemFor(w http.ResponseWriter, r *http.Request) (postmortem.Report, bool) {
	ref, ok := h.ref(w, r)
	if !ok {
		return postmortem.Report{}, false
	}
	pm, err := h.loadPostmortem(r.Context(), ref)
	if err != nil {
		h.fail(w, r, err)
		return postmortem.Report{}, false
	}
	return pm, true
}

func (h *Handler) postmortemPage(w http.ResponseWriter, r *http.Request, _ *session) {
	pm, ok := h.postmortemFor(w, r)
	if !ok {
		return
	}
	h.render(w, r, http.StatusOK, "postmortem", &postmortemView{base: h.base(r, "Postmortem · "+orText(pm.Summary.Title, pm.Summary.ShortID)), PM: pm})
}

func (h *Handler) postmortemMarkdown(w http.ResponseWriter, r *http.Request, _ *session) {
	pm, ok := h.postmortemFor(w, r)
	if !ok {
		return
	}
	var b strings.Builder
	if err := postmortem.WriteMarkdown(&b, pm); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="postmortem-%s.md"`, pm.Summary.ShortID))
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(b.String()))
}

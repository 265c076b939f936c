package report

import (
	"encoding/xml"
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/quench-dev/quench/internal/evidence/bundle"
)

// chart is one figure, incident against baseline, for each of the busiest groups.
type chart struct {
	Title string
	// Window labels for the legend ("30m", "24h").
	IncLabel, BaseLabel string
	Rows                []chartRow
	format              func(float64) string
}

// chartRow is one group's pair of bars. A side with no figure (no requests, no latency
// recorded) is NaN: drawn as no bar and labelled "-", never as a zero.
type chartRow struct {
	Label     string
	Inc, Base float64
}

// maxChartRows keeps charts readable: the busiest groups (the bundle orders them so).
const maxChartRows = 12

// chartsOf draws the figures that compare across windows of different lengths: rates,
// shares and per-request values, never totals.
func chartsOf(groups []bundle.Group, w windows) []chart {
	if len(groups) == 0 {
		return nil
	}
	groups = groups[:min(len(groups), maxChartRows)]
	type metric struct {
		title  string
		value  func(s bundle.Stats, perMin func(float64) float64) float64
		format func(float64) string
	}
	none := math.NaN()
	metrics := []metric{
		{"Error rate", func(s bundle.Stats, _ func(float64) float64) float64 {
			if s.Requests == 0 {
				return none
			}
			return s.ErrorRate
		}, pct},
		{"Latency p95 (ms)", func(s bundle.Stats, _ func(float64) float64) float64 {
			if s.LatencyMs == nil {
				return none
			}
			return s.LatencyMs.P95
		}, func(x float64) string { return fmt.Sprintf("%.0f ms", x) }},
		{"Output tokens, mean per answer", func(s bundle.Stats, _ func(float64) float64) float64 {
			if s.OutputTokens == nil {
				return none
			}
			return s.OutputTokens.Mean
		}, func(x float64) string { return fmt.Sprintf("%.0f", x) }},
		{"Cost per request (USD)", func(s bundle.Stats, _ func(float64) float64) float64 {
			if s.Requests == 0 {
				return none
			}
			return s.CostPerRequest
		}, func(x float64) string { return fmt.Sprintf("$%.5f", x) }},
		{"Cost per minute (USD)", func(s bundle.Stats, perMin func(float64) float64) float64 {
			return perMin(s.CostUSD)
		}, func(x float64) string { return fmt.Sprintf("$%.4f/min", x) }},
	}
	var out []chart
	for _, m := range metrics {
		c := chart{Title: m.title, IncLabel: w.incLabel, BaseLabel: w.baseLabel, format: m.format}
		for _, g := range groups {
			c.Rows = append(c.Rows, chartRow{
				Label: g.Provider + " / " + orDash(g.ResponseModel) + " / " + promptOf(g),
				Inc:   m.value(g.Incident, w.incRate), Base: m.value(g.Baseline, w.baseRate),
			})
		}
		out = append(out, c)
	}
	return out
}

// Chart geometry, in SVG user units.
const (
	chartWidth  = 760
	chartLabelW = 300 // group names, right-aligned before the bars
	chartBarMax = 330 // the longest bar
	chartTop    = 26  // the legend
	chartRowH   = 34  // two bars and a gap
	chartBarH   = 12
)

// Bar colours: the incident stands out, the baseline is the reference.
const (
	colourIncident = "#c92a2a"
	colourBaseline = "#868e96"
)

// SVG draws the chart as inline SVG: no script, no link, no external asset. Every text
// from the bundle is XML-escaped.
func (c chart) SVG() template.HTML {
	peak := 0.0
	for _, r := range c.Rows {
		for _, v := range []float64{r.Inc, r.Base} {
			if !math.IsNaN(v) && !math.IsInf(v, 0) && v > peak {
				peak = v
			}
		}
	}
	height := chartTop + len(c.Rows)*chartRowH + 6
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="%d" height="%d" viewBox="0 0 %d %d" font-family="system-ui,sans-serif" font-size="12">`,
		chartWidth, height, chartWidth, height)
	b.WriteString("<title>")
	esc(&b, c.Title+": incident ("+c.IncLabel+") against baseline ("+c.BaseLabel+")")
	b.WriteString("</title>")
	// Legend.
	fmt.Fprintf(&b, `<rect x="%d" y="6" width="10" height="10" fill="%s"/><text x="%d" y="15">`, chartLabelW, colourIncident, chartLabelW+14)
	esc(&b, "incident ("+c.IncLabel+")")
	fmt.Fprintf(&b, `</text><rect x="%d" y="6" width="10" height="10" fill="%s"/><text x="%d" y="15">`, chartLabelW+140, colourBaseline, chartLabelW+154)
	esc(&b, "baseline ("+c.BaseLabel+")")
	b.WriteString("</text>")
	for i, r := range c.Rows {
		y := chartTop + i*chartRowH
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">`, chartLabelW-8, y+chartBarH+4)
		esc(&b, clip(r.Label, 48))
		b.WriteString("</text>")
		c.bar(&b, "incident", colourIncident, r.Inc, peak, y)
		c.bar(&b, "baseline", colourBaseline, r.Base, peak, y+chartBarH+2)
	}
	b.WriteString("</svg>")
	// Built above from escaped text and numbers only.
	return template.HTML(b.String()) //nolint:gosec // every bundle string went through esc
}

func (c chart) bar(b *strings.Builder, class, colour string, v, peak float64, y int) {
	width, label := 0.0, "-"
	if !math.IsNaN(v) && !math.IsInf(v, 0) {
		label = c.format(v)
		if peak > 0 && v > 0 {
			width = math.Max(1, v/peak*chartBarMax)
		}
	}
	fmt.Fprintf(b, `<rect class="%s" x="%d" y="%d" width="%.1f" height="%d" fill="%s" data-value="%s"/>`,
		class, chartLabelW, y, width, chartBarH, colour, valueAttr(v))
	fmt.Fprintf(b, `<text x="%.1f" y="%d" fill="#333">`, float64(chartLabelW)+width+4, y+chartBarH-2)
	esc(b, label)
	b.WriteString("</text>")
}

// valueAttr is the bar's figure for machines (tests, scrapers): "" when there is none.
func valueAttr(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return fmt.Sprintf("%g", v)
}

func esc(b *strings.Builder, s string) {
	_ = xml.EscapeText(b, []byte(s)) // a strings.Builder never fails a write
}

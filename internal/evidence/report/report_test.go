package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/ports"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var now = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// story is an outage on a 30m window against a 24h baseline: 48 healthy baseline requests
// on primary (one every 30 minutes), then 60 in the window, 24 of them failing on primary
// and 20 served by a new fallback provider. A label hostile to HTML and XML rides along.
func story(t *testing.T) Report {
	t.Helper()
	b, err := bundle.NewBuilder(ports.SnapshotRequest{Window: 30 * time.Minute, Baseline: 24 * time.Hour, Now: now, Samples: 0})
	if err != nil {
		t.Fatal(err)
	}
	f := func(v float64) *float64 { return &v }
	for i := 0; i < 48; i++ {
		b.Add(bundle.Request{Time: now.Add(-30*time.Minute - 24*time.Hour + time.Duration(i)*30*time.Minute), Provider: "primary",
			RequestModel: "gpt-4o", PromptName: "answer", PromptVersion: "v1", DurationMs: f(1800), OutputTokens: f(320),
			InputTokens: f(600), CostUSD: f(0.0047), FinishReasons: []string{"stop"}, AgentKey: "agent-support"}, nil)
	}
	for i := 0; i < 40; i++ {
		r := bundle.Request{Time: now.Add(-30*time.Minute + time.Duration(i)*30*time.Second), Provider: "primary",
			RequestModel: "gpt-4o", PromptName: "answer", PromptVersion: "v1", DurationMs: f(1900), OutputTokens: f(300),
			InputTokens: f(600), CostUSD: f(0.0045), FinishReasons: []string{"stop"}, AgentKey: "agent-support"}
		if i%5 < 3 {
			r.ErrorType, r.DurationMs, r.OutputTokens, r.CostUSD, r.FinishReasons = "503", f(400), nil, f(0.0015), nil
		}
		b.Add(r, nil)
	}
	for i := 0; i < 20; i++ {
		b.Add(bundle.Request{Time: now.Add(-10*time.Minute + time.Duration(i)*30*time.Second), Provider: `fallback<script>&"`,
			RequestModel: "gpt-4o", ResponseModel: "claude-sonnet-4", PromptName: "answer", PromptVersion: "v1",
			DurationMs: f(2400), OutputTokens: f(350), InputTokens: f(600), CostUSD: f(0.006), FinishReasons: []string{"stop"},
			AgentKey: "agent-support"}, nil)
	}
	snap, err := b.Build(bundle.Manifest{Source: "/var/log/llm.jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	var doc bundle.Bundle
	if err := json.Unmarshal(snap.Bundle, &doc); err != nil {
		t.Fatal(err)
	}
	return Report{IncidentID: "inc-provider-outage-00112233445566ab", ShortID: "5566ab", Title: "Primary errors",
		Runbook: "provider-outage", State: "running", Bundles: []Bundle{{
			Ref:  ports.EvidenceRef{Name: "evidence", SHA256: strings.Repeat("ab", 32), Bytes: int64(len(snap.Bundle))},
			Step: "evidence", Verified: true, Doc: doc,
		}}}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/evidence/report -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the output (go test -update rewrites it after a deliberate change):\n%s", path, got)
	}
}

func TestTextComparesLikeWithLike(t *testing.T) {
	var out bytes.Buffer
	if err := WriteText(&out, story(t)); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	golden(t, "story.txt", out.Bytes())

	// The mixed figure of old ("498 (0.35/min) x58.31") is gone: a total carries no rate
	// and no ratio.
	if regexp.MustCompile(`\d+ \(\d+\.\d+/min\)`).MatchString(text) {
		t.Errorf("a count and a rate share a cell:\n%s", text)
	}
	rows := totalsRows(t, text)
	for label, cells := range rows {
		if strings.Contains(label, "total") {
			if cells[2] != "" {
				t.Errorf("%s has a change (%q) between windows of different lengths", label, cells[2])
			}
			for _, c := range cells[:2] {
				if c != "-" && !strings.HasSuffix(c, " in 30m") && !strings.HasSuffix(c, " in 24h") {
					t.Errorf("%s cell %q does not name its window", label, c)
				}
			}
		}
	}
	// Rates per minute on both sides, and the ratio is theirs: 60 in 30m is 2/min, 48 in
	// 24h is 0.0333/min, x60.
	if got := rows["requests per minute"]; got[0] != "2.00/min" || got[1] != "0.03/min" || got[2] != "x60.00" {
		t.Errorf("requests per minute = %q", got)
	}
	// Cost compares per minute and per request, never 30 minutes of spend against 24 hours.
	incCost := 16*0.0045 + 24*0.0015 + 20*0.006
	wantPerMin := incCost / 30 / (48 * 0.0047 / (24 * 60))
	if got := rows["cost USD per minute"]; got[2] != "x"+strconv.FormatFloat(wantPerMin, 'f', 2, 64) {
		t.Errorf("cost per minute = %q, want change x%.2f", got, wantPerMin)
	}
	if got := rows["cost USD, total"]; got[0] != "$0.2280 in 30m" || got[1] != "$0.2256 in 24h" {
		t.Errorf("cost totals = %q", got)
	}
	if !strings.Contains(text, "Totals, incident window (30m) against baseline (24h)") {
		t.Errorf("the totals do not name their windows:\n%s", text)
	}
}

// totalsRows reads the totals table of the text report: label -> incident, baseline, change.
func totalsRows(t *testing.T, text string) map[string][3]string {
	t.Helper()
	_, after, ok := strings.Cut(text, "Totals, incident window")
	if !ok {
		t.Fatalf("no totals table:\n%s", text)
	}
	lines := strings.Split(after, "\n")
	header := lines[1]
	cols := []int{strings.Index(header, "INCIDENT"), strings.Index(header, "BASELINE"), strings.Index(header, "CHANGE")}
	rows := map[string][3]string{}
	for _, l := range lines[2:] {
		if strings.TrimSpace(l) == "" {
			break
		}
		cell := func(i int) string {
			from := cols[i]
			if from >= len(l) {
				return ""
			}
			to := len(l)
			if i+1 < len(cols) && cols[i+1] < len(l) {
				to = cols[i+1]
			}
			return strings.TrimSpace(l[from:to])
		}
		rows[strings.TrimSpace(l[:cols[0]])] = [3]string{cell(0), cell(1), cell(2)}
	}
	if len(rows) < 8 {
		t.Fatalf("totals table rows = %v", rows)
	}
	return rows
}

func TestMarkdownGolden(t *testing.T) {
	var out bytes.Buffer
	if err := WriteMarkdown(&out, story(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "story.md", out.Bytes())
}

// svgElement is what the test reads back of a chart.
type svgElement struct {
	XMLName xml.Name
	Title   string `xml:"title"`
	Rects   []struct {
		Class string  `xml:"class,attr"`
		Width float64 `xml:"width,attr"`
		Value string  `xml:"data-value,attr"`
	} `xml:"rect"`
	Texts []string `xml:"text"`
}

func TestHTMLDrawsChartsInlineSVG(t *testing.T) {
	var out bytes.Buffer
	if err := WriteHTML(&out, story(t)); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	golden(t, "story.html", out.Bytes())

	// Nothing is fetched: no scripts, links, sources, style imports or URLs other than the
	// SVG namespace name.
	for _, banned := range []string{"<script", "<link", "src=", "href=", "url(", "@import", "<img", "<iframe"} {
		if strings.Contains(page, banned) {
			t.Errorf("the page has %q", banned)
		}
	}
	if n, ns := strings.Count(page, "http"), strings.Count(page, `xmlns="http://www.w3.org/2000/svg"`); n != ns {
		t.Errorf("%d http references, %d of them the SVG namespace", n, ns)
	}

	svgs := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(page, -1)
	if len(svgs) != 5 {
		t.Fatalf("%d charts, want 5 (error rate, latency, output tokens, cost per request, cost per minute)", len(svgs))
	}
	charts := map[string]svgElement{}
	for _, s := range svgs {
		var el svgElement
		dec := xml.NewDecoder(strings.NewReader(s))
		dec.Strict = true
		if err := dec.Decode(&el); err != nil {
			t.Fatalf("chart is not well-formed XML: %v\n%s", err, s)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Fatalf("trailing content after the chart: %v", err)
		}
		if el.XMLName.Space != "http://www.w3.org/2000/svg" || el.XMLName.Local != "svg" {
			t.Fatalf("root element %v", el.XMLName)
		}
		title, _, _ := strings.Cut(el.Title, ":")
		charts[title] = el
	}
	errRate, ok := charts["Error rate"]
	if !ok {
		t.Fatalf("no error rate chart among %v", keys(charts))
	}
	bars := func(el svgElement, class string) (widths []float64, values []string) {
		for _, r := range el.Rects {
			if r.Class == class {
				widths, values = append(widths, r.Width), append(values, r.Value)
			}
		}
		return
	}
	incW, incV := bars(errRate, "incident")
	baseW, baseV := bars(errRate, "baseline")
	if len(incW) != 2 || len(baseW) != 2 {
		t.Fatalf("error rate bars: %d incident, %d baseline; want one each per group (2)", len(incW), len(baseW))
	}
	// Groups are ordered by incident traffic: primary (24 of 40 failed), then fallback.
	if incV[0] != "0.6" || baseV[0] != "0" || incV[1] != "0" || baseV[1] != "" {
		t.Fatalf("error rate values: incident %v, baseline %v", incV, baseV)
	}
	if incW[0] != chartBarMax || baseW[0] != 0 || baseW[1] != 0 {
		t.Fatalf("error rate widths: incident %v, baseline %v", incW, baseW)
	}
	if !contains(errRate.Texts, "60.0%") || !contains(errRate.Texts, "-") {
		t.Fatalf("error rate labels %v: want the figure and a dash for a group absent from the baseline", errRate.Texts)
	}
	// Widths are proportional to the figures: p95 latency 1900 against 1800 on primary.
	lat := charts["Latency p95 (ms)"]
	w, v := bars(lat, "incident")
	bw, bv := bars(lat, "baseline")
	iv, _ := strconv.ParseFloat(v[0], 64)
	bvv, _ := strconv.ParseFloat(bv[0], 64)
	if math.Abs(w[0]/bw[0]-iv/bvv) > 0.01 {
		t.Fatalf("latency widths %v/%v do not follow values %v/%v", w, bw, v, bv)
	}
	// The hostile provider name is text, escaped, in the chart.
	if !contains(errRate.Texts, `fallback<script>&" / claude-sonnet-4 / answer@v1`) {
		t.Fatalf("group labels %v", errRate.Texts)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestDurLabel(t *testing.T) {
	for d, want := range map[time.Duration]string{30 * time.Minute: "30m", 24 * time.Hour: "24h", 90 * time.Minute: "1h30m", 45 * time.Second: "45s"} {
		if got := durLabel(d); got != want {
			t.Errorf("durLabel(%s) = %q, want %q", d, got, want)
		}
	}
}

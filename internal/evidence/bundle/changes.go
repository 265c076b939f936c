package bundle

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// minRequests is the least traffic on either side for a comparison to mean anything.
const minRequests = 5

// maxChanges caps the "what changed most" list.
const maxChanges = 10

// Change is one difference between the incident window and the baseline, scored so the
// most telling ones come first.
type Change struct {
	Kind      string  `json:"kind"`      // new_response_model | new_prompt_version | new_provider | error_rate | latency_p95 | output_tokens | finish_reason | cost_per_request | volume | agent_spend
	Dimension string  `json:"dimension"` // all | provider | provider/model | prompt | agent
	Subject   string  `json:"subject"`
	Baseline  float64 `json:"baseline"`
	Incident  float64 `json:"incident"`
	Score     float64 `json:"score"`
	Text      string  `json:"text"`
}

// groupKey is the unit of aggregation.
type groupKey struct {
	Provider, ResponseModel, PromptName, PromptVersion string
}

func (k groupKey) prompt() string {
	r := Record{PromptName: k.PromptName, PromptVersion: looseString(k.PromptVersion)}
	return r.prompt()
}

// pair is one slice of traffic in both windows.
type pair struct{ inc, base acc }

func view(groups map[groupKey]*pair, key func(groupKey) string) map[string]*pair {
	out := map[string]*pair{}
	for k, g := range groups {
		name := key(k)
		if name == "" {
			continue
		}
		v, ok := out[name]
		if !ok {
			v = &pair{}
			out[name] = v
		}
		v.inc.merge(&g.inc)
		v.base.merge(&g.base)
	}
	return out
}

func sortedKeys(m map[string]*pair) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// whatChanged lists the biggest differences, most telling first.
func whatChanged(groups map[groupKey]*pair, window, baseline time.Duration) []Change {
	var out []Change
	add := func(c Change) {
		c.Score = round(c.Score, 3)
		out = append(out, c)
	}

	total := view(groups, func(groupKey) string { return "all" })["all"]
	if total != nil && total.inc.requests >= minRequests && total.base.requests >= minRequests {
		inc := float64(total.inc.requests) / window.Minutes()
		base := float64(total.base.requests) / baseline.Minutes()
		if r := inc / base; r >= 2 || r <= 0.5 {
			add(Change{Kind: "volume", Dimension: "all", Subject: "all", Baseline: round(base, 2), Incident: round(inc, 2),
				Score: math.Abs(math.Log(r)),
				Text:  fmt.Sprintf("requests per minute %s (%s → %s)", Relative(r), perMinText(base), perMinText(inc))})
		}
	}

	byProvider := view(groups, func(k groupKey) string { return k.Provider })
	for _, name := range sortedKeys(byProvider) {
		p := byProvider[name]
		if p.inc.requests < minRequests {
			continue
		}
		if p.base.requests == 0 && total != nil && total.base.requests >= minRequests {
			share := ratio(p.inc.requests, total.inc.requests)
			add(Change{Kind: "new_provider", Dimension: "provider", Subject: name, Incident: round(share, 4),
				Score: 1 + 2*share,
				Text:  fmt.Sprintf("provider %s serves %s of requests and served none in the baseline", name, Percent(share))})
			continue
		}
		if p.base.requests < minRequests {
			continue
		}
		compareErrors(add, "provider", name, p, 1)
		compareLatency(add, "provider", name, p)
		bi, ii := p.base.stats(), p.inc.stats()
		if bi.CostPerRequest > 0 && ii.CostPerRequest > 0 {
			if r := ii.CostPerRequest / bi.CostPerRequest; r >= 1.5 || r <= 0.67 {
				add(Change{Kind: "cost_per_request", Dimension: "provider", Subject: name, Baseline: bi.CostPerRequest, Incident: ii.CostPerRequest,
					Score: 1.5 * math.Abs(math.Log(r)),
					Text:  fmt.Sprintf("cost per request on provider %s %s ($%.4f → $%.4f)", name, Relative(r), bi.CostPerRequest, ii.CostPerRequest)})
			}
		}
	}

	byModel := view(groups, func(k groupKey) string { return k.Provider + "/" + k.ResponseModel })
	for _, name := range sortedKeys(byModel) {
		m := byModel[name]
		provider, model, _ := strings.Cut(name, "/")
		prov := byProvider[provider]
		if m.inc.requests < minRequests || m.base.requests > 0 || prov.base.requests < minRequests {
			continue
		}
		share := ratio(m.inc.requests, prov.inc.requests)
		add(Change{Kind: "new_response_model", Dimension: "provider/model", Subject: name, Incident: round(share, 4),
			Score: 1 + 3*share,
			Text: fmt.Sprintf("new response model %s on provider %s (%s of its requests; baseline: %s)",
				model, provider, Percent(share), baselineModels(byModel, provider))})
	}

	byPrompt := view(groups, func(k groupKey) string { return k.prompt() })
	byPromptName := view(groups, func(k groupKey) string { return k.PromptName })
	for _, name := range sortedKeys(byPrompt) {
		p := byPrompt[name]
		promptName, _, versioned := strings.Cut(name, "@")
		family := byPromptName[promptName]
		if !versioned || p.inc.requests < minRequests || p.base.requests > 0 || family == nil || family.base.requests < minRequests {
			continue
		}
		share := ratio(p.inc.requests, family.inc.requests)
		add(Change{Kind: "new_prompt_version", Dimension: "prompt", Subject: name, Incident: round(share, 4),
			Score: 1 + 2.5*share,
			Text:  fmt.Sprintf("new prompt version %s (%s of %s requests)", name, Percent(share), promptName)})
	}
	// Compare each prompt version with itself when the same versions ran in both windows;
	// when a version came or went, compare the prompt as a whole (the new version is then
	// what changed its numbers).
	incVersions, baseVersions := promptVersions(groups)
	for _, promptName := range sortedKeys(byPromptName) {
		inc, base := incVersions[promptName], baseVersions[promptName]
		if sameSet(inc, base) {
			for _, v := range sortedSet(inc) {
				name := groupKey{PromptName: promptName, PromptVersion: v}.prompt()
				comparePrompt(add, name, "", byPrompt[name])
			}
			continue
		}
		note := fmt.Sprintf(" (versions %s → %s)", strings.Join(sortedSet(base), ", "), strings.Join(sortedSet(inc), ", "))
		comparePrompt(add, promptName, note, byPromptName[promptName])
	}

	return RankChanges(out)
}

// RankChanges orders changes most telling first and keeps the top ten: every source ranks
// its "what changed most" list the same way.
func RankChanges(out []Change) []Change {
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Text < out[j].Text
	})
	if len(out) > maxChanges {
		out = out[:maxChanges]
	}
	return out
}

func comparePrompt(add func(Change), name, note string, p *pair) {
	if p == nil || p.inc.requests < minRequests || p.base.requests < minRequests {
		return
	}
	compareErrors(add, "prompt", name, p, 0.8)
	bi, ii := p.base.stats(), p.inc.stats()
	if bi.OutputTokens != nil && ii.OutputTokens != nil && bi.OutputTokens.Mean > 0 && ii.OutputTokens.Mean > 0 {
		if r := ii.OutputTokens.Mean / bi.OutputTokens.Mean; r >= 1.25 || r <= 0.8 {
			add(Change{Kind: "output_tokens", Dimension: "prompt", Subject: name, Baseline: bi.OutputTokens.Mean, Incident: ii.OutputTokens.Mean,
				Score: 2 * math.Abs(math.Log(r)),
				Text:  fmt.Sprintf("output tokens on prompt %s %s (mean %.0f → %.0f)%s", name, Relative(r), bi.OutputTokens.Mean, ii.OutputTokens.Mean, note)})
		}
	}
	reasons := map[string]bool{}
	for k := range bi.FinishReasonShare {
		reasons[k] = true
	}
	for k := range ii.FinishReasonShare {
		reasons[k] = true
	}
	for _, reason := range sortedSet(reasons) {
		b, i := bi.FinishReasonShare[reason], ii.FinishReasonShare[reason]
		if d := i - b; math.Abs(d) >= 0.05 && reason != "stop" {
			add(Change{Kind: "finish_reason", Dimension: "prompt", Subject: name + " " + reason, Baseline: b, Incident: i,
				Score: 8 * math.Abs(d),
				Text:  fmt.Sprintf("finish reason %s on prompt %s %s from %s to %s%s", reason, name, UpDown(d), Percent(b), Percent(i), note)})
		}
	}
}

// promptVersions lists, per prompt name, the versions seen in each window.
func promptVersions(groups map[groupKey]*pair) (inc, base map[string]map[string]bool) {
	inc, base = map[string]map[string]bool{}, map[string]map[string]bool{}
	mark := func(m map[string]map[string]bool, k groupKey) {
		if m[k.PromptName] == nil {
			m[k.PromptName] = map[string]bool{}
		}
		m[k.PromptName][k.PromptVersion] = true
	}
	for k, g := range groups {
		if k.PromptName == "" {
			continue
		}
		if g.inc.requests > 0 {
			mark(inc, k)
		}
		if g.base.requests > 0 {
			mark(base, k)
		}
	}
	return inc, base
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func compareErrors(add func(Change), dimension, name string, p *pair, weight float64) {
	b, i := p.base.errorRate(), p.inc.errorRate()
	d := i - b
	if math.Abs(d) < 0.02 || (b > 0 && i/b < 1.5 && b/math.Max(i, 1e-9) < 1.5) {
		return
	}
	text := fmt.Sprintf("error rate on %s %s %s from %s to %s", dimension, name, UpDown(d), Percent(b), Percent(i))
	if top := Dominant(p.inc.errors); d > 0 && top != "" {
		text += " (mostly " + top + ")"
	}
	add(Change{Kind: "error_rate", Dimension: dimension, Subject: name, Baseline: round(b, 4), Incident: round(i, 4),
		Score: weight * 10 * math.Abs(d), Text: text})
}

func compareLatency(add func(Change), dimension, name string, p *pair) {
	bs, is := p.base.stats(), p.inc.stats()
	if bs.LatencyMs == nil || is.LatencyMs == nil || bs.LatencyMs.P95 <= 0 || is.LatencyMs.P95 <= 0 {
		return
	}
	r := is.LatencyMs.P95 / bs.LatencyMs.P95
	if r < 1.5 && r > 0.67 {
		return
	}
	add(Change{Kind: "latency_p95", Dimension: dimension, Subject: name, Baseline: bs.LatencyMs.P95, Incident: is.LatencyMs.P95,
		Score: 2 * math.Abs(math.Log(r)),
		Text:  fmt.Sprintf("p95 latency on %s %s %s (%.0f ms → %.0f ms)", dimension, name, Relative(r), bs.LatencyMs.P95, is.LatencyMs.P95)})
}

func baselineModels(byModel map[string]*pair, provider string) string {
	var models []string
	for _, name := range sortedKeys(byModel) {
		p, m, _ := strings.Cut(name, "/")
		if p == provider && byModel[name].base.requests > 0 {
			models = append(models, m)
		}
	}
	return strings.Join(models, ", ")
}

// Dominant is the most frequent key (ties: the first in sort order).
func Dominant(counts map[string]int) string {
	best, n := "", 0
	for _, k := range sortedSet(keysOf(counts)) {
		if counts[k] > n {
			best, n = k, counts[k]
		}
	}
	return best
}

func keysOf(m map[string]int) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

func sortedSet(s map[string]bool) []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Percent, UpDown and Relative word the "what changed most" lines, shared by every traffic
// source that builds this bundle.
func Percent(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) }

// UpDown says which way a difference goes.
func UpDown(d float64) string {
	if d > 0 {
		return "up"
	}
	return "down"
}

// Relative describes a ratio: "up 3.1x" or "down 62%".
func Relative(r float64) string {
	if r >= 1 {
		return fmt.Sprintf("up %.1fx", r)
	}
	return fmt.Sprintf("down %.0f%%", 100*(1-r))
}

// perMinText writes a rate so a slow one still reads (0.033, not 0.0).
func perMinText(x float64) string {
	if x < 1 {
		return fmt.Sprintf("%.2g", x)
	}
	return fmt.Sprintf("%.1f", x)
}

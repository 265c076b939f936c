package bundle

import (
	"math"
	"math/rand/v2"
	"slices"
)

// reservoirSize caps the values kept per accumulator for percentiles; counts, sums and
// means stay exact. A fixed seed keeps snapshots of the same log identical.
const reservoirSize = 50000

// acc accumulates one slice of traffic (a group in one window).
type acc struct {
	requests  int
	errors    map[string]int
	finish    map[string]int
	latency   reservoir
	outTokens reservoir
	inTokens  float64
	inTokensN int
	cost      float64
	costN     int
}

func (a *acc) add(r *Record) {
	a.requests++
	if r.failed() {
		if a.errors == nil {
			a.errors = map[string]int{}
		}
		a.errors[string(r.ErrorType)]++
	}
	for _, f := range r.FinishReasons {
		if a.finish == nil {
			a.finish = map[string]int{}
		}
		a.finish[f]++
	}
	if r.DurationMs != nil {
		a.latency.add(*r.DurationMs)
	}
	// Failed requests have no answer: their zero tokens would drag the length down.
	if r.OutputTokens != nil && !r.failed() {
		a.outTokens.add(*r.OutputTokens)
	}
	if r.InputTokens != nil {
		a.inTokens += *r.InputTokens
		a.inTokensN++
	}
	if r.CostUSD != nil {
		a.cost += *r.CostUSD
		a.costN++
	}
}

func (a *acc) merge(b *acc) {
	a.requests += b.requests
	for k, v := range b.errors {
		if a.errors == nil {
			a.errors = map[string]int{}
		}
		a.errors[k] += v
	}
	for k, v := range b.finish {
		if a.finish == nil {
			a.finish = map[string]int{}
		}
		a.finish[k] += v
	}
	a.latency.merge(&b.latency)
	a.outTokens.merge(&b.outTokens)
	a.inTokens += b.inTokens
	a.inTokensN += b.inTokensN
	a.cost += b.cost
	a.costN += b.costN
}

func (a *acc) errorCount() int {
	n := 0
	for _, v := range a.errors {
		n += v
	}
	return n
}

func (a *acc) errorRate() float64 { return ratio(a.errorCount(), a.requests) }

// Stats are the numbers a responder compares between the incident and the baseline.
type Stats struct {
	Requests        int                `json:"requests"`
	Errors          int                `json:"errors"`
	ErrorRate       float64            `json:"error_rate"`
	ErrorsByType    map[string]int     `json:"errors_by_type,omitempty"`
	ErrorRateByType map[string]float64 `json:"error_rate_by_type,omitempty"`
	LatencyMs       *Percentiles       `json:"latency_ms,omitempty"`
	OutputTokens    *TokenStats        `json:"output_tokens,omitempty"`
	InputTokensMean float64            `json:"input_tokens_mean,omitempty"`
	FinishReasons   map[string]int     `json:"finish_reasons,omitempty"`
	// FinishReasonShare is each reason's share of requests (length ~ truncation,
	// content_filter ~ refusals).
	FinishReasonShare map[string]float64 `json:"finish_reason_share,omitempty"`
	CostUSD           float64            `json:"cost_usd"`
	CostPerRequest    float64            `json:"cost_per_request_usd"`
}

// Percentiles of a distribution, nearest rank.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// TokenStats describe answer length.
type TokenStats struct {
	Mean float64 `json:"mean"`
	P95  float64 `json:"p95"`
}

func (a *acc) stats() Stats {
	s := Stats{Requests: a.requests, Errors: a.errorCount(), CostUSD: round(a.cost, 6)}
	s.ErrorRate = round(ratio(s.Errors, a.requests), 4)
	if len(a.errors) > 0 {
		s.ErrorsByType = copyCounts(a.errors)
		s.ErrorRateByType = shares(a.errors, a.requests)
	}
	if len(a.finish) > 0 {
		s.FinishReasons = copyCounts(a.finish)
		s.FinishReasonShare = shares(a.finish, a.requests)
	}
	if a.latency.n > 0 {
		v := a.latency.sorted()
		s.LatencyMs = &Percentiles{P50: round(rank(v, 50), 1), P95: round(rank(v, 95), 1), P99: round(rank(v, 99), 1)}
	}
	if a.outTokens.n > 0 {
		s.OutputTokens = &TokenStats{Mean: round(a.outTokens.mean(), 1), P95: round(rank(a.outTokens.sorted(), 95), 1)}
	}
	if a.inTokensN > 0 {
		s.InputTokensMean = round(a.inTokens/float64(a.inTokensN), 1)
	}
	if a.requests > 0 {
		s.CostPerRequest = round(a.cost/float64(a.requests), 6)
	}
	return s
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func shares(m map[string]int, total int) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = round(ratio(v, total), 4)
	}
	return out
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// rank is the nearest-rank percentile of sorted values.
func rank(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// reservoir keeps up to reservoirSize values (a uniform sample beyond that) and the exact
// count and sum.
type reservoir struct {
	values []float64
	n      int
	sum    float64
	rng    *rand.Rand
}

func (r *reservoir) add(v float64) {
	r.n++
	r.sum += v
	if len(r.values) < reservoirSize {
		r.values = append(r.values, v)
		return
	}
	if r.rng == nil {
		r.rng = rand.New(rand.NewPCG(1, 2))
	}
	if j := r.rng.IntN(r.n); j < reservoirSize {
		r.values[j] = v
	}
}

func (r *reservoir) merge(o *reservoir) {
	n, sum := r.n+o.n, r.sum+o.sum
	for _, v := range o.values {
		r.add(v)
	}
	r.n, r.sum = n, sum
}

func (r *reservoir) mean() float64 {
	if r.n == 0 {
		return 0
	}
	return r.sum / float64(r.n)
}

func (r *reservoir) sorted() []float64 {
	v := slices.Clone(r.values)
	slices.Sort(v)
	return v
}

// Tally aggregates requests outside a bundle: a verify measurement over one window.
type Tally struct{ a acc }

// Add counts r.
func (t *Tally) Add(r *Record) { t.a.add(r) }

// Requests is how many requests were counted.
func (t *Tally) Requests() int { return t.a.requests }

// OutputTokensCounted is how many successful requests reported output tokens.
func (t *Tally) OutputTokensCounted() int { return t.a.outTokens.n }

// Stats are the tally's figures, as a bundle group shows them.
func (t *Tally) Stats() Stats { return t.a.stats() }

// P95Or0 is p's 95th percentile, 0 when the window had no latencies.
func (p *Percentiles) P95Or0() float64 {
	if p == nil {
		return 0
	}
	return p.P95
}

// MeanOr0 is t's mean, 0 when the window had no token counts.
func (t *TokenStats) MeanOr0() float64 {
	if t == nil {
		return 0
	}
	return t.Mean
}

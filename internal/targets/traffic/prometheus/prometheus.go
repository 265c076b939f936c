// Package prometheus reads LLM traffic from a Prometheus server's HTTP API: evidence
// bundles (the same quench.traffic.snapshot/v1 as the JSONL log, from instant and range
// queries) and the signals a step's verify polls, including a custom PromQL query.
//
// Metrics it expects (the names deploy/alertmanager/rules/llm.rules.yml alerts on; each
// name can be changed in the config):
//
//	llm_requests_total{provider, model, route, status}        counter; status = HTTP code, or "timeout"
//	llm_request_duration_seconds_bucket{provider, model, route, le}   histogram, seconds
//	llm_output_tokens_sum / _count (/ _bucket){provider, model, route}  histogram or summary
//	llm_cost_usd_total{route, agent}                          counter, US dollars
//
// A request failed when its status matches ErrorStatus (default 5..|429|timeout, as the
// alert rule counts them): a 400 is the caller's bug, not the provider's outage.
// Prometheus holds no single requests, so its bundles have no samples and no prompt
// versions or finish reasons; the manifest says so.
package prometheus

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/httpapi"
)

// Default metric names and error statuses.
const (
	DefaultRequests     = "llm_requests_total"
	DefaultDuration     = "llm_request_duration_seconds"
	DefaultOutputTokens = "llm_output_tokens"
	DefaultCost         = "llm_cost_usd_total"
	DefaultErrorStatus  = "5..|429|timeout"
)

// Options configure the adapter.
type Options struct {
	URL string
	// Auth, when set, authenticates each request (bearer token or basic auth).
	Auth    func(*http.Request)
	Timeout time.Duration
	// Selector adds label matchers to every series selector, e.g. `env="prod"`.
	Selector string
	// Metric names (defaults above).
	Requests, Duration, OutputTokens, Cost string
	// ErrorStatus is a regular expression over the status label of failed requests.
	ErrorStatus string
}

// Source is a Prometheus traffic source.
type Source struct {
	http   *httpapi.Client
	opts   Options
	errRes *regexp.Regexp
}

// New returns the source.
func New(opts Options) (*Source, error) {
	if opts.Requests == "" {
		opts.Requests = DefaultRequests
	}
	if opts.Duration == "" {
		opts.Duration = DefaultDuration
	}
	if opts.OutputTokens == "" {
		opts.OutputTokens = DefaultOutputTokens
	}
	if opts.Cost == "" {
		opts.Cost = DefaultCost
	}
	if opts.ErrorStatus == "" {
		opts.ErrorStatus = DefaultErrorStatus
	}
	re, err := regexp.Compile("^(?:" + opts.ErrorStatus + ")$")
	if err != nil {
		return nil, fmt.Errorf("traffic.prometheus.error_status %q is not a regular expression: %v", opts.ErrorStatus, err)
	}
	cl, err := httpapi.New("Prometheus", opts.URL, opts.Timeout, opts.Auth)
	if err != nil {
		return nil, err
	}
	return &Source{http: cl, opts: opts, errRes: re}, nil
}

// sel is a series selector of metric with the configured matchers and the route.
func (s *Source) sel(metric, route string, extra ...string) string {
	parts := []string{s.opts.Selector}
	if route != "" {
		parts = append(parts, "route="+quote(route))
	}
	parts = append(parts, extra...)
	return metric + "{" + matchers(parts...) + "}"
}

func (s *Source) errMatcher() string { return "status=~" + quote(s.opts.ErrorStatus) }

// Measure reads one value of a signal over [From, Now]: the last Window, or only since the
// change when Since is set (whole seconds, rounded down so the window never reaches back
// before the change). Counters grow when a request ends, so a request that started before
// the change and ended after it still counts; Detail says so. With Provider set only its
// series count, unless no series of the route carries that provider label.
func (s *Source) Measure(ctx context.Context, in ports.VerifyInput) (ports.VerifyResult, error) {
	if in.Window <= 0 {
		return ports.VerifyResult{}, ports.Permanentf("the measurement window must be positive (got %s)", in.Window)
	}
	a := newAPI(s.http)
	span := in.Now.Sub(in.From()).Truncate(time.Second)
	where, when := "", fmt.Sprintf("in the last %s", in.Window)
	if in.Route != "" {
		where = " on route " + in.Route
	}
	switch {
	case !in.Since.IsZero() && in.From().Equal(in.Since):
		when = fmt.Sprintf("in the %s since the change (requests that ended then)", span)
		if span < time.Second {
			return ports.VerifyResult{Detail: "less than a second since the change: nothing to measure yet"}, nil
		}
	case !in.Since.IsZero():
		when += " after the change"
	}
	w := promDuration(span)
	one := func(q string) (float64, bool, error) {
		rows, err := a.instant(ctx, q, in.Now)
		if err != nil || len(rows) == 0 || math.IsNaN(rows[0].Value) || math.IsInf(rows[0].Value, 0) {
			return 0, false, err
		}
		return rows[0].Value, true, nil
	}
	var byProvider []string
	countOf := func(metric string, extra []string) (int, error) {
		v, ok, err := one(fmt.Sprintf("sum(increase(%s[%s]))", s.sel(metric, in.Route, extra...), w))
		if err != nil || !ok {
			return 0, err
		}
		return int(math.Round(v)), nil
	}
	if in.Provider != "" {
		m := []string{"provider=" + quote(in.Provider)}
		n, err := countOf(s.opts.Requests, m)
		if err != nil {
			return ports.VerifyResult{}, err
		}
		if n > 0 {
			byProvider, where = m, where+" served by "+in.Provider
		} else {
			where += fmt.Sprintf(" (no series with provider=%q: all providers counted)", in.Provider)
		}
	}
	count := func(metric string) (int, error) { return countOf(metric, byProvider) }
	sel := func(metric string, extra ...string) string {
		return s.sel(metric, in.Route, append(slices.Clip(byProvider), extra...)...)
	}
	res := ports.VerifyResult{}
	var err error
	switch in.Signal {
	case "error_rate":
		if res.Requests, err = count(s.opts.Requests); err != nil || res.Requests == 0 {
			break
		}
		var v float64
		v, _, err = one(fmt.Sprintf("sum(increase(%s[%s])) or vector(0)", sel(s.opts.Requests, s.errMatcher()), w))
		res.Value = v / math.Max(1, float64(res.Requests))
		res.Detail = fmt.Sprintf("%.0f of about %d requests failed (status %s) %s%s", v, res.Requests, s.opts.ErrorStatus, when, where)
	case "latency_p95":
		if res.Requests, err = count(s.opts.Duration + "_count"); err != nil || res.Requests == 0 {
			break
		}
		var ok bool
		res.Value, ok, err = one(fmt.Sprintf("histogram_quantile(0.95, sum by (le) (increase(%s[%s]))) * 1000", sel(s.opts.Duration+"_bucket"), w))
		if !ok {
			res.Requests = 0
		}
		res.Detail = fmt.Sprintf("p95 latency %.0f ms over about %d requests %s%s", res.Value, res.Requests, when, where)
	case "output_tokens":
		if res.Requests, err = count(s.opts.OutputTokens + "_count"); err != nil || res.Requests == 0 {
			break
		}
		var sum float64
		sum, _, err = one(fmt.Sprintf("sum(increase(%s[%s]))", sel(s.opts.OutputTokens+"_sum"), w))
		res.Value = sum / float64(res.Requests)
		res.Detail = fmt.Sprintf("mean output tokens %.1f over about %d answers %s%s", res.Value, res.Requests, when, where)
	case "promql":
		return s.measureQuery(ctx, a, in)
	case ports.SignalModelDrift:
		// One model label per series: which alias a response model answered cannot be told.
		return ports.VerifyResult{}, ports.Permanentf("Prometheus's %s has one model label, so it cannot tell which model answered the alias %s; "+
			"verify the pin with signal promql over metrics that carry both the request and the response model, or use the JSONL log or Langfuse as the traffic source", s.opts.Requests, in.Model)
	case ports.SignalKeyServed:
		// Requests carry no agent label; the key's spend does: a served request costs money.
		if res.Requests, err = countOf(s.opts.Requests, nil); err != nil || res.Requests == 0 {
			break
		}
		var spent float64
		spent, _, err = one(fmt.Sprintf("sum(increase(%s[%s])) or vector(0)", s.sel(s.opts.Cost, in.Route, "agent="+quote(in.Key)), w))
		if spent > 0 {
			res.Value = 1
		}
		res.Detail = fmt.Sprintf("key %s spent $%.4f over about %d requests of the route %s%s (%s has no agent label: any spend counts as served)",
			in.Key, spent, res.Requests, when, where, s.opts.Requests)
	default:
		return ports.VerifyResult{}, ports.Permanentf("unknown signal %q: use error_rate, latency_p95, output_tokens, promql or key_served", in.Signal)
	}
	if err != nil {
		return ports.VerifyResult{}, err
	}
	if res.Requests == 0 {
		res.Value = 0
		res.Detail = fmt.Sprintf("no requests %s%s: the value is not meaningful", when, where)
	}
	return res, nil
}

// measureQuery evaluates a verify's own PromQL at Now. $route and $window in the query are
// replaced by the step's route and the verify window. The query must come down to one
// value; Requests is 1 when it has one (Prometheus does not say how many requests behind
// it), 0 when the answer is empty, so an empty answer counts as "no data", not as a pass.
func (s *Source) measureQuery(ctx context.Context, a *api, in ports.VerifyInput) (ports.VerifyResult, error) {
	q := strings.TrimSpace(in.Query)
	if q == "" {
		return ports.VerifyResult{}, ports.Permanentf("signal promql needs a query: set verify.query in the runbook")
	}
	q = strings.ReplaceAll(q, "$window", promDuration(in.Now.Sub(in.From())))
	q = strings.ReplaceAll(q, "$route", in.Route)
	rows, err := a.instant(ctx, q, in.Now)
	if err != nil {
		return ports.VerifyResult{}, err
	}
	switch {
	case len(rows) == 0:
		return ports.VerifyResult{Detail: fmt.Sprintf("the query %s returned no data", q)}, nil
	case len(rows) > 1:
		return ports.VerifyResult{}, ports.Permanentf("the verify query %s returns %d series; aggregate it to one value (sum(...), max(...))", q, len(rows))
	case math.IsNaN(rows[0].Value) || math.IsInf(rows[0].Value, 0):
		return ports.VerifyResult{Detail: fmt.Sprintf("the query %s returned %v (no traffic?)", q, rows[0].Value)}, nil
	}
	return ports.VerifyResult{Value: rows[0].Value, Requests: 1, Detail: fmt.Sprintf("%s = %.4g", q, rows[0].Value)}, nil
}

func digestOf(a *api) string { return hex.EncodeToString(a.digest.Sum(nil)) }

var _ ports.Traffic = (*Source)(nil)

// Package jsonl is the embedded traffic target: a JSONL request log, one JSON object per
// LLM request with OpenTelemetry GenAI attribute names (gen_ai.provider.name,
// gen_ai.response.model, gen_ai.usage.output_tokens, ...) plus time, duration_ms,
// error.type, route, prompt.name, prompt.version, cost_usd, agent.key and optional input
// and output text. It builds evidence bundles (incident window against a baseline) and
// measures signals for a step's verify.
package jsonl

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/ports"
)

// Log is a JSONL request log on disk. It is read-only and safe for concurrent use.
type Log struct {
	path        string
	slack       time.Duration
	searchAbove int64
}

// Option configures a Log.
type Option func(*Log)

// WithSlack sets how far out of time order lines may be (default 1h).
func WithSlack(d time.Duration) Option { return func(l *Log) { l.slack = d } }

// WithSearchAbove sets the file size above which reading starts from a binary search for
// the window instead of the top of the file (default 1 MiB); 0 always searches, a negative
// value never does.
func WithSearchAbove(n int64) Option {
	return func(l *Log) {
		if n < 0 {
			n = 1<<63 - 1
		}
		l.searchAbove = n
	}
}

// New returns the log at path. The file is opened on each read, so it may be rotated or
// not exist yet.
func New(path string, opts ...Option) *Log {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	l := &Log{path: path, slack: time.Hour, searchAbove: 1 << 20}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Path is the log's file.
func (l *Log) Path() string { return l.path }

// Snapshot builds the evidence bundle of req's windows.
func (l *Log) Snapshot(ctx context.Context, req ports.SnapshotRequest) (ports.TrafficSnapshot, error) {
	b, err := bundle.NewBuilder(req)
	if err != nil {
		return ports.TrafficSnapshot{}, err
	}
	win, base := b.Incident(), b.Baseline()
	stats, err := l.scan(ctx, base.From, win.To, func(r *bundle.Record, raw []byte) { b.AddRecord(r, raw) })
	if err != nil {
		return ports.TrafficSnapshot{}, err
	}
	return b.Build(bundle.Manifest{
		Source: l.path, SourceBytes: stats.SourceBytes, StartOffset: stats.StartOffset,
		LinesRead: stats.Lines, Malformed: stats.Malformed,
	})
}

// Measure reads one value of a signal over [From, Now] (in.From: the last Window, or only
// since the change when Since is set). A line's time is when its request started, so a
// request sent before the change never counts against it. With Provider set, only requests
// served by that provider count; if no request of the window names it (the log calls
// providers differently from the gateway), the whole route is measured and Detail says so.
func (l *Log) Measure(ctx context.Context, in ports.VerifyInput) (ports.VerifyResult, error) {
	switch in.Signal {
	case "error_rate", "latency_p95", "output_tokens":
	case ports.SignalModelDrift, ports.SignalKeyServed:
		return l.measureChange(ctx, in)
	case "promql":
		return ports.VerifyResult{}, ports.Permanentf("the JSONL traffic log cannot evaluate promql; verify with error_rate, latency_p95 or output_tokens, or configure Prometheus as the traffic source")
	default:
		return ports.VerifyResult{}, ports.Permanentf("unknown signal %q: use error_rate, latency_p95, output_tokens, model_drift or key_served", in.Signal)
	}
	if in.Window <= 0 {
		return ports.VerifyResult{}, ports.Permanentf("the measurement window must be positive (got %s)", in.Window)
	}
	now := in.Now.UTC()
	from := in.From().UTC()
	var onRoute, onProvider bundle.Tally
	if _, err := l.scan(ctx, from, now, func(r *bundle.Record, _ []byte) {
		if r.Time.Before(from) || r.Time.After(now) || (in.Route != "" && r.Route != in.Route) {
			return
		}
		onRoute.Add(r)
		if in.Provider != "" && r.Provider == in.Provider {
			onProvider.Add(r)
		}
	}); err != nil {
		return ports.VerifyResult{}, err
	}
	a, where := &onRoute, ""
	if in.Route != "" {
		where = " on route " + in.Route
	}
	switch {
	case in.Provider != "" && onProvider.Requests() > 0:
		a, where = &onProvider, where+" served by "+in.Provider
	case in.Provider != "" && onRoute.Requests() > 0:
		where += fmt.Sprintf(" (no request names provider %s: all providers counted)", in.Provider)
	}
	span := spanText(in, from, now)
	res := ports.VerifyResult{Requests: a.Requests()}
	if a.Requests() == 0 {
		res.Detail = fmt.Sprintf("no requests %s%s: the value is not meaningful", span, where)
		return res, nil
	}
	s := a.Stats()
	switch in.Signal {
	case "error_rate":
		res.Value = s.ErrorRate
		res.Detail = fmt.Sprintf("%d of %d requests failed %s%s", s.Errors, s.Requests, span, where)
	case "latency_p95":
		if s.LatencyMs != nil {
			res.Value = s.LatencyMs.P95
		}
		res.Detail = fmt.Sprintf("p95 latency %.0f ms over %d requests %s%s", res.Value, s.Requests, span, where)
	case "output_tokens":
		if s.OutputTokens != nil {
			res.Value = s.OutputTokens.Mean
		}
		res.Detail = fmt.Sprintf("mean output tokens %.1f over %d successful requests %s%s", res.Value, a.OutputTokensCounted(), span, where)
	}
	return res, nil
}

// spanText says which requests a measurement counted.
func spanText(in ports.VerifyInput, from, now time.Time) string {
	switch {
	case !in.Since.IsZero() && from.Equal(in.Since.UTC()):
		return fmt.Sprintf("since the change at %s (%s ago)", from.Format(time.TimeOnly), now.Sub(from).Round(time.Second))
	case !in.Since.IsZero():
		return fmt.Sprintf("in the last %s after the change", in.Window)
	}
	return fmt.Sprintf("in the last %s", in.Window)
}

// measureChange measures model_drift and key_served (bundle.ChangeTally) over the
// requests that started in [From, Now] on the route.
func (l *Log) measureChange(ctx context.Context, in ports.VerifyInput) (ports.VerifyResult, error) {
	if in.Window <= 0 {
		return ports.VerifyResult{}, ports.Permanentf("the measurement window must be positive (got %s)", in.Window)
	}
	now, from := in.Now.UTC(), in.From().UTC()
	tally := bundle.NewChangeTally(in)
	if _, err := l.scan(ctx, from, now, func(r *bundle.Record, _ []byte) {
		if r.Time.Before(from) || r.Time.After(now) || (in.Route != "" && r.Route != in.Route) {
			return
		}
		tally.Add(r)
	}); err != nil {
		return ports.VerifyResult{}, err
	}
	where := ""
	if in.Route != "" {
		where = " on route " + in.Route
	}
	return tally.Result(spanText(in, from, now), where), nil
}

var _ ports.Traffic = (*Log)(nil)

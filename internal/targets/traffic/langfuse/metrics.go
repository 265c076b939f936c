package langfuse

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/ports"
)

// metricsQuery is one v2 metrics query over GENERATION observations.
type metricsQuery struct {
	Measure, Aggregation string
	From, To             time.Time
	Route                string
	Dimensions           []string
	NoErrors             bool // leave out level ERROR (answer length of failed requests is 0)
}

func (s *Source) metricsBody(q metricsQuery) ([]byte, error) {
	filters := []map[string]any{{"column": "type", "operator": "=", "value": "GENERATION", "type": "string"}}
	if q.Route != "" {
		filters = append(filters, map[string]any{"column": "metadata", "operator": "=", "key": s.opts.RouteKey, "value": q.Route, "type": "stringObject"})
	}
	if q.NoErrors {
		filters = append(filters, map[string]any{"column": "level", "operator": "none of", "value": []string{"ERROR"}, "type": "stringOptions"})
	}
	if s.opts.Environment != "" {
		filters = append(filters, map[string]any{"column": "environment", "operator": "=", "value": s.opts.Environment, "type": "string"})
	}
	dims := []map[string]string{}
	for _, d := range q.Dimensions {
		dims = append(dims, map[string]string{"field": d})
	}
	return json.Marshal(map[string]any{
		"view":          "observations",
		"metrics":       []map[string]string{{"measure": q.Measure, "aggregation": q.Aggregation}},
		"dimensions":    dims,
		"filters":       filters,
		"fromTimestamp": q.From.UTC().Format(time.RFC3339Nano),
		"toTimestamp":   q.To.UTC().Format(time.RFC3339Nano),
	})
}

// metrics runs a v2 metrics query; the raw answer also goes into digest when given.
func (s *Source) metrics(ctx context.Context, digest digestWriter, q metricsQuery) ([]map[string]any, error) {
	body, err := s.metricsBody(q)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Data []map[string]any `json:"data"`
	}
	raw, err := s.http.Do(ctx, http.MethodGet, "/api/public/v2/metrics", url.Values{"query": {string(body)}}, nil, &resp)
	if err != nil {
		return nil, err
	}
	if digest != nil {
		digest.Write(body)
		digest.Write([]byte{'\n'})
		digest.Write(raw)
		digest.Write([]byte{'\n'})
	}
	return resp.Data, nil
}

// value reads a metric of a row: Langfuse names it <aggregation>_<measure> and may send
// the number as a string.
func value(row map[string]any, key string) (float64, bool) {
	switch v := row[key].(type) {
	case float64:
		return v, true
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	return 0, false
}

func sumOf(rows []map[string]any, key string) float64 {
	var total float64
	for _, r := range rows {
		if v, ok := value(r, key); ok {
			total += v
		}
	}
	return total
}

// Measure reads one value of a signal over [From, Now] from v2 metrics: the last Window,
// or only generations that started since the change when Since is set. Langfuse's metrics
// here carry no provider dimension, so with Provider set the whole route is measured and
// Detail says so.
func (s *Source) Measure(ctx context.Context, in ports.VerifyInput) (ports.VerifyResult, error) {
	if in.Window <= 0 {
		return ports.VerifyResult{}, ports.Permanentf("the measurement window must be positive (got %s)", in.Window)
	}
	base := metricsQuery{From: in.From(), To: in.Now, Route: in.Route}
	where, when := "", fmt.Sprintf("in the last %s", in.Window)
	if in.Route != "" {
		where = " on route " + in.Route
	}
	switch {
	case !in.Since.IsZero() && base.From.Equal(in.Since):
		when = fmt.Sprintf("since the change (%s)", in.Now.Sub(in.Since).Round(time.Second))
	case !in.Since.IsZero():
		when += " after the change"
	}
	if in.Provider != "" {
		where += " (all providers: Langfuse metrics do not say which one served)"
	}
	if in.Signal == ports.SignalModelDrift || in.Signal == ports.SignalKeyServed {
		return s.measureChange(ctx, in, when, where)
	}
	count := func(q metricsQuery) ([]map[string]any, int, error) {
		q.Measure, q.Aggregation = "count", "count"
		rows, err := s.metrics(ctx, nil, q)
		return rows, int(sumOf(rows, "count_count")), err
	}
	res := ports.VerifyResult{}
	switch in.Signal {
	case "error_rate":
		q := base
		q.Dimensions = []string{"level"}
		rows, n, err := count(q)
		if err != nil {
			return res, err
		}
		res.Requests = n
		var failed float64
		for _, r := range rows {
			if r["level"] == "ERROR" {
				v, _ := value(r, "count_count")
				failed += v
			}
		}
		if n > 0 {
			res.Value = failed / float64(n)
		}
		res.Detail = fmt.Sprintf("%.0f of %d generations failed %s%s", failed, n, when, where)
	case "latency_p95":
		_, n, err := count(base)
		if err != nil {
			return res, err
		}
		q := base
		q.Measure, q.Aggregation = "latency", "p95"
		rows, err := s.metrics(ctx, nil, q)
		if err != nil {
			return res, err
		}
		res.Requests = n
		res.Value, _ = value(first(rows), "p95_latency")
		res.Detail = fmt.Sprintf("p95 latency %.0f ms over %d generations %s%s", res.Value, n, when, where)
	case "output_tokens":
		q := base
		q.NoErrors = true
		_, n, err := count(q)
		if err != nil {
			return res, err
		}
		q.Measure, q.Aggregation = "outputTokens", "avg"
		rows, err := s.metrics(ctx, nil, q)
		if err != nil {
			return res, err
		}
		res.Requests = n
		res.Value, _ = value(first(rows), "avg_outputTokens")
		res.Detail = fmt.Sprintf("mean output tokens %.1f over %d successful generations %s%s", res.Value, n, when, where)
	case "promql":
		return res, ports.Permanentf("Langfuse cannot evaluate promql; verify with error_rate, latency_p95 or output_tokens, or configure Prometheus as the traffic source")
	default:
		return res, ports.Permanentf("unknown signal %q: use error_rate, latency_p95, output_tokens, model_drift or key_served", in.Signal)
	}
	if res.Requests == 0 {
		res.Value = 0
		res.Detail = fmt.Sprintf("no generations %s%s: the value is not meaningful", when, where)
	}
	return res, nil
}

func first(rows []map[string]any) map[string]any {
	if len(rows) == 0 {
		return map[string]any{}
	}
	return rows[0]
}

// measureChange measures model_drift and key_served (bundle.ChangeTally) over the
// generations themselves, since the metrics API has no response model or agent dimension:
// the response model comes from the generation's gen_ai.response.model metadata (one
// without it names no version and is left out), the agent from agent.key or the user ID.
func (s *Source) measureChange(ctx context.Context, in ports.VerifyInput, when, where string) (ports.VerifyResult, error) {
	tally := bundle.NewChangeTally(in)
	seen := map[string]bool{}
	_, _, capped, err := s.read(ctx, in.From(), in.Now, in.Route, false, s.opts.MaxObservations, func(o *observation, _ []byte) {
		if !seen[o.ID] {
			seen[o.ID] = true
			tally.AddRequest(s.request(o))
		}
	})
	if err != nil {
		return ports.VerifyResult{}, err
	}
	if in.Provider != "" {
		where = strings.TrimSuffix(where, " (all providers: Langfuse metrics do not say which one served)")
	}
	res := tally.Result(when, where)
	if capped {
		res.Detail += fmt.Sprintf(" (read capped at %d generations)", s.opts.MaxObservations)
	}
	return res, nil
}

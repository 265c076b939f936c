package prometheus

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/httpapi"
)

// sample is one series of an instant query's answer.
type sample struct {
	Labels map[string]string
	Value  float64
}

// point is one value of a range query's answer.
type point struct {
	T time.Time
	V float64
}

// series is one series of a range query's answer.
type series struct {
	Labels map[string]string
	Points []point
}

// api runs PromQL over the HTTP API and keeps what the manifest needs: every query and a
// digest of every answer.
type api struct {
	http    *httpapi.Client
	queries []string
	digest  hash.Hash
}

func newAPI(cl *httpapi.Client) *api { return &api{http: cl, digest: sha256.New()} }

type response struct {
	Status    string          `json:"status"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Data      json.RawMessage `json:"data"`
}

type data struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

func (a *api) call(ctx context.Context, path string, q url.Values, record string) (data, error) {
	raw, err := a.http.Do(ctx, http.MethodGet, path, q, nil, nil)
	if err != nil {
		// Prometheus answers a bad query with 400 bad_data and an execution failure with 422:
		// both come back the same on a retry, so the message says what to fix.
		var resp response
		if json.Unmarshal(raw, &resp) == nil && resp.Error != "" {
			if code := httpapi.StatusOf(err); code == http.StatusBadRequest || code == http.StatusUnprocessableEntity {
				return data{}, ports.Permanentf("Prometheus refused %s: %s (%s)", record, resp.Error, resp.ErrorType)
			}
		}
		return data{}, err
	}
	a.queries = append(a.queries, record)
	a.digest.Write([]byte(record + "\n"))
	a.digest.Write(raw)
	a.digest.Write([]byte{'\n'})
	var resp response
	if err := json.Unmarshal(raw, &resp); err != nil || resp.Status != "success" {
		return data{}, ports.Permanentf("Prometheus answered %s with something other than a success (%s %s): is the URL a Prometheus HTTP API?", record, resp.ErrorType, resp.Error)
	}
	var d data
	if err := json.Unmarshal(resp.Data, &d); err != nil {
		return data{}, ports.Permanentf("Prometheus answer to %s: %v", record, err)
	}
	return d, nil
}

// instant runs an instant query at t. A scalar answer comes back as one sample without labels.
func (a *api) instant(ctx context.Context, query string, t time.Time) ([]sample, error) {
	q := url.Values{"query": {query}, "time": {formatTime(t)}}
	d, err := a.call(ctx, "/api/v1/query", q, fmt.Sprintf("query %s @ %s", query, t.UTC().Format(time.RFC3339)))
	if err != nil {
		return nil, err
	}
	switch d.ResultType {
	case "vector":
		var rows []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(d.Result, &rows); err != nil {
			return nil, ports.Permanentf("Prometheus vector answer to %q: %v", query, err)
		}
		out := make([]sample, 0, len(rows))
		for _, r := range rows {
			out = append(out, sample{Labels: r.Metric, Value: parseValue(r.Value[1])})
		}
		return out, nil
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(d.Result, &v); err != nil {
			return nil, ports.Permanentf("Prometheus scalar answer to %q: %v", query, err)
		}
		return []sample{{Value: parseValue(v[1])}}, nil
	default:
		return nil, ports.Permanentf("the query %q returns a %s; quench needs an instant vector or a scalar", query, d.ResultType)
	}
}

// rangeQuery runs a range query over [from, to] every step.
func (a *api) rangeQuery(ctx context.Context, query string, from, to time.Time, step time.Duration) ([]series, error) {
	q := url.Values{"query": {query}, "start": {formatTime(from)}, "end": {formatTime(to)}, "step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)}}
	d, err := a.call(ctx, "/api/v1/query_range", q, fmt.Sprintf("query_range %s [%s, %s] step %s", query, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), step))
	if err != nil {
		return nil, err
	}
	var rows []struct {
		Metric map[string]string `json:"metric"`
		Values [][2]any          `json:"values"`
	}
	if err := json.Unmarshal(d.Result, &rows); err != nil {
		return nil, ports.Permanentf("Prometheus matrix answer to %q: %v", query, err)
	}
	out := make([]series, 0, len(rows))
	for _, r := range rows {
		s := series{Labels: r.Metric}
		for _, v := range r.Values {
			ts, _ := v[0].(float64)
			sec, frac := math.Modf(ts)
			s.Points = append(s.Points, point{T: time.Unix(int64(sec), int64(frac*1e9)).UTC(), V: parseValue(v[1])})
		}
		out = append(out, s)
	}
	return out, nil
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64)
}

// parseValue reads Prometheus's string-encoded float ("NaN", "+Inf" included).
func parseValue(v any) float64 {
	s, _ := v.(string)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// promDuration writes d the way PromQL reads a range: whole seconds (at least 1s).
func promDuration(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10) + "s"
}

// matchers joins label matchers into a selector body.
func matchers(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ", ")
}

// quote writes a PromQL string literal.
func quote(s string) string { return strconv.Quote(s) }

package langfusefake

import (
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

type metricsQuery struct {
	View    string `json:"view"`
	Metrics []struct {
		Measure     string `json:"measure"`
		Aggregation string `json:"aggregation"`
	} `json:"metrics"`
	Dimensions []struct {
		Field string `json:"field"`
	} `json:"dimensions"`
	Filters []struct {
		Column   string `json:"column"`
		Operator string `json:"operator"`
		Key      string `json:"key"`
		Value    any    `json:"value"`
		Type     string `json:"type"`
	} `json:"filters"`
	FromTimestamp time.Time `json:"fromTimestamp"`
	ToTimestamp   time.Time `json:"toTimestamp"`
}

// metrics answers the observations view: measures count, latency (ms) and outputTokens;
// aggregations count, avg, sum and p50/p95/p99; dimensions level and providedModelName;
// filters on type, level, environment and a metadata key. Counts come back as strings, as
// Langfuse sends them.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	var q metricsQuery
	if err := json.Unmarshal([]byte(r.URL.Query().Get("query")), &q); err != nil || q.View != "observations" || len(q.Metrics) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "query must be a JSON metrics query on the observations view"})
		return
	}
	s.mu.Lock()
	var rows []map[string]any
	for _, o := range s.obs {
		start, _ := time.Parse(time.RFC3339Nano, o["startTime"].(string))
		if start.Before(q.FromTimestamp) || !start.Before(q.ToTimestamp) || !matches(o, q) {
			continue
		}
		rows = append(rows, o)
	}
	s.mu.Unlock()
	groups := map[string][]map[string]any{}
	for _, o := range rows {
		var parts []string
		for _, d := range q.Dimensions {
			parts = append(parts, str(o[d.Field]))
		}
		k := strings.Join(parts, "\x00")
		groups[k] = append(groups[k], o)
	}
	if len(q.Dimensions) == 0 {
		groups = map[string][]map[string]any{"": rows}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []map[string]any{}
	for _, k := range keys {
		row := map[string]any{}
		parts := strings.Split(k, "\x00")
		for i, d := range q.Dimensions {
			row[d.Field] = parts[i]
		}
		for _, m := range q.Metrics {
			var vals []float64
			for _, o := range groups[k] {
				vals = append(vals, measure(o, m.Measure))
			}
			name := m.Aggregation + "_" + m.Measure
			switch m.Aggregation {
			case "count":
				row[name] = strconv.Itoa(len(vals))
			default:
				row[name] = aggregate(vals, m.Aggregation)
			}
		}
		out = append(out, row)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func matches(o map[string]any, q metricsQuery) bool {
	for _, f := range q.Filters {
		var got string
		if f.Column == "metadata" {
			got = str(o["metadata"].(map[string]any)[f.Key])
		} else {
			got = str(o[f.Column])
		}
		switch f.Operator {
		case "=":
			if got != str(f.Value) {
				return false
			}
		case "none of", "any of":
			in := false
			list, _ := f.Value.([]any)
			for _, v := range list {
				in = in || str(v) == got
			}
			if in == (f.Operator == "none of") {
				return false
			}
		}
	}
	return true
}

func measure(o map[string]any, m string) float64 {
	switch m {
	case "latency":
		v, _ := o["latency"].(float64)
		return v * 1000
	case "outputTokens":
		u, _ := o["usageDetails"].(map[string]int)
		return float64(u["output"])
	}
	return 1
}

func aggregate(vals []float64, agg string) any {
	if len(vals) == 0 {
		return nil
	}
	sort.Float64s(vals)
	sum := 0.0
	for _, v := range vals {
		sum += v
	}
	switch agg {
	case "sum":
		return sum
	case "avg":
		return sum / float64(len(vals))
	case "p50", "p95", "p99":
		p, _ := strconv.Atoi(agg[1:])
		i := int(math.Ceil(float64(p)/100*float64(len(vals)))) - 1
		return vals[max(0, min(i, len(vals)-1))]
	}
	return nil
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

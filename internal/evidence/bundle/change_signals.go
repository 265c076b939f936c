package bundle

import (
	"fmt"

	"github.com/quench-dev/quench/internal/ports"
)

// ChangeTally measures the verify signals that judge one mitigation rather than the
// route's health, over requests a source already placed in the window and on the route:
//
//   - model_drift: among the successful requests for the pinned alias (logged under the
//     alias, or under the version the gateway rewrote it to), the share answered by another
//     model than the pinned one; Requests is how many were judged. An answer that names no
//     model but the alias it was asked for says nothing about the version and is left out.
//   - key_served: how many requests of the blocked key succeeded; Requests is every request
//     of the route, so the verify judges only once traffic is seen flowing after the block
//     (an agent that stopped calling is not mistaken for a block that holds on no data).
type ChangeTally struct {
	in                     ports.VerifyInput
	counted, hits, unnamed int
	keySeen                int // requests of the blocked key, served or refused
	others                 map[string]int
}

// NewChangeTally starts a tally of in.Signal (model_drift or key_served).
func NewChangeTally(in ports.VerifyInput) *ChangeTally {
	return &ChangeTally{in: in, others: map[string]int{}}
}

// AddRequest counts a source's request (Langfuse's generations).
func (c *ChangeTally) AddRequest(r Request) {
	rec := r.toRecord()
	c.Add(&rec)
}

// Add counts one request of the window and route.
func (c *ChangeTally) Add(r *Record) {
	ok := !r.failed()
	switch c.in.Signal {
	case ports.SignalModelDrift:
		if !ok || (r.RequestModel != c.in.Model && r.RequestModel != c.in.PinnedModel) {
			return
		}
		if r.ResponseModel == r.RequestModel && r.RequestModel != c.in.PinnedModel {
			c.unnamed++
			return
		}
		c.counted++
		if r.ResponseModel != c.in.PinnedModel {
			c.hits++
			c.others[r.ResponseModel]++
		}
	case ports.SignalKeyServed:
		c.counted++
		if r.AgentKey == c.in.Key {
			c.keySeen++
			if ok {
				c.hits++
			}
		}
	}
}

// Result is the measurement; span and where say which requests were counted ("since the
// change at ...", " on route chat").
func (c *ChangeTally) Result(span, where string) ports.VerifyResult {
	res := ports.VerifyResult{Requests: c.counted}
	switch c.in.Signal {
	case ports.SignalModelDrift:
		unnamed := ""
		if c.unnamed > 0 {
			unnamed = fmt.Sprintf("; %d answers named no model but %s and were left out", c.unnamed, c.in.Model)
		}
		if c.counted == 0 {
			res.Detail = fmt.Sprintf("no successful request for %s that names its response model %s%s%s: the value is not meaningful", c.in.Model, span, where, unnamed)
			return res
		}
		res.Value = float64(c.hits) / float64(c.counted)
		res.Detail = fmt.Sprintf("%d of %d successful requests for %s answered by another model than %s%s %s%s%s",
			c.hits, c.counted, c.in.Model, c.in.PinnedModel, mostly(c.others), span, where, unnamed)
	case ports.SignalKeyServed:
		res.Value = float64(c.hits)
		res.Detail = fmt.Sprintf("%d requests of key %s served, of %d requests %s%s", c.hits, c.in.Key, c.counted, span, where)
		if c.keySeen == 0 && c.counted > 0 {
			// A source that names agents otherwise than the alert would pass every block.
			res.Detail += fmt.Sprintf("; no request names key %s at all: if the traffic source names agents differently, check the block by hand", c.in.Key)
		}
	}
	return res
}

// mostly names the busiest other response model, for the detail line.
func mostly(others map[string]int) string {
	if best := dominant(others); best != "" {
		return fmt.Sprintf(" (mostly %s)", best)
	}
	return ""
}

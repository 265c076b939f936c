package bundle

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Agent keys (agent.key: an agent, a session or an API key) are counted apart from the
// provider/model/prompt groups: a looping agent shows as spend and tokens that one key
// runs up, whatever provider and prompt it calls.
const (
	maxAgentKeys  = 10000 // distinct keys counted; the rest are summed under otherAgents
	maxAgentsKept = 20    // in the bundle, by incident spend
	otherAgents   = "(other keys)"
	// An agent that spends this share of the window and whose spend per minute grew this
	// much (or that is new) is a suspect.
	agentGrowth   = 3.0
	agentNewShare = 0.2
)

// Agent is one agent key in both windows.
type Agent struct {
	Key      string     `json:"key"`
	Incident AgentStats `json:"incident"`
	Baseline AgentStats `json:"baseline"`
}

// AgentStats are an agent's volume and spend in one window, per minute so windows of
// different lengths compare.
type AgentStats struct {
	Requests        int     `json:"requests"`
	Tokens          float64 `json:"tokens"` // input + output
	CostUSD         float64 `json:"cost_usd"`
	TokensPerMinute float64 `json:"tokens_per_minute"`
	CostPerMinute   float64 `json:"cost_usd_per_minute"`
}

// agentAcc is the little an agent needs: exact counts and sums, no percentiles.
type agentAcc struct {
	requests int
	tokens   float64
	cost     float64
}

func (a *agentAcc) add(r *Record) {
	a.requests++
	if r.InputTokens != nil {
		a.tokens += *r.InputTokens
	}
	if r.OutputTokens != nil {
		a.tokens += *r.OutputTokens
	}
	if r.CostUSD != nil {
		a.cost += *r.CostUSD
	}
}

func (a agentAcc) stats(window time.Duration) AgentStats {
	m := window.Minutes()
	return AgentStats{Requests: a.requests, Tokens: a.tokens, CostUSD: round(a.cost, 6),
		TokensPerMinute: round(a.tokens/m, 1), CostPerMinute: round(a.cost/m, 6)}
}

type agentPair struct{ inc, base agentAcc }

// agentCounter counts requests per agent key. firstBase is the earliest baseline request
// seen: a log younger than the baseline window covers only part of it, and per-minute
// rates over the whole window would make every agent look like it sped up.
type agentCounter struct {
	keys      map[string]*agentPair
	firstBase time.Time
}

func newAgentCounter() *agentCounter { return &agentCounter{keys: map[string]*agentPair{}} }

func (c *agentCounter) add(r *Record, incident bool) {
	if !incident && (c.firstBase.IsZero() || r.Time.Before(c.firstBase)) {
		c.firstBase = r.Time
	}
	if r.AgentKey == "" {
		return
	}
	key := r.AgentKey
	p, ok := c.keys[key]
	if !ok {
		if len(c.keys) >= maxAgentKeys {
			key = otherAgents
		}
		if p, ok = c.keys[key]; !ok {
			p = &agentPair{}
			c.keys[key] = p
		}
	}
	if incident {
		p.inc.add(r)
	} else {
		p.base.add(r)
	}
}

// coveredBaseline is the part of the baseline window the traffic covers, from its first
// request (with or without an agent key) to incFrom.
func (c *agentCounter) coveredBaseline(incFrom time.Time, baseline time.Duration) time.Duration {
	covered := incFrom.Sub(c.firstBase)
	if c.firstBase.IsZero() || covered >= baseline*9/10 {
		return baseline // a quiet start of the window is traffic, not a missing log
	}
	return max(covered, time.Minute)
}

// list orders agents by incident spend, then tokens, and keeps the top maxAgentsKept.
// Baseline rates are per minute of the covered baseline.
func (c *agentCounter) list(window, baseline time.Duration) []Agent {
	out := make([]Agent, 0, len(c.keys))
	for k, p := range c.keys {
		out = append(out, Agent{Key: k, Incident: p.inc.stats(window), Baseline: p.base.stats(baseline)})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Incident, out[j].Incident
		if a.CostUSD != b.CostUSD {
			return a.CostUSD > b.CostUSD
		}
		if a.Tokens != b.Tokens {
			return a.Tokens > b.Tokens
		}
		return out[i].Key < out[j].Key
	})
	if len(out) > maxAgentsKept {
		out = out[:maxAgentsKept]
	}
	return out
}

// changes flags the agents whose spend (tokens when there is no cost) per minute ran away:
// up agentGrowth times against the baseline, or new and a large share of the window.
func (c *agentCounter) changes(window, baseline time.Duration) []Change {
	var totalInc agentAcc
	for _, p := range c.keys {
		totalInc.requests += p.inc.requests
		totalInc.tokens += p.inc.tokens
		totalInc.cost += p.inc.cost
	}
	var out []Change
	for _, a := range c.list(window, baseline) {
		if a.Key == otherAgents || a.Incident.Requests < minRequests {
			continue
		}
		inc, base, unit := a.Incident.CostPerMinute, a.Baseline.CostPerMinute, "$%.4f/min"
		share := ratio01(a.Incident.CostUSD, totalInc.cost)
		if totalInc.cost == 0 {
			inc, base, unit = a.Incident.TokensPerMinute, a.Baseline.TokensPerMinute, "%.0f tokens/min"
			share = ratio01(a.Incident.Tokens, totalInc.tokens)
		}
		var text string
		switch {
		case base == 0 && share >= agentNewShare:
			text = fmt.Sprintf("agent %s is new and ran up %s of the window's spend ("+unit+", %d requests)", a.Key, Percent(share), inc, a.Incident.Requests)
		case base > 0 && inc/base >= agentGrowth && share >= agentNewShare:
			text = fmt.Sprintf("agent %s spend per minute %s ("+unit+" → "+unit+"; %s of the window's spend)", a.Key, Relative(inc/base), base, inc, Percent(share))
		default:
			continue
		}
		out = append(out, Change{Kind: "agent_spend", Dimension: "agent", Subject: a.Key, Baseline: base, Incident: inc,
			Score: round(3+5*share, 3), Text: text})
	}
	return out
}

func ratio01(n, d float64) float64 {
	if d <= 0 {
		return 0
	}
	return math.Min(1, n/d)
}

package bundle

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
)

func buildAgents(t *testing.T, reqs []Request, baseline time.Duration) Bundle {
	t.Helper()
	b, err := NewBuilder(ports.SnapshotRequest{Window: 30 * time.Minute, Baseline: baseline, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		b.Add(r, nil)
	}
	snap, err := b.Build(Manifest{})
	if err != nil {
		t.Fatal(err)
	}
	var got Bundle
	if err := json.Unmarshal(snap.Bundle, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

// steady makes one request a minute per agent from `from` to now.
func steady(from time.Time, agents ...string) []Request {
	var out []Request
	for at := from; at.Before(now); at = at.Add(time.Minute) {
		for _, a := range agents {
			in, cost := 500.0, 0.002
			out = append(out, Request{Time: at, Provider: "openai", RequestModel: "gpt-4o", AgentKey: a, InputTokens: &in, CostUSD: &cost})
		}
	}
	return out
}

func TestAgentThatRunsAwayIsTheTopChange(t *testing.T) {
	reqs := steady(now.Add(-2*time.Hour), "support", "search")
	for i := 0; i < 60; i++ { // four calls a minute, each 20x bigger, in the last 15 minutes
		in, cost := 10000.0, 0.04
		reqs = append(reqs, Request{Time: now.Add(-time.Duration(i) * 15 * time.Second), Provider: "openai", AgentKey: "looper", InputTokens: &in, CostUSD: &cost})
	}
	// The log is two hours old but the baseline window is a day: steady agents must not
	// look sped up.
	got := buildAgents(t, reqs, 24*time.Hour)
	if len(got.Changes) == 0 || got.Changes[0].Kind != "agent_spend" || got.Changes[0].Subject != "looper" ||
		!strings.Contains(got.Headline.TopChange, "agent looper is new") {
		t.Fatalf("changes %+v", got.Changes)
	}
	for _, c := range got.Changes {
		if c.Kind == "agent_spend" && c.Subject != "looper" {
			t.Errorf("a steady agent flagged: %+v", c)
		}
		if c.Kind == "volume" && c.Baseline != 2 {
			t.Errorf("the baseline rate is per minute of the log's 2h, not of the 24h window: %+v", c)
		}
	}
	if got.Agents[0].Key != "looper" || got.Agents[0].Incident.Requests != 60 || got.Agents[0].Incident.CostUSD != 2.4 {
		t.Fatalf("agents %+v", got.Agents)
	}
}

func TestAgentSpeedUpIsFlagged(t *testing.T) {
	reqs := steady(now.Add(-3*time.Hour), "support", "batch")
	for i := 0; i < 120; i++ { // batch calls eight times more often in the incident window
		in, cost := 500.0, 0.002
		reqs = append(reqs, Request{Time: now.Add(-time.Duration(i) * 15 * time.Second), Provider: "openai", AgentKey: "batch", InputTokens: &in, CostUSD: &cost})
	}
	got := buildAgents(t, reqs, 2*time.Hour)
	var flagged []string
	for _, c := range got.Changes {
		if c.Kind == "agent_spend" {
			flagged = append(flagged, c.Subject)
		}
	}
	if strings.Join(flagged, ",") != "batch" {
		t.Fatalf("flagged %v, changes %+v", flagged, got.Changes)
	}
	// Without agent keys there is no agent list and no agent change.
	none := buildAgents(t, []Request{{Time: now.Add(-time.Minute), Provider: "openai"}}, time.Hour)
	if none.Agents != nil {
		t.Fatalf("agents without keys: %+v", none.Agents)
	}
}

package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/gateway/gwstate"
	promptslangfuse "github.com/quench-dev/quench/internal/targets/prompts/langfuse"
	trafficlangfuse "github.com/quench-dev/quench/internal/targets/traffic/langfuse"
	"github.com/quench-dev/quench/internal/targets/traffic/prometheus"
	"github.com/quench-dev/quench/workflows"
)

type stubEnforcer struct {
	res ports.EnforceResult
	err error
	got []ports.FreezeEnforcement
}

func (s *stubEnforcer) EnforceFreeze(_ context.Context, f ports.FreezeEnforcement) (ports.EnforceResult, error) {
	s.got = append(s.got, f)
	return s.res, s.err
}

func TestEnforcersEnforceEachAndSweepAtTheShortestInterval(t *testing.T) {
	gh := &stubEnforcer{res: ports.EnforceResult{Enforced: true, SweepEvery: 5 * time.Minute, Summary: "github"}}
	lf := &stubEnforcer{res: ports.EnforceResult{Enforced: true, SweepEvery: time.Minute, Summary: "langfuse"}}
	f := ports.FreezeEnforcement{Scope: "prompts", Frozen: true}
	res, err := enforcers{gh, nil, lf}.EnforceFreeze(context.Background(), f)
	if err != nil || !res.Enforced || res.SweepEvery != time.Minute || res.Summary != "github; langfuse" {
		t.Fatalf("%+v %v", res, err)
	}
	gh.err = errors.New("github down")
	if _, err := (enforcers{gh, lf}).EnforceFreeze(context.Background(), f); err == nil || len(lf.got) != 2 {
		t.Fatalf("a failing enforcer must fail the call without skipping the others: %v (langfuse ran %d times)", err, len(lf.got))
	}
}

func TestResolveLLMTargets(t *testing.T) {
	t.Setenv("T_KEY", "secret")
	cfg := &config.Config{DataDir: t.TempDir()}
	cfg.Gateway.Kind = config.GatewayPortkey
	cfg.Gateway.Portkey.APIKey = "env:T_KEY"
	cfg.Traffic.Kind = config.TrafficPrometheus
	cfg.Traffic.Prometheus.URL = "http://127.0.0.1:9090"
	cfg.Traffic.Prometheus.BearerToken = "env:T_KEY"
	cfg.Prompts.Kind = config.PromptsLangfuse
	cfg.Traffic.Langfuse.PublicKey, cfg.Traffic.Langfuse.SecretKey = "env:T_KEY", "env:T_KEY"
	lt, err := Resolve(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lt.Gateway.(*gwstate.Gateway); !ok {
		t.Errorf("gateway %T", lt.Gateway)
	}
	if _, ok := lt.Traffic.(*prometheus.Source); !ok {
		t.Errorf("traffic %T", lt.Traffic)
	}
	if lt.Prompts == nil || lt.Prompts != lt.LangfusePrompts || lt.FreezeEnforcer != lt.LangfusePrompts {
		t.Errorf("prompts %T, freeze enforcer %T; want the one Langfuse adapter as both", lt.Prompts, lt.FreezeEnforcer)
	}
	cfg.Traffic.Kind = config.TrafficLangfuse
	if lt, err = Resolve(cfg, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := lt.Traffic.(*trafficlangfuse.Source); !ok {
		t.Errorf("traffic %T", lt.Traffic)
	}
	cfg.Gateway.Portkey.APIKey = "env:T_UNSET_KEY"
	if _, err := Resolve(cfg, nil); err == nil || !strings.Contains(err.Error(), "T_UNSET_KEY") {
		t.Fatalf("an unset secret: %v", err)
	}
}

func TestRepinNotesEveryHolder(t *testing.T) {
	var got []string
	noteRepin(context.Background(), promptslangfuse.Repin{Scope: "prompts", Prompt: "summarise", Label: "production", From: 4, To: 3, Holders: []string{"inc-a", "inc-b"}},
		func(_ context.Context, holder string, n workflows.Note) error {
			got = append(got, holder+": "+n.Text)
			return nil
		})
	if len(got) != 2 || !strings.Contains(got[0], "moved to v4 while prompts is frozen; quench moved it back to the pinned v3") {
		t.Fatalf("notes %v", got)
	}
}

package incidents

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/targets/gateway/litellm"
	"github.com/quench-dev/quench/internal/targets/gateway/portkey"
)

// A gateway that cannot block refuses cost-runaway before anything runs; the runbooks whose
// gateway steps are guarded by incident.gateway start, and carry what the gateway can do.
func TestStartChecksWhatTheGatewayCan(t *testing.T) {
	s, ft := newService(t)
	s.Gateway = portkey.Capabilities
	_, err := s.Start(context.Background(), StartRequest{Runbook: "cost-runaway", Params: map[string]string{"key": "agent-7"}})
	if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "step block (gateway.block) cannot run") ||
		!strings.Contains(err.Error(), "Portkey's admin API") {
		t.Fatalf("cost-runaway on Portkey: %v", err)
	}
	if len(ft.started) != 0 {
		t.Fatalf("a refused start reached Temporal: %+v", ft.started)
	}
	// silent-model-change guards its pin: it starts, and says the gateway cannot pin.
	if _, err := s.Start(context.Background(), StartRequest{Runbook: "silent-model-change"}); err != nil {
		t.Fatalf("silent-model-change on Portkey: %v", err)
	}
	if got := ft.inputs[0].Gateway; !slices.Equal(got, []string{"switch"}) {
		t.Fatalf("Portkey's capabilities in the input: %v", got)
	}

	s.Gateway = litellm.Capabilities
	if _, err := s.Start(context.Background(), StartRequest{Runbook: "cost-runaway", Params: map[string]string{"key": "agent-7"}}); err != nil {
		t.Fatalf("cost-runaway on LiteLLM: %v", err)
	}
	if got := ft.inputs[1].Gateway; !slices.Equal(got, []string{"switch", "block_key", "pin_model"}) {
		t.Fatalf("LiteLLM's capabilities in the input: %v", got)
	}
	// Without a checker nothing is refused and nothing is said (older callers).
	s.Gateway = nil
	if _, err := s.Start(context.Background(), StartRequest{Runbook: "cost-runaway", Params: map[string]string{"key": "agent-8"}}); err != nil || ft.inputs[2].Gateway != nil {
		t.Fatalf("no checker: %v %v", err, ft.inputs[2].Gateway)
	}
}

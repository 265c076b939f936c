package app

import (
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/gateway/litellm"
	"github.com/quench-dev/quench/internal/targets/gateway/portkey"
	"github.com/quench-dev/quench/internal/targets/gateway/routetable"
)

// GatewayCapabilities says what the configured gateway can do from the config alone, as
// its adapter declares it: what `runbook validate` and the CLI check runbooks against,
// without reaching the gateway. A resolved gateway answers the same (GatewayReporter).
func GatewayCapabilities(cfg *config.Config) (name string, caps ports.CapabilityReporter) {
	kind := ""
	if cfg != nil {
		kind = cfg.Gateway.Kind
	}
	switch kind {
	case config.GatewayLiteLLM:
		return "LiteLLM", litellm.Capabilities
	case config.GatewayPortkey:
		return "Portkey", portkey.Capabilities
	}
	return "the embedded routing table", routetable.Capabilities
}

// GatewayReporter is what a resolved gateway can do: its own word when it reports it,
// else the interfaces it implements.
func GatewayReporter(gw ports.Gateway) ports.CapabilityReporter {
	if gw == nil {
		return nil
	}
	return capabilityFunc(func(c ports.Capability) string { return ports.GatewayCannot(gw, c) })
}

type capabilityFunc func(ports.Capability) string

func (f capabilityFunc) Cannot(c ports.Capability) string { return f(c) }

package portkey

import "github.com/quench-dev/quench/internal/ports"

// Capabilities are what the Portkey adapter can do: switch a config's targets, nothing
// more. Portkey's admin API can update or delete an API key or virtual key but has no call
// that refuses a key and lets it back exactly as it was, and quench does not rewrite the
// targets' override_params to pin a model.
var Capabilities = ports.StaticCapabilities{
	ports.CapBlockKey: "Portkey's admin API has no call to block an API key and unblock it as it was (only to update or delete it): " +
		"revoke or rate-limit the key in Portkey by hand, or use LiteLLM or quench's embedded routing table for gateway.block",
	ports.CapPinModel: "quench cannot pin a model on Portkey (it switches a config's targets only): " +
		"ask the app for the dated model name, or use gateway.switch to move the route to another provider",
}

// Cannot says what Portkey cannot do (ports.CapabilityReporter, through gwstate.Gateway).
func (r *remote) Cannot(c ports.Capability) string { return Capabilities.Cannot(c) }

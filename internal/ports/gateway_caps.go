package ports

import "fmt"

// Capability is one thing a gateway may or may not be able to do. Runbook actions name
// the capability they need (runbooks.Action.Needs), so a runbook whose gateway cannot carry
// a step out is refused before anything runs, not when the step fails mid-incident.
type Capability string

// Gateway capabilities.
const (
	// CapSwitch: point a route at another provider (Gateway).
	CapSwitch Capability = "switch"
	// CapBlockKey: refuse one agent or API key (KeyBlocker).
	CapBlockKey Capability = "block_key"
	// CapPinModel: pin a route's model to a dated version (ModelPinner).
	CapPinModel Capability = "pin_model"
)

// Capabilities lists every capability, in the order messages name them.
var Capabilities = []Capability{CapSwitch, CapBlockKey, CapPinModel}

// CapabilityReporter is a gateway that says itself what it cannot do and why: an adapter
// may implement an interface (one type serves several gateways) and still be unable to
// use it on its gateway's API.
type CapabilityReporter interface {
	// Cannot returns why the gateway cannot do c, or "" when it can.
	Cannot(c Capability) string
}

// GatewayCannot says why gw cannot do c ("" when it can): the gateway's own word when it
// reports its capabilities, else whether it implements the capability's interface.
func GatewayCannot(gw Gateway, c Capability) string {
	if gw == nil {
		return "no gateway is configured"
	}
	if r, ok := gw.(CapabilityReporter); ok {
		return r.Cannot(c)
	}
	var ok bool
	switch c {
	case CapSwitch:
		ok = true
	case CapBlockKey:
		_, ok = gw.(KeyBlocker)
	case CapPinModel:
		_, ok = gw.(ModelPinner)
	default:
		return fmt.Sprintf("unknown gateway capability %q", c)
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("the configured gateway (%T) cannot %s", gw, c.Verb())
}

// Verb is the capability in words, for messages ("block an agent key").
func (c Capability) Verb() string {
	switch c {
	case CapSwitch:
		return "switch a route's provider"
	case CapBlockKey:
		return "block an agent key"
	case CapPinModel:
		return "pin a route's model to a dated version"
	}
	return string(c)
}

// StaticCapabilities is a CapabilityReporter over a fixed answer: capability → why not
// ("" or absent: it can). Adapters declare theirs as one, so the answer a process that
// only has the config gives (runbook validate, the CLI) is the one the adapter gives.
type StaticCapabilities map[Capability]string

// Cannot returns why not, or "".
func (s StaticCapabilities) Cannot(c Capability) string { return s[c] }

package ports

import (
	"context"
	"time"
)

// Gateway points routes at LLM providers.
type Gateway interface {
	Switch(ctx context.Context, req SwitchRequest) (RouteChange, error)
	Restore(ctx context.Context, req RestoreRequest) (RouteChange, error)
}

// SwitchRequest points Route at To ("fallback" = the provider after the active one).
// Holder (the incident ID) owns the saved previous provider that Restore puts back; Key
// (the step's idempotency key) makes a retry return the first result.
type SwitchRequest struct {
	Route  string
	To     string
	Holder string
	Key    string
	// Previous is the route's state read before the switch (RouteReader), already in the
	// incident's history. With it the switch is a compare-and-set against it: a retry on
	// any worker that finds the route already switched changes nothing and reports the
	// same change. Nil: the adapter's own local memory (incidents started before it).
	Previous *RouteState
}

// RestoreRequest puts back the provider Holder saved when it first switched Route.
type RestoreRequest struct {
	Route  string
	Holder string
	Key    string
	// Previous is the state to put back, as the switch found it (from the incident's
	// history). Nil: the adapter's own local memory (incidents started before it).
	Previous *RouteState
	// SwitchedTo is the provider the switch set, so a restore can say the route was
	// changed by someone else meanwhile.
	SwitchedTo string
}

// RouteState is a route's state on its gateway as a switch found it: enough to put it back
// exactly, small (it travels in workflow history) and free of secrets.
type RouteState struct {
	Provider string `json:"provider"`
	// State is adapter-specific and opaque (empty for the embedded routing table).
	State string `json:"state,omitempty"`
	// KeptLocally says why State stayed out of history (too big, or it holds a secret): the
	// adapter then keeps it in its local memory, as before.
	KeptLocally string `json:"kept_locally,omitempty"`
}

// MaxRouteStateBytes bounds a RouteState's encoding, so history stays small: a bigger one
// is not carried, and the adapter falls back to its local memory.
const MaxRouteStateBytes = 8 << 10

// RouteReader is a Gateway that can read a route's state for the incident's history
// before switching it. A Gateway without it keeps its saved state locally.
type RouteReader interface {
	ReadRoute(ctx context.Context, route string) (RouteState, error)
}

// RouteChange is what a switch or restore did.
type RouteChange struct {
	Route   string `json:"route"`
	From    string `json:"from"`
	To      string `json:"to"`
	Version int64  `json:"version"`
	// NoOp: nothing changed (already on that provider, or nothing saved to restore).
	NoOp bool `json:"noop,omitempty"`
	// Note explains a no-op or a surprise (the route was changed by someone else meanwhile).
	Note string    `json:"note,omitempty"`
	At   time.Time `json:"at"`
}

// KeyBlocker is a gateway that can refuse one agent (or API) key on a route: the way to
// stop a looping agent without taking the route down for everyone. Optional: a Gateway
// that does not implement it makes gateway.block fail as not configured.
type KeyBlocker interface {
	Block(ctx context.Context, req BlockRequest) (BlockChange, error)
	Unblock(ctx context.Context, req BlockRequest) (BlockChange, error)
}

// BlockRequest blocks (or unblocks) AgentKey on Route. Holder (the incident ID) owns the
// block: only its own blocks are lifted by its unblock. Key is the step's idempotency key.
type BlockRequest struct {
	Route    string
	AgentKey string
	Holder   string
	Key      string
}

// BlockChange is what a block or unblock did.
type BlockChange struct {
	Route    string    `json:"route"`
	AgentKey string    `json:"agent_key"`
	Blocked  bool      `json:"blocked"` // the key's state after the change
	Version  int64     `json:"version"`
	NoOp     bool      `json:"noop,omitempty"`
	Note     string    `json:"note,omitempty"`
	At       time.Time `json:"at"`
}

// ModelPinner is a gateway that can pin the model a route answers with to a dated version
// (gpt-4o → gpt-4o-2024-08-06): the way to stop a silent model upgrade behind an alias
// without leaving the provider. Optional, like KeyBlocker.
type ModelPinner interface {
	// ReadPin returns what the route's model is now, before a pin changes it: it travels in
	// the incident's history to the pin and its undo.
	ReadPin(ctx context.Context, route, model string) (PinState, error)
	Pin(ctx context.Context, req PinRequest) (PinChange, error)
	// Unpin puts back exactly the state the pin replaced (req.Previous).
	Unpin(ctx context.Context, req PinRequest) (PinChange, error)
}

// PinRequest pins (or unpins) Model on Route. Holder is the incident ID, Key the step's
// idempotency key.
type PinRequest struct {
	Route string
	// Model is the model name apps ask for (the alias, e.g. gpt-4o).
	Model string
	// To is the dated version to pin to (Pin only).
	To     string
	Holder string
	Key    string
	// Previous is the state read before the pin (ReadPin), from the incident's history:
	// the pin is a compare-and-set against it, the unpin writes it back. Required.
	Previous *PinState
	// PinnedTo is what the pin set, so an unpin can say the route was changed meanwhile.
	PinnedTo string
}

// PinState is a route's model as a pin found it: small, free of secrets, exact enough to
// put back byte for byte.
type PinState struct {
	// Model is the alias the state is about.
	Model string `json:"model"`
	// Pinned is the version the alias resolves to now; "" when it is not pinned.
	Pinned string `json:"pinned,omitempty"`
	// State is adapter-specific and opaque (the deployments' model fields on LiteLLM).
	State string `json:"state,omitempty"`
}

// PinChange is what a pin or unpin did.
type PinChange struct {
	Route string `json:"route"`
	Model string `json:"model"`
	From  string `json:"from"` // the version before ("" = the alias itself)
	To    string `json:"to"`   // the version after ("" = the alias itself)
	// Version is the gateway's version after the change, when it has one.
	Version int64     `json:"version,omitempty"`
	NoOp    bool      `json:"noop,omitempty"`
	Note    string    `json:"note,omitempty"`
	At      time.Time `json:"at"`
}

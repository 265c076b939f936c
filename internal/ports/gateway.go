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
}

// RestoreRequest puts back the provider Holder saved when it first switched Route.
type RestoreRequest struct {
	Route  string
	Holder string
	Key    string
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

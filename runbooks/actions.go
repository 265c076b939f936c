package runbooks

// ParamType is the type a step parameter must have once rendered.
type ParamType string

const (
	TypeString   ParamType = "string"
	TypeDuration ParamType = "duration" // "30m", "2d"
	TypeInt      ParamType = "int"
	TypeFloat    ParamType = "float"
	TypeBool     ParamType = "bool"
	TypeList     ParamType = "list" // comma-separated strings
)

// ActionParam describes one `with:` key of an action.
type ActionParam struct {
	Name        string    `json:"name"`
	Type        ParamType `json:"type"`
	Required    bool      `json:"required,omitempty"`
	Default     string    `json:"default,omitempty"`
	Enum        []string  `json:"enum,omitempty"`
	Description string    `json:"description"`
	// Names says what the value names in a target (NamesRoute), so a client can check it
	// against what the target knows before starting an incident.
	Names string `json:"names,omitempty"`
}

// NamesRoute marks a param whose value is a gateway route.
const NamesRoute = "route"

// Action kinds tell the interpreter how to run a step.
const (
	KindActivity = "activity" // runs the activity of the same name on the worker
	KindWait     = "wait"     // handled in the workflow itself (timers, signals)
	KindGate     = "gate"     // a standalone approval gate
)

// Action is one entry of the catalog: what a step may do.
type Action struct {
	Name        string        `json:"name"`
	Kind        string        `json:"kind"`
	Description string        `json:"description"`
	Params      []ActionParam `json:"params,omitempty"`
	// SideEffect: the action changes something outside quench (shown by `plan`).
	SideEffect bool `json:"side_effect"`
	// Undo names the action that reverses this one; the activity returns the exact undo
	// (with the saved state) in its result, this is what `plan` shows beforehand.
	Undo string `json:"undo,omitempty"`
	// Outputs lists the keys the action puts in its step outputs (for templates and CEL).
	Outputs []string `json:"outputs,omitempty"`
	// DefaultTimeout is the activity's start-to-close timeout when the step sets none.
	DefaultTimeout Duration `json:"default_timeout,omitempty"`
}

// Catalog is the registry of built-in actions, by name. Activities register under the
// same names (see activities.Register), so the workflow executes a step by its action name.
var Catalog = map[string]Action{}

func register(a Action) { Catalog[a.Name] = a }

func init() {
	register(Action{
		Name: "gateway.switch", Kind: KindActivity, SideEffect: true, Undo: "gateway.restore",
		Description: "Point a route at another provider (fail over).",
		Params: []ActionParam{
			{Name: "route", Type: TypeString, Names: NamesRoute, Required: true, Description: "the route apps read (e.g. chat)"},
			{Name: "to", Type: TypeString, Required: true, Description: "provider to switch to, or 'fallback' for the route's next provider"},
		},
		Outputs:        []string{"route", "from", "to"},
		DefaultTimeout: Duration(30e9),
	})
	register(Action{
		Name: "gateway.restore", Kind: KindActivity, SideEffect: true,
		Description: "Restore a route to the provider it had before this incident switched it (fail back).",
		Params: []ActionParam{
			{Name: "route", Type: TypeString, Names: NamesRoute, Required: true, Description: "the route to restore"},
		},
		Outputs:        []string{"route", "provider"},
		DefaultTimeout: Duration(30e9),
	})
	register(Action{
		Name: "gateway.block", Kind: KindActivity, SideEffect: true, Undo: "gateway.unblock",
		Description: "Make the gateway refuse one agent (or API) key on a route, e.g. a looping agent; the route stays up for everyone else.",
		Params: []ActionParam{
			{Name: "route", Type: TypeString, Names: NamesRoute, Required: true, Description: "the route the key calls (e.g. chat)"},
			{Name: "key", Type: TypeString, Required: true, Description: "the agent or API key to refuse (agent.key in the traffic log)"},
		},
		Outputs:        []string{"route", "key", "blocked"},
		DefaultTimeout: Duration(30e9),
	})
	register(Action{
		Name: "gateway.unblock", Kind: KindActivity, SideEffect: true,
		Description: "Lift this incident's block of an agent key on a route.",
		Params: []ActionParam{
			{Name: "route", Type: TypeString, Names: NamesRoute, Required: true, Description: "the route"},
			{Name: "key", Type: TypeString, Required: true, Description: "the agent or API key to accept again"},
		},
		Outputs:        []string{"route", "key", "blocked"},
		DefaultTimeout: Duration(30e9),
	})
	register(Action{
		Name: "traffic.snapshot", Kind: KindActivity,
		Description: "Capture LLM traffic evidence: aggregates per provider/model/prompt version, incident vs baseline, redacted samples.",
		Params: []ActionParam{
			{Name: "window", Type: TypeDuration, Default: "30m", Description: "incident window, ending now"},
			{Name: "baseline", Type: TypeDuration, Default: "24h", Description: "baseline window, ending where the incident window starts"},
			{Name: "route", Type: TypeString, Names: NamesRoute, Description: "only requests of this route (empty: all)"},
			{Name: "samples", Type: TypeInt, Default: "20", Description: "max redacted sample requests kept"},
		},
		Outputs:        []string{"evidence", "sha256", "requests", "error_rate", "baseline_error_rate", "top_change"},
		DefaultTimeout: Duration(5 * 60e9),
	})
	register(Action{
		Name: "prompts.changes", Kind: KindActivity,
		Description: "List the prompt changes (commits touching the prompts path) in a window.",
		Params: []ActionParam{
			{Name: "since", Type: TypeDuration, Default: "24h", Description: "how far back to look"},
		},
		Outputs:        []string{"count", "commits", "suspect", "last_good", "newest"},
		DefaultTimeout: Duration(60e9),
	})
	register(Action{
		Name: "prompts.freeze", Kind: KindActivity, SideEffect: true, Undo: "prompts.unfreeze",
		Description: "Freeze prompt deploys for a scope until unfrozen or the TTL passes.",
		Params: []ActionParam{
			{Name: "scope", Type: TypeString, Default: "prompts", Description: "what is frozen"},
			{Name: "ttl", Type: TypeDuration, Default: "4h", Description: "the freeze lifts by itself after this"},
			{Name: "reason", Type: TypeString, Description: "shown to whoever is blocked"},
		},
		Outputs:        []string{"scope", "until"},
		DefaultTimeout: Duration(30e9),
	})
	register(Action{
		Name: "prompts.unfreeze", Kind: KindActivity, SideEffect: true,
		Description: "Lift this incident's freeze of a scope.",
		Params: []ActionParam{
			{Name: "scope", Type: TypeString, Default: "prompts", Description: "what is unfrozen"},
		},
		Outputs:        []string{"scope", "frozen"},
		DefaultTimeout: Duration(30e9),
	})
	register(Action{
		Name: "prompts.rollback_pr", Kind: KindActivity, SideEffect: true,
		Description: "Propose a rollback: branch quench/rollback-<incident> with one commit restoring the prompts path to its last good state.",
		Params: []ActionParam{
			{Name: "good", Type: TypeString, Description: "commit to restore to (default: the parent of the oldest suspect commit)"},
			{Name: "since", Type: TypeDuration, Default: "24h", Description: "window in which changes are suspect, when good is not given"},
			{Name: "through", Type: TypeString, Description: "newest suspect commit (the one reviewed); a later change to the same files is a conflict for a human"},
			{Name: "evidence", Type: TypeString, Description: "one-line evidence summary for the pull request body"},
		},
		Outputs:        []string{"branch", "commit", "url", "reverted", "noop", "pr"},
		DefaultTimeout: Duration(2 * 60e9),
	})
	register(Action{
		Name: "notify", Kind: KindActivity,
		Description: "Post a message to the incident timeline, the log and chat when configured.",
		Params: []ActionParam{
			{Name: "text", Type: TypeString, Required: true, Description: "the message (template)"},
			{Name: "level", Type: TypeString, Default: "info", Enum: []string{"info", "warning", "critical"}, Description: "how loud"},
		},
		DefaultTimeout: Duration(30e9),
	})
	register(Action{
		Name: "wait.resolved", Kind: KindWait,
		Description: "Wait until the alert resolves or someone resolves the incident.",
	})
	register(Action{
		Name: "wait.duration", Kind: KindWait,
		Description: "Wait a fixed time (e.g. to let a mitigation settle).",
		Params: []ActionParam{
			{Name: "for", Type: TypeDuration, Required: true, Description: "how long"},
		},
	})
	register(Action{
		Name: "approval", Kind: KindGate,
		Description: "A standalone gate: wait for a human decision before going on.",
		Params: []ActionParam{
			{Name: "question", Type: TypeString, Description: "what the approvers are asked"},
		},
	})
}

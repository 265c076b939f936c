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

// Gateway capabilities an action may need (Action.Needs): the values of ports.Capability.
const (
	NeedsBlockKey = "block_key"
	NeedsPinModel = "pin_model"
)

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
	// Needs is the gateway capability the action needs (ports.Capability: block_key,
	// pin_model): a start or `runbook validate` refuses a step whose gateway cannot, unless
	// the step's `when` reads incident.gateway.<capability>.
	Needs string `json:"needs,omitempty"`
}

// Action names. The workflow, the activities and the tests name actions by these, never by
// string literals, so a renamed action cannot leave a caller behind.
const (
	ActionGatewaySwitch   = "gateway.switch"
	ActionGatewayRestore  = "gateway.restore"
	ActionGatewayBlock    = "gateway.block"
	ActionGatewayUnblock  = "gateway.unblock"
	ActionGatewayPinModel = "gateway.pin_model"
	ActionGatewayUnpin    = "gateway.unpin_model"
	ActionTrafficSnapshot = "traffic.snapshot"
	ActionPromptsChanges  = "prompts.changes"
	ActionPromptsFreeze   = "prompts.freeze"
	ActionPromptsUnfreeze = "prompts.unfreeze"
	ActionPromptsRollback = "prompts.rollback_pr"
	ActionNotify          = "notify"
	ActionWaitResolved    = "wait.resolved"
	ActionWaitDuration    = "wait.duration"
	ActionApproval        = "approval"
)

// Catalog is the registry of built-in actions, by name. Activities register under the
// same names (see activities.Register), so the workflow executes a step by its action name.
var Catalog = Actions{}

func register(a Action) { Catalog[a.Name] = a }

// Actions is the part of the catalog one runbook uses, saved with its Spec when it is
// loaded. An incident carries its Spec, so it runs with the action definitions (kinds,
// default timeouts) it was validated against, whatever binary executes it later.
type Actions map[string]Action

// ActionsFor picks from the catalog what spec can run: each step's action, the undo
// that action registers, and notify, which the workflow uses to escalate.
func ActionsFor(spec *Spec) Actions {
	out := Actions{}
	add := func(name string) {
		if a, ok := Catalog[name]; ok {
			out[name] = a
		}
	}
	add(ActionNotify)
	for _, st := range spec.Steps {
		add(st.Action)
		if a, ok := Catalog[st.Action]; ok && a.Undo != "" {
			add(a.Undo)
		}
	}
	return out
}

// Action returns an action as this spec runs it: the definition saved when the spec was
// loaded, else the live catalog's. The fallback serves specs that carry no saved
// definitions (incidents started before they were saved, specs built in code) and an undo
// an activity names that the catalog did not announce: the live catalog is all there is
// for those, and it is what they ran with before.
func (s *Spec) Action(name string) (Action, bool) {
	if a, ok := s.Actions[name]; ok {
		return a, true
	}
	a, ok := Catalog[name]
	return a, ok
}

func init() {
	register(Action{
		Name: ActionGatewaySwitch, Kind: KindActivity, SideEffect: true, Undo: ActionGatewayRestore,
		Description: "Point a route at another provider (fail over).",
		Params: []ActionParam{
			{Name: "route", Type: TypeString, Names: NamesRoute, Required: true, Description: "the route apps read (e.g. chat)"},
			{Name: "to", Type: TypeString, Required: true, Description: "provider to switch to, or 'fallback' for the route's next provider"},
		},
		Outputs:        []string{"route", "from", "to"},
		DefaultTimeout: Duration(30e9),
	})
	register(Action{
		Name: ActionGatewayRestore, Kind: KindActivity, SideEffect: true,
		Description: "Restore a route to the provider it had before this incident switched it (fail back).",
		Params: []ActionParam{
			{Name: "route", Type: TypeString, Names: NamesRoute, Required: true, Description: "the route to restore"},
		},
		Outputs:        []string{"route", "provider"},
		DefaultTimeout: Duration(30e9),
	})
	register(Action{
		Name: ActionGatewayBlock, Kind: KindActivity, SideEffect: true, Undo: ActionGatewayUnblock, Needs: NeedsBlockKey,
		Description: "Make the gateway refuse one agent (or API) key on a route, e.g. a looping agent; the route stays up for everyone else.",
		Params: []ActionParam{
			{Name: "route", Type: TypeString, Names: NamesRoute, Required: true, Description: "the route the key calls (e.g. chat)"},
			{Name: "key", Type: TypeString, Required: true, Description: "the agent or API key to refuse (agent.key in the traffic log)"},
		},
		Outputs:        []string{"route", "key", "blocked"},
		DefaultTimeout: Duration(30e9),
	})
	register(Action{
		Name: ActionGatewayUnblock, Kind: KindActivity, SideEffect: true, Needs: NeedsBlockKey,
		Description: "Lift this incident's block of an agent key on a route.",
		Params: []ActionParam{
			{Name: "route", Type: TypeString, Names: NamesRoute, Required: true, Description: "the route"},
			{Name: "key", Type: TypeString, Required: true, Description: "the agent or API key to accept again"},
		},
		Outputs:        []string{"route", "key", "blocked"},
		DefaultTimeout: Duration(30e9),
	})
	register(Action{
		Name: ActionGatewayPinModel, Kind: KindActivity, SideEffect: true, Undo: ActionGatewayUnpin, Needs: NeedsPinModel,
		Description: "Pin the model a route answers with to a dated version (gpt-4o → gpt-4o-2024-08-06): stops a silent model upgrade behind an alias without leaving the provider.",
		Params: []ActionParam{
			{Name: "route", Type: TypeString, Names: NamesRoute, Required: true, Description: "the route apps read (e.g. chat)"},
			{Name: "model", Type: TypeString, Required: true, Description: "the model apps ask for, the alias (e.g. gpt-4o)"},
			{Name: "to", Type: TypeString, Required: true, Description: "the dated version to pin it to (e.g. gpt-4o-2024-08-06)"},
		},
		Outputs:        []string{"route", "model", "from", "to"},
		DefaultTimeout: Duration(30e9),
	})
	register(Action{
		Name: ActionGatewayUnpin, Kind: KindActivity, SideEffect: true, Needs: NeedsPinModel,
		Description: "Put back a route's model exactly as this incident's pin found it.",
		Params: []ActionParam{
			{Name: "route", Type: TypeString, Names: NamesRoute, Required: true, Description: "the route"},
			{Name: "model", Type: TypeString, Required: true, Description: "the model alias the incident pinned"},
		},
		Outputs:        []string{"route", "model", "pinned"},
		DefaultTimeout: Duration(30e9),
	})
	register(Action{
		Name: ActionTrafficSnapshot, Kind: KindActivity,
		Description: "Capture LLM traffic evidence: aggregates per provider/model/prompt version, incident vs baseline, redacted samples.",
		Params: []ActionParam{
			{Name: "window", Type: TypeDuration, Default: "30m", Description: "incident window, ending now"},
			{Name: "baseline", Type: TypeDuration, Default: "24h", Description: "baseline window, ending where the incident window starts"},
			{Name: "route", Type: TypeString, Names: NamesRoute, Description: "only requests of this route (empty: all)"},
			{Name: "samples", Type: TypeInt, Default: "20", Description: "max redacted sample requests kept"},
			{Name: "request_model", Type: TypeString, Description: "the model alias whose response models the outputs name (empty: the one whose answers changed most)"},
		},
		Outputs: []string{"evidence", "sha256", "requests", "error_rate", "baseline_error_rate", "top_change",
			"request_model", "baseline_response_model", "response_model"},
		DefaultTimeout: Duration(5 * 60e9),
	})
	register(Action{
		Name: ActionPromptsChanges, Kind: KindActivity,
		Description: "List the prompt changes (commits touching the prompts path) in a window.",
		Params: []ActionParam{
			{Name: "since", Type: TypeDuration, Default: "24h", Description: "how far back to look"},
		},
		Outputs:        []string{"count", "commits", "suspect", "last_good", "newest"},
		DefaultTimeout: Duration(60e9),
	})
	register(Action{
		Name: ActionPromptsFreeze, Kind: KindActivity, SideEffect: true, Undo: ActionPromptsUnfreeze,
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
		Name: ActionPromptsUnfreeze, Kind: KindActivity, SideEffect: true,
		Description: "Lift this incident's freeze of a scope.",
		Params: []ActionParam{
			{Name: "scope", Type: TypeString, Default: "prompts", Description: "what is unfrozen"},
		},
		Outputs:        []string{"scope", "frozen"},
		DefaultTimeout: Duration(30e9),
	})
	register(Action{
		Name: ActionPromptsRollback, Kind: KindActivity, SideEffect: true,
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
		Name: ActionNotify, Kind: KindActivity,
		Description: "Post a message to the incident timeline, the log and chat when configured.",
		Params: []ActionParam{
			{Name: "text", Type: TypeString, Required: true, Description: "the message (template)"},
			{Name: "level", Type: TypeString, Default: "info", Enum: []string{"info", "warning", "critical"}, Description: "how loud"},
		},
		DefaultTimeout: Duration(30e9),
	})
	register(Action{
		Name: ActionWaitResolved, Kind: KindWait,
		Description: "Wait until the alert resolves or someone resolves the incident.",
	})
	register(Action{
		Name: ActionWaitDuration, Kind: KindWait,
		Description: "Wait a fixed time (e.g. to let a mitigation settle).",
		Params: []ActionParam{
			{Name: "for", Type: TypeDuration, Required: true, Description: "how long"},
		},
	})
	register(Action{
		Name: ActionApproval, Kind: KindGate,
		Description: "A standalone gate: wait for a human decision before going on.",
		Params: []ActionParam{
			{Name: "question", Type: TypeString, Description: "what the approvers are asked"},
		},
	})
}

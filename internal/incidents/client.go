package incidents

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/runbooks"
	"github.com/quench-dev/quench/workflows"
)

// Client is the client side of incidents: everything the CLI, the HTTP API, ingest and the
// Slack app do to an incident. *Service implements it on Temporal; incidentsfake implements
// it in memory for tests of those callers.
type Client interface {
	// Prepare resolves a start into the workflow's input and options without starting it.
	Prepare(req StartRequest) (workflows.IncidentInput, client.StartWorkflowOptions, error)
	// Start starts an incident (or joins the running one of the same key).
	Start(ctx context.Context, req StartRequest) (Started, error)
	// Resolve expands what a human typed (short or full ID) into the incident's full ID.
	Resolve(ctx context.Context, ref string) (string, error)
	Status(ctx context.Context, ref string) (workflows.Status, error)
	// Decide approves or rejects; d.StepID and d.Digest may be empty or short (see PickApproval).
	Decide(ctx context.Context, ref string, d workflows.Decision) (workflows.DecisionResult, error)
	// Signal sends resolve, abort or note and returns the incident's full ID.
	Signal(ctx context.Context, ref, name string, payload any) (string, error)
	List(ctx context.Context, f ListFilter) ([]Summary, error)
	// Watch calls onEvent for each timeline event until the incident closes or ctx ends.
	Watch(ctx context.Context, ref string, onEvent func(workflows.Event, workflows.Status)) (workflows.Status, error)
	FreezeState(ctx context.Context, scope string) (workflows.FreezeState, error)
}

var _ Client = (*Service)(nil)

// ErrInvalid marks a request that can never succeed as given (unknown runbook, param,
// severity or route): the caller should fix it, not retry. The API answers it with 400.
var ErrInvalid = errors.New("invalid request")

type invalidError struct{ err error }

func (e invalidError) Error() string        { return e.err.Error() }
func (e invalidError) Unwrap() error        { return e.err }
func (e invalidError) Is(target error) bool { return target == ErrInvalid }

// Invalid marks err as the caller's mistake (errors.Is(err, ErrInvalid)).
func Invalid(err error) error {
	if err == nil || errors.Is(err, ErrInvalid) {
		return err
	}
	return invalidError{err}
}

// RouteChecker tells which gateway routes exist, so a start naming an unknown route is
// refused before it starts an incident that would fail at once. A nil RouteChecker means
// "cannot tell": starts go ahead unchecked.
type RouteChecker interface {
	KnownRoutes(ctx context.Context) ([]string, error)
}

// StaticRoutes is a RouteChecker over a fixed list.
type StaticRoutes []string

// KnownRoutes returns the list.
func (r StaticRoutes) KnownRoutes(context.Context) ([]string, error) { return r, nil }

// ConfigRoutes is the RouteChecker a process with only the config can have: the config's
// gateway.routes when the gateway is the embedded routing table (which is seeded from
// them), nil for LiteLLM or Portkey, whose routes only the gateway itself knows.
func ConfigRoutes(cfg *config.Config) RouteChecker {
	if cfg == nil || (cfg.Gateway.Kind != "" && cfg.Gateway.Kind != config.GatewayEmbedded) || len(cfg.Gateway.Routes) == 0 {
		return nil
	}
	routes := make([]string, 0, len(cfg.Gateway.Routes))
	for r := range cfg.Gateway.Routes {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	return StaticRoutes(routes)
}

// CheckRoutes refuses a start whose runbook would touch a route the checker does not know.
// A checker that fails to answer cannot tell, so the start goes ahead.
func CheckRoutes(ctx context.Context, rc RouteChecker, in workflows.IncidentInput) error {
	if rc == nil {
		return nil
	}
	known, err := rc.KnownRoutes(ctx)
	if err != nil || len(known) == 0 {
		return nil
	}
	uses, err := runbooks.RoutesUsed(&in.Spec, in.Params, in.Alert)
	if err != nil {
		return nil // the workflow reports what the plan cannot render
	}
	sort.Strings(known)
	var unknown []string
	seen := map[string]bool{}
	for _, u := range uses {
		if containsString(known, u.Route) || seen[u.Route] {
			continue
		}
		seen[u.Route] = true
		unknown = append(unknown, fmt.Sprintf("%q (step %s)", u.Route, u.StepID))
	}
	if len(unknown) == 0 {
		return nil
	}
	return Invalid(fmt.Errorf("runbook %s: the gateway has no route %s; known routes: %s. Pass one of them (e.g. route=%s) or add the route to gateway.routes in the config",
		in.Spec.Name, strings.Join(unknown, ", "), strings.Join(known, ", "), known[0]))
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// CheckGateway refuses a start whose runbook has a step the gateway cannot carry out
// (gateway.block on Portkey), before anything runs. A nil checker cannot tell.
func CheckGateway(gc ports.CapabilityReporter, in workflows.IncidentInput) error {
	if gc == nil {
		return nil
	}
	probs := runbooks.GatewayProblems(&in.Spec, func(c string) string { return gc.Cannot(ports.Capability(c)) })
	if len(probs) == 0 {
		return nil
	}
	msgs := make([]string, len(probs))
	for i, p := range probs {
		msgs[i] = p.Msg
	}
	return Invalid(fmt.Errorf("runbook %s: %s", in.Spec.Name, strings.Join(msgs, "; ")))
}

// GatewayCan lists what gc says the gateway can do, for IncidentInput.Gateway.
func GatewayCan(gc ports.CapabilityReporter) []string {
	if gc == nil {
		return nil
	}
	var out []string
	for _, c := range ports.Capabilities {
		if gc.Cannot(c) == "" {
			out = append(out, string(c))
		}
	}
	return out
}

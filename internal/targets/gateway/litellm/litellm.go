// Package litellm switches LLM routes on a LiteLLM proxy through its admin API. A quench
// route is a LiteLLM model group (model_name); its providers are the group's deployments,
// named by their provider (litellm_params.custom_llm_provider, else the prefix of
// litellm_params.model: "openai/gpt-4o" → openai) or by their model_info.id.
//
// Two ways to switch, chosen in the config:
//   - block (default): block every deployment of the group but the target's
//     (POST /model/block, /model/unblock); LiteLLM answers 403 when a whole group is blocked,
//     so a switch that would block the last usable deployment is refused.
//   - order: give the target's deployments the lowest litellm_params.order (priority inside
//     the group) and keep the others as fallbacks behind it (POST /model/update).
//
// Every switch reads the group first (GET /model/info), saves it, applies, reads it back,
// and a restore writes back exactly the saved blocked flags and orders.
package litellm

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/targets/gateway/gwstate"
	"github.com/quench-dev/quench/internal/targets/httpapi"
)

// Switch modes.
const (
	ModeBlock = "block"
	ModeOrder = "order"
)

// StateFile is the adapter's state file in the data dir before the store (imported once).
const StateFile = "gateway-litellm.json"

// Options configure the adapter.
type Options struct {
	URL       string
	MasterKey string
	// Mode is ModeBlock (default) or ModeOrder.
	Mode string
	// Routes maps a quench route to a LiteLLM model group; a route not listed is the group
	// of the same name.
	Routes  map[string]string
	Timeout time.Duration
	// Store holds the pre-incident states saved by switches that could not carry them in
	// history, shared by every worker.
	Store *store.DB
	// StateDir is the data dir an older quench kept them in (StateFile): imported once.
	StateDir string
}

// New returns the LiteLLM gateway.
func New(opts Options) (*gwstate.Gateway, error) {
	r, err := newRemote(opts)
	if err != nil {
		return nil, err
	}
	return gwstate.New("the LiteLLM proxy", r, opts.Store, opts.StateDir, StateFile)
}

func newRemote(opts Options) (*remote, error) {
	switch opts.Mode {
	case "":
		opts.Mode = ModeBlock
	case ModeBlock, ModeOrder:
	default:
		return nil, fmt.Errorf("gateway.litellm.mode %q: use block or order", opts.Mode)
	}
	if opts.MasterKey == "" {
		return nil, fmt.Errorf("gateway.litellm.master_key is empty: set it to env:NAME or file:/path holding the proxy's master key")
	}
	cl, err := httpapi.New("the LiteLLM proxy", opts.URL, opts.Timeout, httpapi.Bearer(opts.MasterKey))
	if err != nil {
		return nil, err
	}
	return &remote{api: cl, mode: opts.Mode, routes: opts.Routes}, nil
}

type remote struct {
	api    *httpapi.Client
	mode   string
	routes map[string]string
}

func (r *remote) group(route string) string {
	if g, ok := r.routes[route]; ok && g != "" {
		return g
	}
	return route
}

// deployment is one entry of /model/info as quench reads it.
type deployment struct {
	ModelName     string          `json:"model_name"`
	LiteLLMParams json.RawMessage `json:"litellm_params"`
	ModelInfo     json.RawMessage `json:"model_info"`
}

// depState is what quench saves and restores of one deployment: its blocked flag and its
// order, each exactly as the proxy had it (absent stays absent).
type depState struct {
	ID       string          `json:"id"`
	Provider string          `json:"provider"`
	Blocked  json.RawMessage `json:"blocked,omitempty"`
	Order    json.RawMessage `json:"order,omitempty"`
}

func (d depState) blocked() bool { return string(d.Blocked) == "true" }

// orderValue is the deployment's priority; no order sorts after every order.
func (d depState) orderValue() float64 {
	var v float64
	if len(d.Order) == 0 || json.Unmarshal(d.Order, &v) != nil {
		return 1e18
	}
	return v
}

func (r *remote) Read(ctx context.Context, route string) (gwstate.Snapshot, error) {
	deps, err := r.read(ctx, route)
	if err != nil {
		return gwstate.Snapshot{}, err
	}
	return r.snapshot(deps)
}

func (r *remote) read(ctx context.Context, route string) ([]depState, error) {
	var info struct {
		Data []deployment `json:"data"`
	}
	if _, err := r.api.Do(ctx, http.MethodGet, "/model/info", nil, nil, &info); err != nil {
		return nil, err
	}
	group := r.group(route)
	var deps []depState
	var groups []string
	for _, d := range info.Data {
		if !slices.Contains(groups, d.ModelName) {
			groups = append(groups, d.ModelName)
		}
		if d.ModelName != group {
			continue
		}
		var params map[string]json.RawMessage
		var mi map[string]json.RawMessage
		_ = json.Unmarshal(d.LiteLLMParams, &params)
		_ = json.Unmarshal(d.ModelInfo, &mi)
		var id string
		if err := json.Unmarshal(mi["id"], &id); err != nil || id == "" {
			return nil, ports.Permanentf("LiteLLM model group %s has a deployment without model_info.id: quench cannot address it (store models in the proxy's DB, or give each an id in config.yaml)", group)
		}
		deps = append(deps, depState{ID: id, Provider: providerOf(params, id), Blocked: compact(mi["blocked"]), Order: compact(params["order"])})
	}
	if len(deps) == 0 {
		sort.Strings(groups)
		return nil, ports.Permanentf("route %s: the LiteLLM proxy has no model group %q (groups: %s); map routes to groups with gateway.litellm.routes",
			route, group, strings.Join(groups, ", "))
	}
	return deps, nil
}

func providerOf(params map[string]json.RawMessage, id string) string {
	var p string
	if json.Unmarshal(params["custom_llm_provider"], &p) == nil && p != "" {
		return p
	}
	var model string
	if json.Unmarshal(params["model"], &model) == nil {
		if prefix, _, ok := strings.Cut(model, "/"); ok && prefix != "" {
			return prefix
		}
	}
	return id
}

// compact normalises a raw JSON value; null and absent are both "absent".
func compact(v json.RawMessage) json.RawMessage {
	if len(v) == 0 || string(bytes.TrimSpace(v)) == "null" {
		return nil
	}
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return v
	}
	return b.Bytes()
}

func (r *remote) snapshot(deps []depState) (gwstate.Snapshot, error) {
	data, err := json.Marshal(deps)
	if err != nil {
		return gwstate.Snapshot{}, err
	}
	return gwstate.Snapshot{State: data, Provider: r.active(deps)}, nil
}

func decode(s gwstate.Snapshot) []depState {
	var deps []depState
	_ = json.Unmarshal(s.State, &deps)
	return deps
}

// ranked lists the deployments in the order the group tries them: by order, then as listed.
func ranked(deps []depState) []depState {
	out := slices.Clone(deps)
	sort.SliceStable(out, func(i, j int) bool { return out[i].orderValue() < out[j].orderValue() })
	return out
}

// providers lists the group's providers in the order the group tries them.
func providers(deps []depState) []string {
	var out []string
	for _, d := range ranked(deps) {
		if !slices.Contains(out, d.Provider) {
			out = append(out, d.Provider)
		}
	}
	return out
}

// active is the provider the group sends traffic to first: the best-ranked usable one.
func (r *remote) active(deps []depState) string {
	for _, d := range ranked(deps) {
		if !d.blocked() {
			return d.Provider
		}
	}
	return "none (every deployment is blocked)"
}

func (r *remote) Plan(route string, cur gwstate.Snapshot, to string) (gwstate.Plan, error) {
	deps := decode(cur)
	names := providers(deps)
	target := to
	if to == gwstate.Fallback && !slices.Contains(names, gwstate.Fallback) {
		i := slices.Index(names, cur.Provider)
		if i < 0 || i+1 >= len(names) {
			return gwstate.Plan{}, ports.Permanentf("route %s is on its last provider %s: there is no fallback after it (providers in order: %s)",
				route, cur.Provider, strings.Join(names, ", "))
		}
		target = names[i+1]
	}
	isTarget := func(d depState) bool { return d.Provider == target || d.ID == target }
	var usable, known bool
	for _, d := range deps {
		if isTarget(d) {
			known = true
			usable = usable || !d.blocked()
		}
	}
	if !known {
		return gwstate.Plan{}, ports.Permanentf("route %s (LiteLLM group %s) has no provider or deployment %q; its providers are %s (or use %q for the next one)",
			route, r.group(route), target, strings.Join(names, ", "), gwstate.Fallback)
	}
	if target == cur.Provider {
		return gwstate.Plan{Want: cur, NoOp: true}, nil
	}
	if !usable {
		return gwstate.Plan{}, ports.Permanentf("refusing to switch route %s to %s: every %s deployment in LiteLLM group %s is blocked, so the route would be left with no usable provider; unblock one first or pick another provider",
			route, target, target, r.group(route))
	}
	want := slices.Clone(deps)
	switch r.mode {
	case ModeBlock:
		for i, d := range want {
			if !isTarget(d) && !d.blocked() {
				want[i].Blocked = json.RawMessage("true")
			}
		}
	case ModeOrder:
		// Target first, everyone else behind it in the order they had.
		n := 1
		for _, pass := range []bool{true, false} {
			for _, d := range ranked(deps) {
				if isTarget(d) == pass {
					for i := range want {
						if want[i].ID == d.ID {
							want[i].Order = json.RawMessage(fmt.Sprint(n))
						}
					}
					n++
				}
			}
		}
	}
	snap, err := r.snapshot(want)
	if err != nil {
		return gwstate.Plan{}, err
	}
	if r.same(deps, want) {
		return gwstate.Plan{Want: cur, NoOp: true}, nil
	}
	return gwstate.Plan{Want: snap}, nil
}

func (r *remote) Write(ctx context.Context, route string, cur, want gwstate.Snapshot) error {
	now := map[string]depState{}
	for _, d := range decode(cur) {
		now[d.ID] = d
	}
	for _, w := range decode(want) {
		c, ok := now[w.ID]
		if !ok {
			continue // the deployment is gone: nothing to put back
		}
		if !bytes.Equal(c.Blocked, w.Blocked) {
			if err := r.setBlocked(ctx, w); err != nil {
				return err
			}
		}
		if !bytes.Equal(c.Order, w.Order) {
			body := map[string]any{"model_info": map[string]any{"id": w.ID}, "litellm_params": map[string]any{"order": rawOrNull(w.Order)}}
			if _, err := r.api.Do(ctx, http.MethodPost, "/model/update", nil, body, nil); err != nil {
				return fmt.Errorf("set the order of deployment %s: %w", w.ID, err)
			}
		}
	}
	return nil
}

func (r *remote) setBlocked(ctx context.Context, w depState) error {
	var err error
	switch string(w.Blocked) {
	case "true":
		_, err = r.api.Do(ctx, http.MethodPost, "/model/block", nil, map[string]string{"model_id": w.ID}, nil)
	case "false":
		_, err = r.api.Do(ctx, http.MethodPost, "/model/unblock", nil, map[string]string{"model_id": w.ID}, nil)
	default:
		// The flag was absent before: clear it rather than leave an explicit false behind.
		body := map[string]any{"model_info": map[string]any{"id": w.ID, "blocked": rawOrNull(w.Blocked)}}
		_, err = r.api.Do(ctx, http.MethodPost, "/model/update", nil, body, nil)
	}
	if err != nil {
		return fmt.Errorf("set blocked=%s on deployment %s: %w", orAbsent(w.Blocked), w.ID, err)
	}
	return nil
}

func rawOrNull(v json.RawMessage) json.RawMessage {
	if len(v) == 0 {
		return json.RawMessage("null")
	}
	return v
}

func orAbsent(v json.RawMessage) string {
	if len(v) == 0 {
		return "(absent)"
	}
	return string(v)
}

func (r *remote) Same(got, want gwstate.Snapshot) bool { return r.same(decode(got), decode(want)) }

// same compares the blocked flags and orders of the deployments both states have: one
// deleted or added meanwhile cannot be restored and does not count.
func (r *remote) same(got, want []depState) bool {
	g := map[string]depState{}
	for _, d := range got {
		g[d.ID] = d
	}
	for _, w := range want {
		c, ok := g[w.ID]
		if ok && (!bytes.Equal(c.Blocked, w.Blocked) || !bytes.Equal(c.Order, w.Order)) {
			return false
		}
	}
	return true
}

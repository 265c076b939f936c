package litellm

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/quench-dev/quench/internal/ports"
)

// A pin rewrites litellm_params.model of the route's deployments that serve the alias
// ("openai/gpt-4o" → "openai/gpt-4o-2024-08-06", POST /model/update) and an unpin writes
// back each one's model exactly as it was read.

// pinDep is one deployment's model as a pin reads and restores it.
type pinDep struct {
	ID    string          `json:"id"`
	Model json.RawMessage `json:"model"`
}

// modelOf splits "openai/gpt-4o" into its provider prefix ("openai/") and name.
func modelOf(raw json.RawMessage) (prefix, name string) {
	var m string
	if json.Unmarshal(raw, &m) != nil {
		return "", ""
	}
	if i := strings.LastIndex(m, "/"); i >= 0 {
		return m[:i+1], m[i+1:]
	}
	return "", m
}

// serves reports whether a deployment's model is the alias or a dated version of it: the
// alias, a dash, then digits and dashes (gpt-4o-2024-08-06, claude-3-5-sonnet-20241022,
// gemini-1.5-pro-002), so gpt-4o-mini is not a version of gpt-4o.
func serves(name, alias string) bool {
	if name == alias {
		return true
	}
	suffix, ok := strings.CutPrefix(name, alias+"-")
	if !ok || suffix == "" || suffix[0] < '0' || suffix[0] > '9' {
		return false
	}
	return strings.Trim(suffix, "0123456789-") == ""
}

// ReadPin reads the models of the route's deployments that serve model.
func (r *remote) ReadPin(ctx context.Context, route, model string) (ports.PinState, error) {
	var info struct {
		Data []deployment `json:"data"`
	}
	if _, err := r.api.Do(ctx, http.MethodGet, "/model/info", nil, nil, &info); err != nil {
		return ports.PinState{}, err
	}
	group := r.group(route)
	var deps []pinDep
	var seen []string
	for _, d := range info.Data {
		if d.ModelName != group {
			continue
		}
		var params map[string]json.RawMessage
		var mi map[string]json.RawMessage
		_ = json.Unmarshal(d.LiteLLMParams, &params)
		_ = json.Unmarshal(d.ModelInfo, &mi)
		_, name := modelOf(params["model"])
		if !slices.Contains(seen, name) {
			seen = append(seen, name)
		}
		if !serves(name, model) {
			continue
		}
		var id string
		if err := json.Unmarshal(mi["id"], &id); err != nil || id == "" {
			return ports.PinState{}, ports.Permanentf("LiteLLM model group %s has a deployment of %s without model_info.id: quench cannot address it (store models in the proxy's DB)", group, model)
		}
		deps = append(deps, pinDep{ID: id, Model: compact(params["model"])})
	}
	if len(deps) == 0 {
		sort.Strings(seen)
		if len(seen) == 0 {
			return ports.PinState{}, ports.Permanentf("route %s: the LiteLLM proxy has no model group %q; map routes to groups with gateway.litellm.routes", route, group)
		}
		return ports.PinState{}, ports.Permanentf("route %s (LiteLLM group %s) has no deployment of model %s; its deployments serve %s",
			route, group, model, strings.Join(seen, ", "))
	}
	state, err := json.Marshal(deps)
	if err != nil {
		return ports.PinState{}, err
	}
	return ports.PinState{Model: model, Pinned: pinnedOf(deps, model), State: string(state)}, nil
}

// pinnedOf is the one dated version every deployment serves, or "" (the alias, or a mix).
func pinnedOf(deps []pinDep, alias string) string {
	var v string
	for i, d := range deps {
		_, name := modelOf(d.Model)
		if name == alias || (i > 0 && name != v) {
			return ""
		}
		v = name
	}
	return v
}

func decodePin(ps ports.PinState) ([]pinDep, error) {
	var deps []pinDep
	if err := json.Unmarshal([]byte(ps.State), &deps); err != nil {
		return nil, ports.Permanentf("the saved state of model %s is not LiteLLM's: %v", ps.Model, err)
	}
	return deps, nil
}

// PlanPin gives every deployment serving the alias the dated version, its provider prefix
// kept.
func (r *remote) PlanPin(route string, cur ports.PinState, to string) (ports.PinState, error) {
	if strings.Contains(to, "/") {
		return ports.PinState{}, ports.Permanentf("pin model %s to %q: give the dated model name without a provider prefix (e.g. %s-2024-08-06); each deployment keeps its own", cur.Model, to, cur.Model)
	}
	if !serves(to, cur.Model) {
		return ports.PinState{}, ports.Permanentf("%s is not a dated version of %s on route %s: a pin keeps the model and fixes its version (e.g. %s-2024-08-06)", to, cur.Model, route, cur.Model)
	}
	deps, err := decodePin(cur)
	if err != nil {
		return ports.PinState{}, err
	}
	want := make([]pinDep, len(deps))
	for i, d := range deps {
		prefix, _ := modelOf(d.Model)
		m, _ := json.Marshal(prefix + to)
		want[i] = pinDep{ID: d.ID, Model: m}
	}
	state, err := json.Marshal(want)
	if err != nil {
		return ports.PinState{}, err
	}
	return ports.PinState{Model: cur.Model, Pinned: to, State: string(state)}, nil
}

// WritePin updates the deployments whose model differs.
func (r *remote) WritePin(ctx context.Context, route string, cur, want ports.PinState) error {
	now, err := decodePin(cur)
	if err != nil {
		return err
	}
	target, err := decodePin(want)
	if err != nil {
		return err
	}
	have := map[string]json.RawMessage{}
	for _, d := range now {
		have[d.ID] = d.Model
	}
	for _, w := range target {
		c, ok := have[w.ID]
		if !ok || string(c) == string(w.Model) {
			continue // gone meanwhile (nothing to put back), or already so
		}
		body := map[string]any{"model_info": map[string]any{"id": w.ID}, "litellm_params": map[string]any{"model": w.Model}}
		if _, err := r.api.Do(ctx, http.MethodPost, "/model/update", nil, body, nil); err != nil {
			return fmt.Errorf("set the model of deployment %s: %w", w.ID, err)
		}
	}
	return nil
}

// SamePin compares the models of the deployments both states have.
func (r *remote) SamePin(got, want ports.PinState) bool {
	g, err1 := decodePin(got)
	w, err2 := decodePin(want)
	if err1 != nil || err2 != nil {
		return false
	}
	have := map[string]string{}
	for _, d := range g {
		have[d.ID] = string(d.Model)
	}
	for _, d := range w {
		if m, ok := have[d.ID]; ok && m != string(d.Model) {
			return false
		}
	}
	return true
}

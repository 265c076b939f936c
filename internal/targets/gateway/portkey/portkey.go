// Package portkey switches LLM routes held in Portkey configs through the admin API: a
// quench route is a config (by slug); its providers are the config's top-level targets,
// named by their virtual_key, else their provider.
//
// A switch GETs the config, saves the body, PUTs the switched config and reads it back:
// with strategy.mode fallback (or no strategy) the target moves to the front of targets[];
// with loadbalance it gets all the weight. A restore PUTs the saved body back as it was.
package portkey

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/targets/gateway/gwstate"
	"github.com/quench-dev/quench/internal/targets/httpapi"
)

// DefaultURL is Portkey's hosted admin API.
const DefaultURL = "https://api.portkey.ai/v1"

// StateFile is the adapter's state file in the data dir before the store (imported once).
const StateFile = "gateway-portkey.json"

// Options configure the adapter.
type Options struct {
	URL    string // default DefaultURL
	APIKey string
	// Routes maps a quench route to a config slug; a route not listed is the slug itself.
	Routes  map[string]string
	Timeout time.Duration
	// Store holds the configs saved by switches that could not carry them in history
	// (one holding a key, or too big), shared by every worker.
	Store *store.DB
	// StateDir is the data dir an older quench kept them in (StateFile): imported once.
	StateDir string
}

// New returns the Portkey gateway.
func New(opts Options) (*gwstate.Gateway, error) {
	if opts.URL == "" {
		opts.URL = DefaultURL
	}
	if opts.APIKey == "" {
		return nil, fmt.Errorf("gateway.portkey.api_key is empty: set it to env:NAME or file:/path holding a Portkey API key with configs read and write scope")
	}
	cl, err := httpapi.New("Portkey", opts.URL, opts.Timeout, httpapi.Header("x-portkey-api-key", opts.APIKey))
	if err != nil {
		return nil, err
	}
	return gwstate.New("Portkey", &remote{api: cl, routes: opts.Routes}, opts.Store, opts.StateDir, StateFile)
}

type remote struct {
	api    *httpapi.Client
	routes map[string]string
}

func (r *remote) slug(route string) string {
	if s, ok := r.routes[route]; ok && s != "" {
		return s
	}
	return route
}

func (r *remote) path(route string) string { return "/configs/" + url.PathEscape(r.slug(route)) }

func (r *remote) Read(ctx context.Context, route string) (gwstate.Snapshot, error) {
	var resp struct {
		Data struct {
			Config json.RawMessage `json:"config"`
		} `json:"data"`
	}
	if _, err := r.api.Do(ctx, http.MethodGet, r.path(route), nil, nil, &resp); err != nil {
		if httpapi.StatusOf(err) == http.StatusNotFound {
			return gwstate.Snapshot{}, ports.Permanentf("route %s: Portkey has no config %q; map routes to config slugs with gateway.portkey.routes", route, r.slug(route))
		}
		return gwstate.Snapshot{}, err
	}
	body := resp.Data.Config
	// Some answers carry the config as a JSON string.
	var asString string
	if json.Unmarshal(body, &asString) == nil {
		body = json.RawMessage(asString)
	}
	cfg, err := parse(body)
	if err != nil {
		return gwstate.Snapshot{}, ports.Permanentf("route %s: Portkey config %s: %v", route, r.slug(route), err)
	}
	return gwstate.Snapshot{State: body, Provider: cfg.active()}, nil
}

// config is a Portkey config with its targets opened up; everything else stays raw.
type config struct {
	raw     map[string]json.RawMessage
	mode    string
	targets []map[string]json.RawMessage
}

func parse(body json.RawMessage) (*config, error) {
	c := &config{}
	if err := json.Unmarshal(body, &c.raw); err != nil || c.raw == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	var strategy struct {
		Mode string `json:"mode"`
	}
	if s, ok := c.raw["strategy"]; ok {
		_ = json.Unmarshal(s, &strategy)
	}
	c.mode = strategy.Mode
	if t, ok := c.raw["targets"]; ok {
		if err := json.Unmarshal(t, &c.targets); err != nil {
			return nil, fmt.Errorf("targets is not a list of objects: %v", err)
		}
	}
	if len(c.targets) == 0 {
		return nil, fmt.Errorf("it has no targets[]: quench switches between a config's targets (strategy fallback or loadbalance)")
	}
	return c, nil
}

func str(m map[string]json.RawMessage, k string) string {
	var s string
	_ = json.Unmarshal(m[k], &s)
	return s
}

// name is how a route's provider is called: the target's virtual key, else its provider.
func name(t map[string]json.RawMessage) string {
	if v := str(t, "virtual_key"); v != "" {
		return v
	}
	if v := str(t, "provider"); v != "" {
		return v
	}
	return "unnamed"
}

func weight(t map[string]json.RawMessage) float64 {
	w := 1.0 // Portkey's default weight
	if v, ok := t["weight"]; ok {
		_ = json.Unmarshal(v, &w)
	}
	return w
}

func (c *config) names() []string {
	var out []string
	for _, t := range c.targets {
		if n := name(t); !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// active is the provider that gets the traffic: the first target, or with loadbalance the
// heaviest.
func (c *config) active() string {
	if c.mode != "loadbalance" {
		return name(c.targets[0])
	}
	best, w := "", -1.0
	for _, t := range c.targets {
		if tw := weight(t); tw > w {
			best, w = name(t), tw
		}
	}
	if w <= 0 {
		return "none (every target has weight 0)"
	}
	return best
}

func (c *config) encode() (json.RawMessage, error) {
	targets, err := json.Marshal(c.targets)
	if err != nil {
		return nil, err
	}
	c.raw["targets"] = targets
	return json.Marshal(c.raw)
}

func (r *remote) Plan(route string, cur gwstate.Snapshot, to string) (gwstate.Plan, error) {
	c, err := parse(cur.State)
	if err != nil {
		return gwstate.Plan{}, ports.Permanentf("route %s: %v", route, err)
	}
	names := c.names()
	target := to
	if to == gwstate.Fallback && !slices.Contains(names, gwstate.Fallback) {
		i := slices.Index(names, cur.Provider)
		if i < 0 || i+1 >= len(names) {
			return gwstate.Plan{}, ports.Permanentf("refusing to switch route %s: it is on its last target %s and there is no fallback after it, so the route would be left with no usable provider (targets in order: %s)",
				route, cur.Provider, strings.Join(names, ", "))
		}
		target = names[i+1]
	}
	if !slices.Contains(names, target) {
		return gwstate.Plan{}, ports.Permanentf("route %s (Portkey config %s) has no target %q; its targets are %s (or use %q for the next one)",
			route, r.slug(route), target, strings.Join(names, ", "), gwstate.Fallback)
	}
	if target == cur.Provider {
		return gwstate.Plan{Want: cur, NoOp: true}, nil
	}
	switch c.mode {
	case "loadbalance":
		for _, t := range c.targets {
			w := 0
			if name(t) == target {
				w = 1
			}
			t["weight"] = json.RawMessage(fmt.Sprint(w))
		}
	default: // fallback, or a plain list: the first target takes the traffic
		var first, rest []map[string]json.RawMessage
		for _, t := range c.targets {
			if name(t) == target {
				first = append(first, t)
			} else {
				rest = append(rest, t)
			}
		}
		c.targets = append(first, rest...)
	}
	want, err := c.encode()
	if err != nil {
		return gwstate.Plan{}, err
	}
	return gwstate.Plan{Want: gwstate.Snapshot{State: want, Provider: target}}, nil
}

// Write PUTs want as the config body: for a restore, the saved body exactly as it was.
func (r *remote) Write(ctx context.Context, route string, _, want gwstate.Snapshot) error {
	// Built by hand: json.Marshal would re-escape the saved body, and a restore puts back
	// the bytes Portkey gave.
	body := append(append([]byte(`{"config":`), want.State...), '}')
	if _, err := r.api.Do(ctx, http.MethodPut, r.path(route), nil, body, nil); err != nil {
		return fmt.Errorf("update Portkey config %s: %w", r.slug(route), err)
	}
	return nil
}

// Same compares configs as JSON values: key order and spacing do not matter.
func (r *remote) Same(got, want gwstate.Snapshot) bool {
	var a, b any
	if json.Unmarshal(got.State, &a) != nil || json.Unmarshal(want.State, &b) != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

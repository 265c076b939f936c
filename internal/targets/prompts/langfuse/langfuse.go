// Package langfuse is the prompts target for teams that deploy prompts with Langfuse
// prompt management: a label (production) points at an immutable version, and apps fetch
// the version the label points at (caching it for about a minute).
//
//   - Changes lists the versions created, or promoted to the label, in a window.
//   - Rollback moves the label back to the last good version (PATCH
//     /api/public/v2/prompts/{name}/versions/{v}) and records each move before and after.
//   - A freeze of the adapter's scope pins each prompt's labelled version (EnforceFreeze,
//     run by the freeze workflow); a move of the label while frozen, reported by Langfuse's
//     signed prompt-version webhook or found by the freeze workflow's sweep, is moved back.
//
// Langfuse's PATCH only adds labels (taking them from other versions), so the pins live in
// quench's store (SQLite in the data dir, or the PostgreSQL every replica reaches), not in
// Langfuse: the worker enforcing a freeze and the server answering the webhook read the
// same pins.
package langfuse

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/targets/httpapi"
)

// Defaults.
const (
	DefaultURL   = "https://cloud.langfuse.com"
	DefaultLabel = "production"
	DefaultScope = "prompts"
	// DefaultSweep is how often the freeze workflow re-checks the pins while frozen,
	// catching a move whose webhook never came.
	DefaultSweep = time.Minute
	// PinsFile is the pins' state file in the data dir of quench before the store; it is
	// imported into the store once and renamed to PinsFile.imported.
	PinsFile = "langfuse-pins.json"
)

// Options configure the adapter.
type Options struct {
	URL       string
	PublicKey string
	SecretKey string
	Timeout   time.Duration
	// Prompts are the prompts quench manages; empty: every prompt of the project.
	Prompts []string
	Label   string // the deployment label (default production)
	Scope   string // the freeze scope that pins the prompts (default prompts)
	Sweep   time.Duration
	// Store holds the pins (required).
	Store *store.DB
	// StateDir is the data dir, where an older quench kept the pins file (imported once).
	StateDir string
	// WebhookSecret verifies Langfuse's prompt-version webhooks.
	WebhookSecret string
	// OnRepin is told of every move undone during a freeze (the app puts it on the holding
	// incidents' timelines).
	OnRepin func(ctx context.Context, r Repin)
	Logger  *slog.Logger
}

// Repin is a label move undone because the prompts were frozen.
type Repin struct {
	Scope   string
	Prompt  string
	Label   string
	From    int // the version someone moved the label to (0: removed)
	To      int // the pinned version it is back on
	Holders []string
}

// Adapter is the Langfuse prompts target.
type Adapter struct {
	api  *httpapi.Client
	opts Options
	pins *pinStore
	now  func() time.Time
}

// New returns the adapter.
func New(opts Options) (*Adapter, error) {
	if opts.URL == "" {
		opts.URL = DefaultURL
	}
	if opts.PublicKey == "" || opts.SecretKey == "" {
		return nil, fmt.Errorf("prompts.langfuse needs public_key and secret_key (env:NAME or file:/path)")
	}
	if opts.Label == "" {
		opts.Label = DefaultLabel
	}
	if opts.Scope == "" {
		opts.Scope = DefaultScope
	}
	if opts.Sweep <= 0 {
		opts.Sweep = DefaultSweep
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cl, err := httpapi.New("Langfuse", opts.URL, opts.Timeout, httpapi.Basic(opts.PublicKey, opts.SecretKey))
	if err != nil {
		return nil, err
	}
	a := &Adapter{api: cl, opts: opts, now: func() time.Time { return time.Now().UTC() }}
	if a.pins, err = newPinStore(opts.Store, opts.StateDir, opts.Logger, func() time.Time { return a.now() }); err != nil {
		return nil, err
	}
	return a, nil
}

// SetOnRepin sets who is told of a move undone during a freeze (call before use).
func (a *Adapter) SetOnRepin(fn func(ctx context.Context, r Repin)) { a.opts.OnRepin = fn }

// Scope is the freeze scope the adapter guards.
func (a *Adapter) Scope() string { return a.opts.Scope }

// promptVersion is a version as the API returns it.
type promptVersion struct {
	Name          string     `json:"name"`
	Version       int        `json:"version"`
	Labels        []string   `json:"labels"`
	CommitMessage string     `json:"commitMessage"`
	CreatedAt     *time.Time `json:"createdAt"`
	UpdatedAt     *time.Time `json:"updatedAt"`
	CreatedBy     string     `json:"createdBy"`
}

type promptMeta struct {
	Name          string    `json:"name"`
	Versions      []int     `json:"versions"`
	Labels        []string  `json:"labels"`
	LastUpdatedAt time.Time `json:"lastUpdatedAt"`
}

func promptPath(name string) string { return "/api/public/v2/prompts/" + url.PathEscape(name) }

// list reads the prompt list page by page, optionally only versions updated in [from, to].
func (a *Adapter) list(ctx context.Context, from, to time.Time) ([]promptMeta, error) {
	var out []promptMeta
	for page := 1; ; page++ {
		q := url.Values{"page": {strconv.Itoa(page)}, "limit": {"50"}}
		if !from.IsZero() {
			q.Set("fromUpdatedAt", from.UTC().Format(time.RFC3339Nano))
			q.Set("toUpdatedAt", to.UTC().Format(time.RFC3339Nano))
		}
		var resp struct {
			Data []promptMeta `json:"data"`
			Meta struct {
				TotalPages int `json:"totalPages"`
			} `json:"meta"`
		}
		if _, err := a.api.Do(ctx, http.MethodGet, "/api/public/v2/prompts", q, nil, &resp); err != nil {
			return nil, err
		}
		for _, m := range resp.Data {
			if a.managed(m.Name) {
				out = append(out, m)
			}
		}
		if page >= resp.Meta.TotalPages || len(resp.Data) == 0 {
			return out, nil
		}
	}
}

func (a *Adapter) managed(name string) bool {
	return len(a.opts.Prompts) == 0 || slices.Contains(a.opts.Prompts, name)
}

// names are the managed prompts: the configured list, or every prompt of the project.
func (a *Adapter) names(ctx context.Context) ([]string, error) {
	if len(a.opts.Prompts) > 0 {
		return a.opts.Prompts, nil
	}
	metas, err := a.list(ctx, time.Time{}, time.Time{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range metas {
		out = append(out, m.Name)
	}
	return out, nil
}

func (a *Adapter) version(ctx context.Context, name string, v int) (promptVersion, error) {
	var pv promptVersion
	_, err := a.api.Do(ctx, http.MethodGet, promptPath(name), url.Values{"version": {strconv.Itoa(v)}}, nil, &pv)
	if httpapi.StatusOf(err) == http.StatusNotFound {
		return pv, ports.Permanentf("Langfuse has no version %d of prompt %q", v, name)
	}
	return pv, err
}

// labelled returns the version the label points at (0 when none).
func (a *Adapter) labelled(ctx context.Context, name, label string) (promptVersion, error) {
	var pv promptVersion
	_, err := a.api.Do(ctx, http.MethodGet, promptPath(name), url.Values{"label": {label}}, nil, &pv)
	if httpapi.StatusOf(err) == http.StatusNotFound {
		return promptVersion{Name: name}, nil
	}
	return pv, err
}

// moveLabel puts label on version v of name and reads it back. Langfuse's PATCH adds the
// labels it is given (and takes them from other versions); the version's own labels are
// sent along so a server that replaced them would keep them too.
func (a *Adapter) moveLabel(ctx context.Context, name string, v int, label string) error {
	pv, err := a.version(ctx, name, v)
	if err != nil {
		return err
	}
	labels := []string{}
	for _, l := range pv.Labels {
		if l != "latest" && l != label {
			labels = append(labels, l)
		}
	}
	labels = append(labels, label)
	body := map[string][]string{"newLabels": labels}
	if _, err := a.api.Do(ctx, http.MethodPatch, fmt.Sprintf("%s/versions/%d", promptPath(name), v), nil, body, nil); err != nil {
		return fmt.Errorf("move label %s of prompt %s to version %d: %w", label, name, v, err)
	}
	got, err := a.labelled(ctx, name, label)
	if err != nil {
		return fmt.Errorf("read label %s of prompt %s back: %w", label, name, err)
	}
	if got.Version != v {
		return fmt.Errorf("Langfuse did not take the move of label %s of prompt %s to version %d: it points at %d", label, name, v, got.Version)
	}
	return nil
}

// Changes lists the versions of the managed prompts created in [since, until], and those
// the label was moved to in it (Langfuse keeps no label history: a version updated in the
// window that now carries the label counts as promoted then), newest first.
func (a *Adapter) Changes(ctx context.Context, since, until time.Time) ([]ports.PromptCommit, error) {
	metas, err := a.list(ctx, since, until)
	if err != nil {
		return nil, err
	}
	var out []ports.PromptCommit
	for _, m := range metas {
		for _, v := range m.Versions {
			pv, err := a.version(ctx, m.Name, v)
			if err != nil {
				return nil, err
			}
			created := pv.CreatedAt != nil && !pv.CreatedAt.Before(since) && !pv.CreatedAt.After(until)
			promoted := slices.Contains(pv.Labels, a.opts.Label) && pv.UpdatedAt != nil && !pv.UpdatedAt.Before(since) && !pv.UpdatedAt.After(until)
			if !created && !promoted {
				continue
			}
			c := ports.PromptCommit{
				SHA: ref(m.Name, v), Short: ref(m.Name, v), Author: pv.CreatedBy,
				Message: pv.CommitMessage, Files: []ports.FileChange{{Path: m.Name}},
			}
			if v > 1 {
				c.Parent = ref(m.Name, v-1)
			}
			switch {
			case created && pv.CreatedAt != nil:
				c.Date = pv.CreatedAt.UTC()
			case pv.UpdatedAt != nil:
				c.Date = pv.UpdatedAt.UTC()
			}
			if c.Message == "" {
				c.Message = fmt.Sprintf("version %d", v)
			}
			if !created {
				c.Message = fmt.Sprintf("%s promoted to %s (%s)", ref(m.Name, v), a.opts.Label, c.Message)
			}
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Date.After(out[j].Date) })
	return out, nil
}

func ref(name string, v int) string { return fmt.Sprintf("%s@%d", name, v) }

// parseRef reads "name@3" (or "3" / "v3" when one prompt is managed).
func (a *Adapter) parseRef(s string) (string, int, error) {
	name, ver, ok := strings.Cut(strings.TrimSpace(s), "@")
	if !ok {
		if len(a.opts.Prompts) != 1 {
			return "", 0, ports.Permanentf("good %q: write name@version (e.g. summarise@7); a bare version needs exactly one prompt in prompts.langfuse.prompts", s)
		}
		name, ver = a.opts.Prompts[0], name
	}
	v, err := strconv.Atoi(strings.TrimPrefix(ver, "v"))
	if err != nil || v <= 0 || name == "" {
		return "", 0, ports.Permanentf("good %q: write name@version, e.g. summarise@7", s)
	}
	return name, v, nil
}

// Rollback moves the label of each prompt back to its last good version: req.Good
// ("name@v", comma-separated for several), or else the version before the oldest change
// of each prompt in [req.Since, req.Until].
func (a *Adapter) Rollback(ctx context.Context, req ports.RollbackRequest) (ports.RollbackResult, error) {
	targets := map[string]int{}
	if strings.TrimSpace(req.Good) != "" {
		for _, g := range strings.Split(req.Good, ",") {
			name, v, err := a.parseRef(g)
			if err != nil {
				return ports.RollbackResult{}, err
			}
			targets[name] = v
		}
	} else {
		changes, err := a.Changes(ctx, req.Since, req.Until)
		if err != nil {
			return ports.RollbackResult{}, err
		}
		for i := len(changes) - 1; i >= 0; i-- { // oldest first: the first change per prompt wins
			name, v, err := a.parseRef(changes[i].SHA)
			if err != nil {
				return ports.RollbackResult{}, err
			}
			if _, seen := targets[name]; !seen {
				targets[name] = v - 1
			}
		}
	}
	names := make([]string, 0, len(targets))
	for n, v := range targets {
		if v <= 0 {
			return ports.RollbackResult{}, ports.Permanentf("prompt %s has no version before its first change in the window: nothing to roll back to; pass good: name@version", n)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ports.RollbackResult{NoOp: true, Reason: fmt.Sprintf("no version of the managed prompts was created or promoted to %s in the window", a.opts.Label)}, nil
	}
	res := ports.RollbackResult{Applied: true}
	var good []string
	for _, n := range names {
		cur, err := a.labelled(ctx, n, a.opts.Label)
		if err != nil {
			return res, err
		}
		to := targets[n]
		if cur.Version != to {
			if err := a.moveLabel(ctx, n, to, a.opts.Label); err != nil {
				return res, err
			}
			if cur.Version != 0 {
				res.Reverted = append(res.Reverted, ref(n, cur.Version))
			}
		}
		good = append(good, ref(n, to))
		res.Moves = append(res.Moves, ports.LabelMove{Prompt: n, Label: a.opts.Label, From: cur.Version, To: to})
	}
	res.Good = strings.Join(good, ",")
	return res, nil
}

// EnforceFreeze pins the managed prompts while the adapter's scope is frozen: the first
// enforcement remembers the version each label points at, later ones (the freeze
// workflow's sweep, the webhook) move a label that left its pin back. An unfrozen scope
// forgets its pins.
func (a *Adapter) EnforceFreeze(ctx context.Context, f ports.FreezeEnforcement) (ports.EnforceResult, error) {
	if f.Scope != a.opts.Scope {
		return ports.EnforceResult{Summary: fmt.Sprintf("Langfuse pins scope %s, not %s", a.opts.Scope, f.Scope)}, nil
	}
	var res ports.EnforceResult
	var repins []Repin
	err := a.pins.update(ctx, f.Scope, func(pins map[string]pin) error {
		if !f.Frozen {
			n := len(pins)
			clear(pins)
			res = ports.EnforceResult{Enforced: true, Summary: fmt.Sprintf("Langfuse: %d prompt pins of %s released", n, f.Scope)}
			return nil
		}
		names, err := a.names(ctx)
		if err != nil {
			return err
		}
		var did []string
		for _, n := range names {
			cur, err := a.labelled(ctx, n, a.opts.Label)
			if err != nil {
				return err
			}
			p, ok := pins[n]
			switch {
			case !ok && cur.Version == 0:
				continue // nothing deployed to pin
			case !ok:
				pins[n] = pin{Version: cur.Version, At: a.now()}
				did = append(did, "pinned "+ref(n, cur.Version))
			case cur.Version != p.Version:
				if err := a.moveLabel(ctx, n, p.Version, a.opts.Label); err != nil {
					return err
				}
				did = append(did, fmt.Sprintf("moved %s of %s back from %s to v%d", a.opts.Label, n, versionText(cur.Version), p.Version))
				repins = append(repins, Repin{Scope: f.Scope, Prompt: n, Label: a.opts.Label, From: cur.Version, To: p.Version, Holders: f.Holders})
			}
		}
		summary := "Langfuse: " + a.opts.Label + " labels pinned, unchanged"
		if len(did) > 0 {
			summary = "Langfuse: " + strings.Join(did, "; ")
		}
		res = ports.EnforceResult{Enforced: true, SweepEvery: a.opts.Sweep, Summary: summary}
		return nil
	})
	for _, r := range repins {
		a.opts.Logger.Warn("a prompt label moved during a freeze was moved back", "prompt", r.Prompt, "label", r.Label, "moved_to", r.From, "pinned", r.To, "scope", r.Scope)
		if a.opts.OnRepin != nil {
			a.opts.OnRepin(ctx, r)
		}
	}
	return res, err
}

func versionText(v int) string {
	if v == 0 {
		return "no version"
	}
	return "v" + strconv.Itoa(v)
}

// Pinned returns the pins of scope (tests, status).
func (a *Adapter) Pinned(ctx context.Context, scope string) (map[string]int, error) {
	pins, err := a.pins.load(ctx, scope)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for n, p := range pins {
		out[n] = p.Version
	}
	return out, nil
}

var (
	_ ports.Prompts        = (*Adapter)(nil)
	_ ports.FreezeEnforcer = (*Adapter)(nil)
)

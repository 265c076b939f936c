package app

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/slackapp"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/targets/gateway/litellm"
	"github.com/quench-dev/quench/internal/targets/gateway/portkey"
	"github.com/quench-dev/quench/internal/targets/gateway/routetable"
	"github.com/quench-dev/quench/internal/targets/prompts/github"
	"github.com/quench-dev/quench/internal/targets/prompts/gitrepo"
	promptslangfuse "github.com/quench-dev/quench/internal/targets/prompts/langfuse"
	"github.com/quench-dev/quench/internal/targets/traffic/jsonl"
	trafficlangfuse "github.com/quench-dev/quench/internal/targets/traffic/langfuse"
	"github.com/quench-dev/quench/workflows"
)

// Adapters is the configuration resolved into one instance per port, and what was chosen
// for each, in words. Resolve builds it; the worker, the HTTP server and `quench dev`'s
// start-up summary all read this one value, so what runs and what is said cannot differ.
type Adapters struct {
	// Store is the database every process reaches (config store:): the routing table,
	// evidence and pins live there.
	Store *store.DB
	// Routes is the embedded routing table. It always exists: GET /v1/routes serves it, and
	// it is the gateway unless gateway.kind names another.
	Routes   *routetable.Table
	Gateway  ports.Gateway
	Prompts  ports.Prompts       // nil: no prompts target
	Traffic  ports.Traffic       // nil: no traffic source
	Evidence ports.EvidenceStore // the data dir's directory, or the SQL store (store.kind postgres)
	// FreezeEnforcer makes outside systems hold a freeze (GitHub statuses, Langfuse pins).
	FreezeEnforcer ports.FreezeEnforcer
	// Chat is Slack; nil without slack config, or when ChatErr says why it is unusable.
	Chat    *slackapp.Client
	ChatErr error

	// The adapters that also serve webhooks (POST /hooks/github, /hooks/langfuse).
	GitHub          *github.Adapter
	LangfusePrompts *promptslangfuse.Adapter

	// Choices say, port by port, what was chosen.
	Choices []Choice

	// signals reach incidents when an adapter learns something outside a step (a Langfuse
	// label moved back during a freeze); set by Connect.
	signals atomic.Pointer[signaller]
}

// Choice is what one port uses, e.g. {"Prompts", "GitHub acme/prompts"}.
type Choice struct {
	Port    string `json:"port"`
	Adapter string `json:"adapter"`
}

// Ports, in the order Choices lists them.
const (
	PortGateway = "Gateway"
	PortPrompts = "Prompts"
	PortFreezes = "Freezes"
	PortTraffic = "Traffic"
	PortChat    = "Chat"
)

// Choice returns what port uses ("" when the port is not listed).
func (a *Adapters) Choice(port string) string {
	for _, c := range a.Choices {
		if c.Port == port {
			return c.Adapter
		}
	}
	return ""
}

// Resolve turns the config into one adapter per port, each built once. It resolves
// secrets and opens local stores but calls no remote API: a target that is down at start
// must not keep quench from starting. A config that leaves a choice ambiguous (two prompt
// targets) is an error that says what to change.
//
// Opening the routing table may import (and rename) an old routes.json in the data dir, so
// the caller holds the data dir's lock (internal/datadir) first: exclusive in quench dev,
// shared in worker and server.
func Resolve(cfg *config.Config, logger *slog.Logger) (*Adapters, error) {
	if logger == nil {
		logger = slog.Default()
	}
	a := &Adapters{}
	var err error
	if a.Store, err = OpenStore(cfg); err != nil {
		return nil, err
	}
	// The table lives in the store and opening it changes no route: quench dev and quench
	// setup apply the configured routes (ApplyRoutes); workers and servers only say how
	// their configuration differs (WarnRouteDrift). A routes.json left in the data dir by
	// an older quench is imported once into an empty SQLite store.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if a.Routes, err = routetable.Open(ctx, a.Store, routetable.WithImport(cfg.DataDir), routetable.WithLogger(logger)); err != nil {
		return nil, fmt.Errorf("routing table: %w", err)
	}
	if a.Evidence, err = openEvidence(cfg, a.Store); err != nil {
		return nil, fmt.Errorf("evidence store: %w", err)
	}
	if err := a.resolveGateway(cfg); err != nil {
		return nil, err
	}
	if err := a.resolvePrompts(cfg, logger); err != nil {
		return nil, err
	}
	if err := a.resolveTraffic(cfg); err != nil {
		return nil, err
	}
	a.resolveChat(cfg, logger)
	return a, nil
}

func (a *Adapters) choose(port, format string, args ...any) {
	a.Choices = append(a.Choices, Choice{Port: port, Adapter: fmt.Sprintf(format, args...)})
}

func (a *Adapters) resolveGateway(cfg *config.Config) error {
	var err error
	switch cfg.Gateway.Kind {
	case config.GatewayLiteLLM:
		if a.Gateway, err = openLiteLLM(cfg, a.Store); err != nil {
			return fmt.Errorf("gateway.litellm: %w", err)
		}
		a.choose(PortGateway, "LiteLLM proxy %s (switches by %s)", cfg.Gateway.LiteLLM.URL, orDefault(cfg.Gateway.LiteLLM.Mode, litellm.ModeBlock))
	case config.GatewayPortkey:
		if a.Gateway, err = openPortkey(cfg, a.Store); err != nil {
			return fmt.Errorf("gateway.portkey: %w", err)
		}
		a.choose(PortGateway, "Portkey configs at %s", orDefault(cfg.Gateway.Portkey.URL, portkey.DefaultURL))
	default:
		a.Gateway = a.Routes
		a.choose(PortGateway, "embedded routing table (GET /v1/routes)")
	}
	return nil
}

// Prompt targets, as prompts.kind names them.
const (
	promptsGit      = config.PromptsGit
	promptsGitHub   = config.PromptsGitHub
	promptsLangfuse = config.PromptsLangfuse
)

// promptTargets lists the prompt targets the config sets up, by prompts.kind name, with
// the setting that makes each one count.
func promptTargets(cfg *config.Config) (kinds []string, setting map[string]string) {
	setting = map[string]string{}
	if cfg.GitHub.Enabled() {
		kinds = append(kinds, promptsGitHub)
		setting[promptsGitHub] = "github.repo " + cfg.GitHub.Repo
	}
	if cfg.Prompts.Kind == promptsLangfuse || !reflect.ValueOf(cfg.Prompts.Langfuse).IsZero() {
		kinds = append(kinds, promptsLangfuse)
		setting[promptsLangfuse] = "prompts.langfuse"
	}
	if cfg.Prompts.Repo != "" {
		kinds = append(kinds, promptsGit)
		setting[promptsGit] = "prompts.repo " + cfg.Prompts.Repo
	}
	return kinds, setting
}

// promptsKind is the prompts target the config chooses: prompts.kind when set, else the
// only target configured, else "" for none. Two targets without prompts.kind is an error:
// quench will not pick one silently.
func promptsKind(cfg *config.Config) (string, error) {
	if cfg.Prompts.Kind != "" {
		return cfg.Prompts.Kind, nil
	}
	kinds, setting := promptTargets(cfg)
	switch len(kinds) {
	case 0:
		return "", nil
	case 1:
		return kinds[0], nil
	}
	var settings []string
	for _, k := range kinds {
		settings = append(settings, setting[k])
	}
	which := "both " + strings.Join(kinds, " and ")
	if len(kinds) > 2 {
		which = strings.Join(kinds[:len(kinds)-1], ", ") + " and " + kinds[len(kinds)-1] + " all"
	}
	return "", fmt.Errorf("prompts: %s are configured (%s); remove one or set prompts.kind: github|langfuse|git",
		which, strings.Join(settings, ", "))
}

func (a *Adapters) resolvePrompts(cfg *config.Config, logger *slog.Logger) error {
	kind, err := promptsKind(cfg)
	if err != nil {
		return err
	}
	// GitHub enforces freezes whenever it is configured, even when prompts come from
	// elsewhere: its commit statuses hold the deploys back either way.
	if cfg.GitHub.Enabled() {
		if a.GitHub, err = openGitHub(cfg, logger); err != nil {
			return err
		}
	}
	var enforce []string
	switch kind {
	case promptsGitHub:
		if a.GitHub == nil {
			return fmt.Errorf("prompts.kind: github needs github.repo (owner/name) and a token; or choose another prompts.kind")
		}
		a.Prompts = a.GitHub
		a.choose(PortPrompts, "GitHub %s (%s)", cfg.GitHub.Repo, strings.Join(cfg.GitHub.Paths, ", "))
	case promptsLangfuse:
		if a.LangfusePrompts, err = openLangfusePrompts(cfg, a.Store, logger); err != nil {
			return fmt.Errorf("prompts.langfuse: %w", err)
		}
		a.LangfusePrompts.SetOnRepin(a.noteRepin)
		a.Prompts = a.LangfusePrompts
		lf := cfg.PromptsLangfuse()
		label := orDefault(lf.Label, promptslangfuse.DefaultLabel)
		a.choose(PortPrompts, "Langfuse %s (label %s)", orDefault(lf.URL, promptslangfuse.DefaultURL), label)
		enforce = append(enforce, "Langfuse pins label "+label)
	case promptsGit:
		if cfg.Prompts.Repo == "" {
			a.choose(PortPrompts, "none (prompts.kind is git but prompts.repo is not set; pass --prompts-repo)")
			break
		}
		repo, err := gitrepo.Open(cfg.Prompts.Repo, gitrepo.Options{PromptsPath: cfg.Prompts.Path, BaseBranch: cfg.Prompts.Branch})
		if err != nil {
			return fmt.Errorf("prompts repository: %w", err)
		}
		a.Prompts = repo
		a.choose(PortPrompts, "git repository %s (%s)", cfg.Prompts.Repo, cfg.Prompts.Path)
	case "":
		a.choose(PortPrompts, "none (pass --prompts-repo to enable rollback proposals)")
	default:
		return fmt.Errorf("prompts.kind: %q is not github, langfuse or git", kind)
	}
	if kinds, setting := promptTargets(cfg); cfg.Prompts.Kind != "" {
		for _, k := range kinds {
			if k != kind && k != promptsGitHub { // GitHub still enforces freezes, said below
				a.Choices[len(a.Choices)-1].Adapter += fmt.Sprintf("; %s is not used (prompts.kind is %s)", setting[k], kind)
			}
		}
	}

	if a.GitHub != nil {
		enforce = append([]string{fmt.Sprintf("GitHub %s statuses (%s) for scope %s", cfg.GitHub.Repo, cfg.GitHub.StatusContext, cfg.GitHub.FreezeScope)}, enforce...)
	}
	switch {
	case a.GitHub != nil && a.LangfusePrompts != nil:
		a.FreezeEnforcer = enforcers{a.GitHub, a.LangfusePrompts}
	case a.GitHub != nil:
		a.FreezeEnforcer = a.GitHub
	case a.LangfusePrompts != nil:
		a.FreezeEnforcer = a.LangfusePrompts
	}
	if len(enforce) > 0 {
		a.choose(PortFreezes, "enforced on %s", strings.Join(enforce, " and "))
	}
	return nil
}

func (a *Adapters) resolveTraffic(cfg *config.Config) error {
	var err error
	switch cfg.Traffic.Kind {
	case config.TrafficPrometheus:
		if a.Traffic, err = openPrometheus(cfg); err != nil {
			return fmt.Errorf("traffic.prometheus: %w", err)
		}
		a.choose(PortTraffic, "Prometheus %s", cfg.Traffic.Prometheus.URL)
	case config.TrafficLangfuse:
		if a.Traffic, err = openLangfuseTraffic(cfg); err != nil {
			return fmt.Errorf("traffic.langfuse: %w", err)
		}
		a.choose(PortTraffic, "Langfuse observations at %s", orDefault(cfg.Traffic.Langfuse.URL, trafficlangfuse.DefaultURL))
	default:
		if cfg.Traffic.Log == "" {
			a.choose(PortTraffic, "none (pass --traffic-log to enable evidence snapshots)")
			return nil
		}
		a.Traffic = jsonl.New(cfg.Traffic.Log)
		a.choose(PortTraffic, "JSONL log %s", cfg.Traffic.Log)
	}
	return nil
}

// resolveChat builds the Slack client. An unusable token is not fatal here: the worker
// runs incidents without chat (their announcement fails once with the fix on the
// timeline), while the HTTP server, which must answer Slack, refuses to start.
func (a *Adapters) resolveChat(cfg *config.Config, logger *slog.Logger) {
	a.Chat, a.ChatErr = slackChat(cfg, logger)
	switch {
	case a.ChatErr != nil:
		a.choose(PortChat, "Slack is configured but unusable: %v", a.ChatErr)
	case a.Chat != nil:
		a.choose(PortChat, "Slack: %s", slackSummary(cfg))
	default:
		a.choose(PortChat, "none (approvals by CLI or HTTP API; configure slack: for cards in Slack)")
	}
}

// signaller is the part of a Temporal client the adapters use.
type signaller interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
}

// Connect gives the adapters the Temporal client they signal incidents with. The worker
// and the HTTP server call it; in one process they share one cluster, so the first wins.
func (a *Adapters) Connect(c signaller) {
	if c == nil {
		return
	}
	a.signals.CompareAndSwap(nil, &c)
}

// noteRepin tells the incidents holding a freeze that a Langfuse label moved during it
// was moved back.
func (a *Adapters) noteRepin(ctx context.Context, r promptslangfuse.Repin) {
	c := a.signals.Load()
	if c == nil {
		slog.Default().Warn("a prompt label was moved back during a freeze, but no Temporal client is connected to note it", "prompt", r.Prompt)
		return
	}
	noteRepin(ctx, r, func(ctx context.Context, holder string, n workflows.Note) error {
		return (*c).SignalWorkflow(ctx, holder, "", workflows.SignalNote, n)
	})
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

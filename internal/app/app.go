// Package app is quench's composition root: Resolve turns a Config into one adapter per
// port (and says what it chose); NewWorker and HTTPServer build the worker and the HTTP
// server over those adapters. `quench dev`, `worker`, `server`, `bench`, `demo` and the
// end-to-end tests all start from Resolve.
package app

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/api"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/ingest"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/slackapp"
	providerprobe "github.com/quench-dev/quench/internal/targets/probe"
	"github.com/quench-dev/quench/internal/web"
	"github.com/quench-dev/quench/runbooks"
	"github.com/quench-dev/quench/workflows"
)

// WorkerOptions tune the worker for fast recovery after a crash.
func WorkerOptions() worker.Options {
	return worker.Options{
		// A crashed worker's sticky queue is abandoned after this, so another worker (or the
		// restarted one) picks the incident up within seconds, not the 5 s default.
		StickyScheduleToStartTimeout: time.Second,
		WorkerStopTimeout:            10 * time.Second,
	}
}

// WorkflowCacheSize is how many workflow executions a quench process keeps in memory
// between their workflow tasks (the SDK's sticky cache, shared by every worker of the
// process; the SDK's default is 10,000). Each costs about 75 KiB of live heap and stacks
// (two goroutines, the SDK's state, the interpreter's state), more in RSS. An incident
// past it, the least recently active, is evicted and replayed from its history on its
// next task: one history fetch and a re-run of the interpreter, the path every incident
// takes after a restart (approve -> step done 19-35 ms then, issue 13), longer as the
// history nears its continue-as-new limit (8,000 events). Larger
// than a burst of outages (500 at once, each cached from its start to its switch), so a
// burst does not evict its own incidents.
const WorkflowCacheSize = 512

// SetWorkflowCacheSize sizes the process's workflow cache (n <= 0: WorkflowCacheSize). The
// SDK reads it when the first worker of the process starts (or the first after all
// stopped); in a process with the embedded server, that is the server's own system
// worker, so devstack calls it before the server starts. NewWorker calls it when nothing
// did.
func SetWorkflowCacheSize(n int) {
	if n <= 0 {
		n = WorkflowCacheSize
	}
	cacheSized.Store(true)
	worker.SetStickyWorkflowCacheSize(n)
}

var cacheSized atomic.Bool

// NewWorker builds a worker running quench's workflows and activities over the resolved
// adapters. Dial c with TemporalClientOptions: without its query-task interceptor, a status
// query can fail with a nondeterminism error (querytask.go).
func NewWorker(c client.Client, cfg *config.Config, a *Adapters, policy activities.Policy, logger *slog.Logger) worker.Worker {
	if !cacheSized.Load() {
		SetWorkflowCacheSize(0)
	}
	w := worker.New(c, workflows.TaskQueue, WorkerOptions())
	workflows.Register(w)
	a.Connect(c)
	linkIncidentsToUI(a.GitHub, cfg, policy.UIURL)
	deps := activities.Deps{
		Gateway:        a.Gateway,
		Freezer:        incidents.Freezer{Temporal: c},
		Evidence:       a.Evidence,
		Policy:         policy,
		Logger:         logger,
		FreezeEnforcer: a.FreezeEnforcer,
	}
	// A nil adapter must stay a nil interface: the activities test for it.
	if a.Prompts != nil {
		deps.Prompts = a.Prompts
	}
	if a.Traffic != nil {
		deps.Traffic = a.Traffic
	}
	if len(cfg.Probes) > 0 {
		// The config was validated, so this fails only on a URL that no longer parses.
		if set, err := providerprobe.NewSet(cfg.Probes); err != nil && logger != nil {
			logger.Warn("the fail back's probes are off; health comes from the traffic source", "err", err)
		} else if err == nil {
			deps.Probes = set
			if logger != nil {
				names := make([]string, 0, len(set))
				for name, p := range set {
					names = append(names, name+" ("+p.Source()+")")
				}
				sort.Strings(names)
				logger.Info("the fail back measures these providers with their probe", "probes", strings.Join(names, ", "))
			}
		}
	}
	if a.Chat != nil && a.ChatErr == nil {
		// notify posts through the card's client, so both share one pace per channel.
		deps.Notifier = a.Chat
	}
	activities.Register(w, deps)
	registerChat(w, a, logger)
	return w
}

// PolicyFrom builds the incident policy from the config. open admits anyone to an approver
// group the config does not define: `quench dev` without a config file, so a newcomer can
// approve; four-eyes still holds. The caller adds the trusted decision keys
// (Decisions.Keys): without them no decision counts.
func PolicyFrom(cfg *config.Config, open bool, uiURL string) activities.Policy {
	people, _ := cfg.PeopleMap() // checked when the config was loaded
	return activities.Policy{
		Groups:          cfg.Approvers,
		People:          people,
		ExternalGroups:  externalGroups(cfg),
		OpenGroups:      open,
		EscalationGroup: cfg.EscalationGroup,
		ChatEnabled:     cfg.Slack.Enabled(),
		UIURL:           uiURL,
	}
}

// HTTP is the HTTP server and what `quench dev`/`server` report about it at start.
type HTTP struct {
	Server *http.Server
	// Registry holds quench's metrics, served at /metrics.
	Registry *prometheus.Registry
	Hooks    *ingest.Handler
	// UnauthenticatedHooks are the hook sources that accept posts without credentials
	// (loopback, or hooks.allow_unauthenticated).
	UnauthenticatedHooks []string
	// HookSources are the enabled hook sources.
	HookSources []string
	// Slack handles Slack's commands and clicks (nil without slack config); Socket Mode uses it too.
	Slack *slackapp.Handler
	// Readiness serves /readyz.
	Readiness *Readiness
	// Page is the incident page at / (internal/web).
	Page *web.Handler
}

// HTTPOptions are what only some processes give the HTTP server.
type HTTPOptions struct {
	// Dev is quench dev's local CLI credential (nil for quench server).
	Dev *api.DevCredential
	// ReadyChecks are what /readyz asks besides Temporal (a shared store, say).
	ReadyChecks []ReadyCheck
	// EagerIngest: a worker runs on the incidents client (dialed with
	// TemporalClientOptions), so ingest starts a new group's incident eagerly with its alerts
	// in the input (ingest.DispatchOptions.EagerStart). quench dev; not quench server.
	EagerIngest bool
	// UIURL is the Temporal Web UI's base URL, for the incident page's links ("" for none).
	UIURL string
	// SoleIngest: no other process ingests into this store (quench dev holds its data dir),
	// so the alert inbox takes over a previous process's rows at start without waiting for
	// its lease to lapse (ingest.InboxOptions.Sole).
	SoleIngest bool
}

// HTTPServer builds the HTTP server (API, alert webhooks, routes, health, metrics). It
// refuses to serve the API without tokens, or a hook without credentials, on an address
// other machines can reach, unless the config says so explicitly.
func HTTPServer(cfg *config.Config, svc *incidents.Service, a *Adapters, logger *slog.Logger) (*HTTP, error) {
	return HTTPServerWith(cfg, svc, a, logger, HTTPOptions{})
}

// APIIdentity is the identity of the api.tokens entry name: api:<name>, or the name as it
// is when it already says what it is ("cli:alice").
func APIIdentity(name string) string {
	if strings.Contains(name, ":") {
		return name
	}
	return "api:" + name
}

// HTTPServerWith is HTTPServer with the options of a particular process.
func HTTPServerWith(cfg *config.Config, svc *incidents.Service, a *Adapters, logger *slog.Logger, opts HTTPOptions) (*HTTP, error) {
	tokens := map[string]string{}
	for who, ref := range cfg.API.Tokens {
		v, err := config.Secret(ref)
		if err != nil {
			return nil, fmt.Errorf("api.tokens.%s: %w", who, err)
		}
		tokens[APIIdentity(who)] = v
	}
	if len(tokens) == 0 && !config.IsLoopback(cfg.HTTP.Listen) {
		return nil, fmt.Errorf("refusing to serve the API on %s without authentication: configure api.tokens, or listen on 127.0.0.1", cfg.HTTP.Listen)
	}
	hooks, err := hookOptions(cfg)
	if err != nil {
		return nil, err
	}
	open, err := cfg.UnauthenticatedHooks()
	if err != nil {
		return nil, err
	}
	if len(open) > 0 && !config.IsLoopback(cfg.HTTP.Listen) {
		logger.Warn("alert webhooks accept unauthenticated posts on a non-loopback address (hooks.allow_unauthenticated)", "sources", open, "listen", cfg.HTTP.Listen)
	}

	reg := NewRegistry()
	metrics := ingest.NewMetrics(reg)
	hooks.Runbooks = svc.Runbooks
	hooks.Metrics = metrics
	hooks.Logger = logger.With("component", "ingest")
	inbox, err := openInbox(a, opts, hooks.Logger)
	if err != nil {
		return nil, err
	}
	dispatcher := ingest.NewDispatcher(svc.Temporal, svc, ingest.DispatchOptions{Metrics: metrics, Logger: hooks.Logger,
		EagerStart: opts.EagerIngest, Inbox: inbox})
	if err := recoverInbox(dispatcher, hooks.Logger); err != nil {
		dispatcher.Close()
		return nil, err
	}
	hooks.Dispatcher = dispatcher
	hookHandler := ingest.NewHandler(hooks)

	a.Connect(svc.Temporal)
	if svc.Gateway == nil {
		// Starts through the API, Slack and the hooks are refused when a step needs what
		// the gateway cannot do, and the incident's conditions read what it can.
		svc.Gateway = GatewayReporter(a.Gateway)
	}
	if svc.Routes == nil && a.Gateway == ports.Gateway(a.Routes) {
		// The embedded table is the gateway: the API and Slack refuse unknown routes
		// against the live table, as the CLI does against its config.
		svc.Routes = a.Routes
	}
	listenHost, _, _ := net.SplitHostPort(cfg.HTTP.Listen)
	apiHandler := api.New(api.Options{Incidents: svc, Routes: a.Routes.Handler(), Tokens: tokens, Dev: opts.Dev,
		Hosts:    api.Hosts{Names: cfg.HTTP.Hosts, ListenHost: listenHost},
		Registry: reg, UnmatchedAlerts: hookHandler.Unmatched().Handler(), Logger: logger,
		Evidence: a.Evidence})
	mux := http.NewServeMux()
	mux.Handle("/hooks/", hookHandler)
	slack, err := slackHandler(mux, cfg, a, svc, logger)
	if err != nil {
		return nil, err
	}
	readiness := NewReadiness(readyChecks(svc, append(storeReadyChecks(a), opts.ReadyChecks...))...)
	// Outside the API's Host check: probes reach a pod by its IP.
	mux.Handle("GET /readyz", readiness)
	mux.Handle("/", apiHandler)
	page, err := mountPage(mux, cfg, svc, a, tokens, api.Hosts{Names: cfg.HTTP.Hosts, ListenHost: listenHost}, opts.UIURL, logger)
	if err != nil {
		return nil, err
	}
	if err := mountGitHubHook(mux, cfg, a.GitHub, svc, logger); err != nil {
		return nil, err
	}
	mountLangfuseHook(mux, cfg, a.LangfusePrompts, svc)
	h := &HTTP{
		// Every route (hooks, Slack, GitHub too) refuses cross-origin browser requests and
		// paths with .. segments; the Host check is the API's own (webhook senders reach
		// quench by whatever name or address they were given).
		Server:               &http.Server{Addr: cfg.HTTP.Listen, Handler: api.Guard(mux, logger), ReadHeaderTimeout: 5 * time.Second},
		Registry:             reg,
		Hooks:                hookHandler,
		UnauthenticatedHooks: open,
		Slack:                slack,
		Readiness:            readiness,
		Page:                 page,
	}
	// Live streams of the page end when the server shuts down.
	h.Server.RegisterOnShutdown(page.Close)
	// Long-polls of /v1/routes answer at once when the server shuts down.
	h.Server.RegisterOnShutdown(a.Routes.Close)
	// What is delivered leaves the inbox; the rest waits for the next process.
	h.Server.RegisterOnShutdown(dispatcher.Close)
	for _, source := range config.HookSources {
		if !hooks.Disabled[source] {
			h.HookSources = append(h.HookSources, source)
		}
	}
	return h, nil
}

// Listen binds the HTTP server's address now, so a port in use is reported at start.
func Listen(srv *http.Server) (net.Listener, error) {
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (is another quench running? set http.listen or --http)", srv.Addr, err)
	}
	return ln, nil
}

// Runbooks loads the runbook library of the config.
func Runbooks(cfg *config.Config) (*runbooks.Library, error) {
	return runbooks.LoadLibrary(cfg.RunbooksDir)
}

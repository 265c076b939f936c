// Package config reads quench's one configuration file (YAML) and its environment.
// Secrets never live in the file: a secret field holds "env:NAME" or "file:/path", resolved
// by Secret at the point of use.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. Zero values mean "the embedded default".
type Config struct {
	// DataDir holds the embedded Temporal database, the routing table and evidence.
	DataDir string `yaml:"data_dir"`
	// RunbooksDir adds the user's runbooks to the built-in ones.
	RunbooksDir string   `yaml:"runbooks_dir"`
	Temporal    Temporal `yaml:"temporal"`
	HTTP        HTTP     `yaml:"http"`
	// Approvers maps an approver group to its members: people (names in People) or
	// identities ("alice" is cli:alice; "slack:U123", "api:deploy-bot").
	Approvers map[string][]string `yaml:"approvers"`
	// People maps a person to the identities they use (cli:alice, slack:U0123ALICE,
	// api:deploy-bot): quorum counts people and four-eyes compares them.
	People map[string][]string `yaml:"people"`
	// Decisions configures the key that signs approvals.
	Decisions Decisions `yaml:"decisions"`
	// EscalationGroup is told when an approval times out.
	EscalationGroup string  `yaml:"escalation_group"`
	Gateway         Gateway `yaml:"gateway"`
	Prompts         Prompts `yaml:"prompts"`
	Traffic         Traffic `yaml:"traffic"`
	API             API     `yaml:"api"`
	Hooks           Hooks   `yaml:"hooks"`
	GitHub          GitHub  `yaml:"github"`
	Slack           Slack   `yaml:"slack"`
	Dev             Dev     `yaml:"dev"`
	// Web is the incident page at / (its public URL and OIDC sign-in).
	Web Web `yaml:"web"`
	// Store is where state shared by every process lives (SQLite in the data dir, or
	// PostgreSQL for replicas on several hosts).
	Store Store `yaml:"store"`
	// Probes measure a provider directly (probes.<provider>) before a fail back to it.
	Probes map[string]Probe `yaml:"probes"`

	// Path is the file this was read from ("" when none).
	Path string `yaml:"-"`
}

// Temporal says where the cluster is. Address, namespace, TLS and API key can also come
// from the Temporal SDK's environment variables (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, TEMPORAL_TLS*), which win over the file.
type Temporal struct {
	Address   string `yaml:"address"`
	Namespace string `yaml:"namespace"`
	// Dev-server ports (quench dev only).
	UIPort int `yaml:"ui_port"`
	// Retention of closed incidents on the embedded server.
	Retention string `yaml:"retention"`
}

// HTTP is the ingress/API listener.
type HTTP struct {
	Listen string `yaml:"listen"`
	// Hosts are the names the API answers to in the Host header ("quench.example",
	// "quench.example:8443"), besides localhost, 127.0.0.1 and [::1] and the listen address
	// at its port. A request naming any other host is refused (DNS rebinding).
	Hosts []string `yaml:"hosts"`
}

// Dev holds settings for local development only.
type Dev struct {
	// AllowAs lets the CLI act as another identity with --as through quench dev's local
	// credential, so one developer can play several approvers. Never on a shared quench.
	AllowAs bool `yaml:"allow_as"`
}

// Gateway configures the embedded routing table: route -> providers, first is primary.
type Gateway struct {
	Routes map[string][]string `yaml:"routes"`
	// Kind: embedded (default), litellm or portkey (see llm.go).
	Kind    string  `yaml:"kind"`
	LiteLLM LiteLLM `yaml:"litellm"`
	Portkey Portkey `yaml:"portkey"`
}

// Prompts configures the prompts target: a local git repository, or the kind chosen.
type Prompts struct {
	Repo   string `yaml:"repo"`
	Path   string `yaml:"path"`
	Branch string `yaml:"branch"`
	// Kind: git, github or langfuse (see llm.go); empty: the one target configured.
	Kind     string          `yaml:"kind"`
	Langfuse LangfusePrompts `yaml:"langfuse"`
}

// Traffic configures the JSONL request log.
type Traffic struct {
	Log string `yaml:"log"`
	// Kind: jsonl (default), langfuse or prometheus (see llm.go).
	Kind       string          `yaml:"kind"`
	Langfuse   LangfuseTraffic `yaml:"langfuse"`
	Prometheus Prometheus      `yaml:"prometheus"`
}

// API configures the HTTP API: its callers (server side) and where the CLI finds it
// (client side).
type API struct {
	// Tokens maps a caller's name to its token's secret reference. The caller's identity is
	// api:<name> (or the name itself when it has a prefix, e.g. "cli:alice").
	Tokens map[string]string `yaml:"tokens"`
	// URL is the quench server the CLI acts through (https://quench.example); empty: the
	// local credential of quench dev in the data dir.
	URL string `yaml:"url"`
	// Token is the CLI's token for URL, as a secret reference (env:QUENCH_API_TOKEN).
	Token string `yaml:"token"`
}

// Hooks configures the alert webhooks, POST /hooks/{source}.
type Hooks struct {
	// AllowUnauthenticated accepts posts to a source without credentials on a non-loopback
	// listener. On loopback they are accepted anyway (quench dev).
	AllowUnauthenticated bool `yaml:"allow_unauthenticated"`
	// MaxBodyBytes caps a webhook's body (default 1 MiB).
	MaxBodyBytes int      `yaml:"max_body_bytes"`
	Alertmanager HookAuth `yaml:"alertmanager"`
	Grafana      HookAuth `yaml:"grafana"`
	PagerDuty    HookAuth `yaml:"pagerduty"`
	Datadog      HookAuth `yaml:"datadog"`
	Generic      HookAuth `yaml:"generic"`
	// LiteLLM and LangfuseAlerts take alerts from the LLM stack itself (POST /hooks/litellm,
	// /hooks/langfuse_alerts). Added after the others, they are opt-in on a listener other
	// machines reach: without credentials there they are off (404), not a refusal to start.
	LiteLLM        HookAuth `yaml:"litellm"`
	LangfuseAlerts HookAuth `yaml:"langfuse_alerts"`
}

// HookAuth is one source's credentials, as secret references (env:NAME or file:/path).
type HookAuth struct {
	Token      string `yaml:"token"`       // bearer token the sender presents
	HMACSecret string `yaml:"hmac_secret"` // the sender's signature secret
	// Disabled turns the source's hook off (404), so a listener open to the network need
	// not hold credentials for a source nobody uses.
	Disabled bool `yaml:"disabled"`
}

// HookSources are the webhook sources, in the order quench lists them.
var HookSources = []string{"alertmanager", "grafana", "pagerduty", "datadog", "generic", "litellm", "langfuse_alerts"}

// optInHookSources are off on a non-loopback listener until given credentials (or
// hooks.allow_unauthenticated), so a config written before they existed keeps starting.
var optInHookSources = map[string]bool{"litellm": true, "langfuse_alerts": true}

// Source returns a source's credentials by its name in HookSources.
func (h Hooks) Source(name string) (HookAuth, bool) {
	switch name {
	case "alertmanager":
		return h.Alertmanager, true
	case "grafana":
		return h.Grafana, true
	case "pagerduty":
		return h.PagerDuty, true
	case "datadog":
		return h.Datadog, true
	case "generic":
		return h.Generic, true
	case "litellm":
		return h.LiteLLM, true
	case "langfuse_alerts":
		return h.LangfuseAlerts, true
	}
	return HookAuth{}, false
}

// HookOff reports whether a source's hook is off, and why: hooks.<source>.disabled, or an
// opt-in source without credentials on a listener other machines reach.
func (c *Config) HookOff(source string) (bool, string) {
	auth, _ := c.Hooks.Source(source)
	if auth.Disabled {
		return true, fmt.Sprintf("hooks.%s.disabled in the config", source)
	}
	if optInHookSources[source] && !auth.HasCredentials() && !IsLoopback(c.HTTP.Listen) && !c.Hooks.AllowUnauthenticated {
		return true, fmt.Sprintf("it has no credentials and quench listens on %s: set hooks.%s.%s (env:NAME or file:/path) to turn it on",
			c.HTTP.Listen, source, map[bool]string{true: "hmac_secret", false: "token"}[source == "langfuse_alerts"])
	}
	return false, ""
}

// HasCredentials reports whether the source is configured with a token or an HMAC secret.
func (a HookAuth) HasCredentials() bool { return a.Token != "" || a.HMACSecret != "" }

// Defaults.
const (
	DefaultDataDir   = "./quench-data"
	DefaultAddress   = "127.0.0.1:7233"
	DefaultNamespace = "default"
	DefaultListen    = "127.0.0.1:8080"
	DefaultUIPort    = 8233
	DefaultRetention = "720h"
	DefaultPromptDir = "prompts/"
	// DefaultMaxHookBody is hooks.max_body_bytes unless set.
	DefaultMaxHookBody = 1 << 20
)

// DefaultRoutes is the routing table a fresh `quench dev` serves.
func DefaultRoutes() map[string][]string {
	return map[string][]string{"chat": {"primary", "fallback"}}
}

// Load reads path ("" = $QUENCH_CONFIG, else ./quench.yaml if it exists, else defaults).
func Load(path string) (*Config, error) {
	explicit := path != ""
	if path == "" {
		if p := os.Getenv("QUENCH_CONFIG"); p != "" {
			path, explicit = p, true
		} else if _, err := os.Stat("quench.yaml"); err == nil {
			path = "quench.yaml"
		}
	}
	c := &Config{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			if explicit || !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("read config: %w (pass --config or unset QUENCH_CONFIG)", err)
			}
		} else {
			dec := yaml.NewDecoder(bytes.NewReader(data))
			dec.KnownFields(true)
			if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
				return nil, fmt.Errorf("config %s: %w", path, err)
			}
			c.Path = path
		}
	}
	c.applyDefaults()
	return c, c.validate()
}

func (c *Config) applyDefaults() {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Temporal.Address == "" {
		c.Temporal.Address = DefaultAddress
	}
	if c.Temporal.Namespace == "" {
		c.Temporal.Namespace = DefaultNamespace
	}
	if c.Temporal.UIPort == 0 {
		c.Temporal.UIPort = DefaultUIPort
	}
	if c.Temporal.Retention == "" {
		c.Temporal.Retention = DefaultRetention
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = DefaultListen
	}
	if len(c.Gateway.Routes) == 0 {
		c.Gateway.Routes = DefaultRoutes()
	}
	if c.Prompts.Path == "" {
		c.Prompts.Path = DefaultPromptDir
	}
	if c.Hooks.MaxBodyBytes == 0 {
		c.Hooks.MaxBodyBytes = DefaultMaxHookBody
	}
	c.GitHub.applyDefaults()
}

func (c *Config) validate() error {
	var problems []string
	for route, providers := range c.Gateway.Routes {
		if len(providers) == 0 {
			problems = append(problems, fmt.Sprintf("gateway.routes.%s: list at least one provider", route))
		}
	}
	for group, members := range c.Approvers {
		if len(members) == 0 {
			problems = append(problems, fmt.Sprintf("approvers.%s: the group has no members", group))
		}
	}
	for who, ref := range c.API.Tokens {
		if !isSecretRef(ref) {
			problems = append(problems, fmt.Sprintf("api.tokens.%s: write env:NAME or file:/path, never the token itself", who))
		}
	}
	problems = append(problems, c.API.problems()...)
	for _, h := range c.HTTP.Hosts {
		if h == "" || strings.ContainsAny(h, "/ @") {
			problems = append(problems, fmt.Sprintf("http.hosts: %q is not a host name: write quench.example or quench.example:8443", h))
		}
	}
	for _, source := range HookSources {
		auth, _ := c.Hooks.Source(source)
		if auth.Token != "" && !isSecretRef(auth.Token) {
			problems = append(problems, fmt.Sprintf("hooks.%s.token: write env:NAME or file:/path, never the token itself", source))
		}
		if auth.HMACSecret != "" && !isSecretRef(auth.HMACSecret) {
			problems = append(problems, fmt.Sprintf("hooks.%s.hmac_secret: write env:NAME or file:/path, never the secret itself", source))
		}
	}
	if c.Hooks.MaxBodyBytes < 0 {
		problems = append(problems, fmt.Sprintf("hooks.max_body_bytes: %d is negative; leave it out for the 1 MiB default", c.Hooks.MaxBodyBytes))
	}
	problems = append(problems, c.GitHub.problems()...)
	problems = append(problems, c.Slack.problems()...)
	problems = append(problems, c.trustProblems()...)
	problems = append(problems, c.llmProblems()...)
	problems = append(problems, c.Store.problems()...)
	problems = append(problems, c.Web.problems()...)
	problems = append(problems, probesProblems(c.Probes)...)
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return fmt.Errorf("config %s:\n  %s", c.Path, strings.Join(problems, "\n  "))
}

func isSecretRef(ref string) bool {
	return strings.HasPrefix(ref, "env:") || strings.HasPrefix(ref, "file:")
}

// Secret resolves "env:NAME" or "file:/path" to the secret's value.
func Secret(ref string) (string, error) {
	switch {
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return "", fmt.Errorf("secret: environment variable %s is not set", name)
		}
		return v, nil
	case strings.HasPrefix(ref, "file:"):
		b, err := os.ReadFile(strings.TrimPrefix(ref, "file:"))
		if err != nil {
			return "", fmt.Errorf("secret: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	default:
		return "", errors.New("secret: reference must be env:NAME or file:/path")
	}
}

// Under returns p relative to the data dir unless it is absolute.
func (c *Config) Under(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.DataDir, p)
}

// IsLoopback reports whether a listen address only accepts local connections.
func IsLoopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// UnauthenticatedHooks lists the enabled hook sources that have no credentials: posts to
// them are accepted without authentication. That is refused (an error saying what to set)
// on a listener reachable from other machines, unless hooks.allow_unauthenticated says so.
func (c *Config) UnauthenticatedHooks() ([]string, error) {
	var open []string
	for _, source := range HookSources {
		auth, _ := c.Hooks.Source(source)
		if off, _ := c.HookOff(source); !off && !auth.HasCredentials() {
			open = append(open, source)
		}
	}
	if len(open) == 0 || IsLoopback(c.HTTP.Listen) || c.Hooks.AllowUnauthenticated {
		return open, nil
	}
	return open, fmt.Errorf("refusing to accept unauthenticated alert webhooks on %s: %s %s no credentials. "+
		"For each, set hooks.<source>.token or hooks.<source>.hmac_secret (env:NAME or file:/path) or hooks.<source>.disabled: true; "+
		"or listen on 127.0.0.1; or set hooks.allow_unauthenticated: true if a proxy in front authenticates them",
		c.HTTP.Listen, strings.Join(open, ", "), map[bool]string{true: "has", false: "have"}[len(open) == 1])
}

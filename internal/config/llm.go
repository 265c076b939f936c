package config

import (
	"fmt"
	"time"
)

// Kinds of targets (gateway.kind, traffic.kind, prompts.kind).
const (
	GatewayEmbedded = "embedded" // the routing table in the data dir (default)
	GatewayLiteLLM  = "litellm"
	GatewayPortkey  = "portkey"

	TrafficJSONL      = "jsonl" // the JSONL request log (default)
	TrafficLangfuse   = "langfuse"
	TrafficPrometheus = "prometheus"

	// Without prompts.kind the one prompts target configured is used; two are an error.
	PromptsGit      = "git" // a local git repository (prompts.repo)
	PromptsGitHub   = "github"
	PromptsLangfuse = "langfuse"
)

// LiteLLM configures the LiteLLM proxy gateway (gateway.kind: litellm).
type LiteLLM struct {
	URL       string `yaml:"url"`        // e.g. http://litellm:4000
	MasterKey string `yaml:"master_key"` // secret reference
	// Mode is how a route is switched: block (block every deployment of the model group
	// but the target's) or order (give the target the lowest litellm_params.order).
	Mode string `yaml:"mode"`
	// Routes maps a quench route to a LiteLLM model group (default: the same name).
	Routes  map[string]string `yaml:"routes"`
	Timeout string            `yaml:"timeout"`
}

// Portkey configures the Portkey configs gateway (gateway.kind: portkey).
type Portkey struct {
	URL    string `yaml:"url"`     // default https://api.portkey.ai/v1
	APIKey string `yaml:"api_key"` // secret reference
	// Routes maps a quench route to a config slug (default: the same name).
	Routes  map[string]string `yaml:"routes"`
	Timeout string            `yaml:"timeout"`
}

// Langfuse is a Langfuse project's public API (traffic.langfuse, prompts.langfuse).
type Langfuse struct {
	URL       string `yaml:"url"`        // default https://cloud.langfuse.com
	PublicKey string `yaml:"public_key"` // secret reference
	SecretKey string `yaml:"secret_key"` // secret reference
	Timeout   string `yaml:"timeout"`
}

// LangfuseTraffic reads traffic from Langfuse observations (traffic.kind: langfuse).
type LangfuseTraffic struct {
	Langfuse        `yaml:",inline"`
	PageSize        int      `yaml:"page_size"`
	MaxObservations int      `yaml:"max_observations"`
	ProviderKeys    []string `yaml:"provider_keys"` // metadata keys naming the provider
	RouteKey        string   `yaml:"route_key"`     // metadata key naming the route
	Environment     string   `yaml:"environment"`
}

// LangfusePrompts deploys prompts by label in Langfuse (prompts.kind: langfuse). Keys left
// empty are taken from traffic.langfuse.
type LangfusePrompts struct {
	Langfuse      `yaml:",inline"`
	Prompts       []string `yaml:"prompts"` // managed prompts; empty: all
	Label         string   `yaml:"label"`   // default production
	Scope         string   `yaml:"scope"`   // the freeze scope that pins them; default prompts
	WebhookSecret string   `yaml:"webhook_secret"`
	Sweep         string   `yaml:"sweep"` // re-check of the pins while frozen; default 1m
}

// Prometheus reads traffic from a Prometheus HTTP API (traffic.kind: prometheus).
type Prometheus struct {
	URL         string `yaml:"url"`
	BearerToken string `yaml:"bearer_token"` // secret reference, optional
	Username    string `yaml:"username"`     // basic auth, optional
	Password    string `yaml:"password"`     // secret reference
	Selector    string `yaml:"selector"`     // extra label matchers, e.g. env="prod"
	ErrorStatus string `yaml:"error_status"` // regexp of failed statuses; default 5..|429|timeout
	Metrics     struct {
		Requests     string `yaml:"requests"`
		Duration     string `yaml:"duration"`
		OutputTokens string `yaml:"output_tokens"`
		Cost         string `yaml:"cost"`
	} `yaml:"metrics"`
	Timeout string `yaml:"timeout"`
}

// Duration parses a config duration ("" is zero).
func Duration(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration such as 30s", field, v)
	}
	return d, nil
}

func (c *Config) llmProblems() []string {
	var p []string
	secret := func(field, ref string, required bool) {
		switch {
		case ref == "" && required:
			p = append(p, fmt.Sprintf("%s: required (env:NAME or file:/path)", field))
		case ref != "" && !isSecretRef(ref):
			p = append(p, fmt.Sprintf("%s: write env:NAME or file:/path, never the secret itself", field))
		}
	}
	url := func(field, v string) {
		if v == "" {
			p = append(p, fmt.Sprintf("%s: required, e.g. http://host:port", field))
		}
	}
	duration := func(field, v string) {
		if _, err := Duration(field, v); err != nil {
			p = append(p, err.Error())
		}
	}
	switch c.Gateway.Kind {
	case "", GatewayEmbedded:
	case GatewayLiteLLM:
		url("gateway.litellm.url", c.Gateway.LiteLLM.URL)
		secret("gateway.litellm.master_key", c.Gateway.LiteLLM.MasterKey, true)
		if m := c.Gateway.LiteLLM.Mode; m != "" && m != "block" && m != "order" {
			p = append(p, fmt.Sprintf("gateway.litellm.mode: %q is not block or order", m))
		}
		duration("gateway.litellm.timeout", c.Gateway.LiteLLM.Timeout)
	case GatewayPortkey:
		secret("gateway.portkey.api_key", c.Gateway.Portkey.APIKey, true)
		duration("gateway.portkey.timeout", c.Gateway.Portkey.Timeout)
	default:
		p = append(p, fmt.Sprintf("gateway.kind: %q is not embedded, litellm or portkey", c.Gateway.Kind))
	}
	switch c.Traffic.Kind {
	case "", TrafficJSONL:
	case TrafficLangfuse:
		secret("traffic.langfuse.public_key", c.Traffic.Langfuse.PublicKey, true)
		secret("traffic.langfuse.secret_key", c.Traffic.Langfuse.SecretKey, true)
		duration("traffic.langfuse.timeout", c.Traffic.Langfuse.Timeout)
	case TrafficPrometheus:
		url("traffic.prometheus.url", c.Traffic.Prometheus.URL)
		secret("traffic.prometheus.bearer_token", c.Traffic.Prometheus.BearerToken, false)
		secret("traffic.prometheus.password", c.Traffic.Prometheus.Password, c.Traffic.Prometheus.Username != "")
		duration("traffic.prometheus.timeout", c.Traffic.Prometheus.Timeout)
	default:
		p = append(p, fmt.Sprintf("traffic.kind: %q is not jsonl, langfuse or prometheus", c.Traffic.Kind))
	}
	switch c.Prompts.Kind {
	case "", PromptsGit:
	case PromptsGitHub:
		if !c.GitHub.Enabled() {
			p = append(p, "prompts.kind: github needs github.repo (owner/name) and github.token or github.app")
		}
	case PromptsLangfuse:
		lf := c.PromptsLangfuse()
		secret("prompts.langfuse.public_key", lf.PublicKey, true)
		secret("prompts.langfuse.secret_key", lf.SecretKey, true)
		secret("prompts.langfuse.webhook_secret", lf.WebhookSecret, false)
		duration("prompts.langfuse.timeout", lf.Timeout)
		duration("prompts.langfuse.sweep", lf.Sweep)
	default:
		p = append(p, fmt.Sprintf("prompts.kind: %q is not git, github or langfuse", c.Prompts.Kind))
	}
	return p
}

// PromptsLangfuse is prompts.langfuse with the connection filled in from traffic.langfuse
// where it is left out.
func (c *Config) PromptsLangfuse() LangfusePrompts {
	lf := c.Prompts.Langfuse
	t := c.Traffic.Langfuse.Langfuse
	if lf.URL == "" {
		lf.URL = t.URL
	}
	if lf.PublicKey == "" && lf.SecretKey == "" {
		lf.PublicKey, lf.SecretKey = t.PublicKey, t.SecretKey
	}
	if lf.Timeout == "" {
		lf.Timeout = t.Timeout
	}
	return lf
}

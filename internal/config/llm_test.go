package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func loadLLMConfig(t *testing.T, body string) (*Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quench.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

func TestLLMTargetsConfig(t *testing.T) {
	c, err := loadLLMConfig(t, `
gateway:
  kind: litellm
  litellm: {url: "http://litellm:4000", master_key: env:LITELLM_MASTER_KEY, mode: order, routes: {chat: gpt-4o}, timeout: 10s}
traffic:
  kind: prometheus
  prometheus: {url: "http://prom:9090", selector: 'env="prod"', metrics: {requests: my_requests_total}}
  langfuse: {public_key: env:LF_PK, secret_key: env:LF_SK, page_size: 200}
prompts:
  kind: langfuse
  langfuse: {prompts: [summarise], webhook_secret: env:LF_WH}
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Gateway.LiteLLM.Routes["chat"] != "gpt-4o" || c.Traffic.Prometheus.Metrics.Requests != "my_requests_total" || c.Traffic.Langfuse.PageSize != 200 {
		t.Fatalf("decoded %+v", c)
	}
	if lf := c.PromptsLangfuse(); lf.PublicKey != "env:LF_PK" || lf.Prompts[0] != "summarise" {
		t.Fatalf("prompts.langfuse does not inherit traffic.langfuse's keys: %+v", lf)
	}
}

func TestLLMTargetsConfigProblems(t *testing.T) {
	_, err := loadLLMConfig(t, `
gateway: {kind: kong}
traffic:
  kind: langfuse
  langfuse: {public_key: pk-lf-123, secret_key: env:LF_SK, timeout: soon}
prompts:
  kind: langfuse
  langfuse: {webhook_secret: whsec_literal}
`)
	if err == nil {
		t.Fatal("a bad config was accepted")
	}
	for _, want := range []string{
		`gateway.kind: "kong" is not embedded, litellm or portkey`,
		"traffic.langfuse.public_key: write env:NAME or file:/path",
		`traffic.langfuse.timeout: "soon" is not a duration`,
		"prompts.langfuse.webhook_secret: write env:NAME or file:/path",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	_, err = loadLLMConfig(t, "gateway: {kind: litellm}\ntraffic: {kind: prometheus}\n")
	for _, want := range []string{"gateway.litellm.url: required", "gateway.litellm.master_key: required", "traffic.prometheus.url: required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

package config

import (
	"strings"
	"testing"
	"time"
)

func TestProbesLoadWithDefaults(t *testing.T) {
	c, err := loadYAML(t, `probes:
  primary:
    url: https://api.primary.example/v1/chat/completions
    method: post
    body: '{"max_tokens":1}'
    headers:
      Authorization: env:PRIMARY_AUTH
    expect_status: [200, 201]
    requests: 8
    timeout: 2s
  fallback:
    url: http://127.0.0.1:9000/health
`)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Probes["primary"]
	if p.MethodOrDefault() != "POST" || p.RequestsOrDefault() != 8 || p.TimeoutOrDefault() != 2*time.Second || len(p.ExpectOrDefault()) != 2 {
		t.Fatalf("primary probe: %+v", p)
	}
	f := c.Probes["fallback"]
	if f.MethodOrDefault() != "GET" || f.RequestsOrDefault() != DefaultProbeRequests || f.TimeoutOrDefault() != DefaultProbeTimeout || f.ExpectOrDefault()[0] != 200 {
		t.Fatalf("defaults not applied: %+v", f)
	}
}

func TestProbesRejectInlineSecretsAndBadValues(t *testing.T) {
	for name, tc := range map[string]struct{ body, want string }{
		"inline header":     {"probes:\n  p:\n    url: https://a.example\n    headers:\n      Authorization: Bearer sk-live-123\n", "probes.p.headers.Authorization: write env:NAME"},
		"no url":            {"probes:\n  p:\n    requests: 3\n", "probes.p.url: required"},
		"not http":          {"probes:\n  p:\n    url: ftp://a.example/x?key=sk-live-123\n", "probes.p.url: not an http(s) URL"},
		"user in url":       {"probes:\n  p:\n    url: https://user:sk-live-123@a.example/\n", "probes.p.url: holds credentials"},
		"clear text":        {"probes:\n  p:\n    url: http://a.example/\n    headers:\n      X-Key: env:K\n", "clear text"},
		"method":            {"probes:\n  p:\n    url: https://a.example\n    method: DELETE\n", "probes.p.method"},
		"body without post": {"probes:\n  p:\n    url: https://a.example\n    body: x\n", "probes.p.body"},
		"status":            {"probes:\n  p:\n    url: https://a.example\n    expect_status: [42]\n", "probes.p.expect_status: 42"},
		"too many":          {"probes:\n  p:\n    url: https://a.example\n    requests: 500\n", "probes.p.requests: 500"},
		"negative":          {"probes:\n  p:\n    url: https://a.example\n    requests: -1\n", "probes.p.requests: -1"},
		"timeout":           {"probes:\n  p:\n    url: https://a.example\n    timeout: forever\n", "probes.p.timeout"},
		"long timeout":      {"probes:\n  p:\n    url: https://a.example\n    timeout: 1m\n", "probes.p.timeout: 1m"},
		"unknown key":       {"probes:\n  p:\n    url: https://a.example\n    retries: 3\n", "retries"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadYAML(t, tc.body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error with %q, got %v", tc.want, err)
			}
			if strings.Contains(err.Error(), "sk-live-123") {
				t.Fatalf("the error repeats a secret: %v", err)
			}
		})
	}
}

package dev

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/config/configtest"
	"github.com/quench-dev/quench/internal/devstack"
)

// The summary prints what app.Resolve chose. With GitHub and Langfuse both configured and
// prompts.kind: langfuse, the prompts line says Langfuse (it used to say GitHub).
func TestSummaryPrintsTheResolvedChoices(t *testing.T) {
	t.Setenv("QUENCH_TEST_GH_TOKEN", "tok")
	t.Setenv("QUENCH_TEST_LF", "key")
	cfg := configtest.Load(t, t.TempDir(), "github:\n  repo: acme/prompts\n  token: env:QUENCH_TEST_GH_TOKEN\n"+
		"traffic:\n  kind: langfuse\n  langfuse: {public_key: env:QUENCH_TEST_LF, secret_key: env:QUENCH_TEST_LF}\nprompts:\n  kind: langfuse\n")
	a, err := app.Resolve(cfg, nil)
	require.NoError(t, err)

	var out bytes.Buffer
	writeSummary(&out, summary{
		Addresses: devstack.Addresses{Temporal: "127.0.0.1:41001", Namespace: "default", HTTP: "127.0.0.1:41002"},
		Web:       &app.HTTP{HookSources: []string{"alertmanager", "generic"}, UnauthenticatedHooks: []string{"generic"}},
		DataDir:   cfg.DataDir, Runbooks: []string{"provider-outage", "prompt-regression"}, Choices: a.Choices,
		Page: "http://127.0.0.1:41002/", PageLogin: "http://127.0.0.1:41002/login/once?token=t0k",
	})
	lines := strings.Split(out.String(), "\n")
	line := func(label string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, "  "+label+":") {
				return strings.TrimSpace(strings.TrimPrefix(l, "  "+label+":"))
			}
		}
		t.Fatalf("no %s line in:\n%s", label, out.String())
		return ""
	}
	assert.Equal(t, "127.0.0.1:41001 (namespace default)", line("Temporal"))
	assert.Equal(t, "http://127.0.0.1:41002  (API /api/v1, routes /v1/routes, /healthz, /readyz, /metrics)", line("HTTP"))
	assert.Equal(t, "POST /hooks/{alertmanager,generic}", line("Hooks"))
	assert.Equal(t, "http://127.0.0.1:41002/  (incidents, approvals, evidence)", line("Page"))
	assert.Contains(t, out.String(), "              sign in once: http://127.0.0.1:41002/login/once?token=t0k\n")
	assert.Equal(t, "2 (provider-outage, prompt-regression)", line("Runbooks"))
	for _, c := range a.Choices {
		assert.Equal(t, c.Adapter, line(c.Port), "the %s line is not Resolve's description", c.Port)
	}
	assert.True(t, strings.HasPrefix(line("Prompts"), "Langfuse "), line("Prompts"))
	assert.Contains(t, line("Freezes"), "GitHub acme/prompts")
	assert.True(t, strings.HasPrefix(line("Traffic"), "Langfuse observations"), line("Traffic"))
	assert.NotContains(t, out.String(), "Web UI:", "no UI line without a UI")
}

func TestAddressFileIsJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), AddressFile)
	want := devstack.Addresses{Temporal: "127.0.0.1:41001", Namespace: "default", HTTP: "127.0.0.1:41002", UI: "http://127.0.0.1:41003"}
	require.NoError(t, writeAddresses(path, want))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var got devstack.Addresses
	require.NoError(t, json.Unmarshal(data, &got))
	assert.Equal(t, want, got)
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "the temporary file is gone after the rename")
}

func TestSummarySaysWhetherTheUIWrites(t *testing.T) {
	for _, writes := range []bool{false, true} {
		var out bytes.Buffer
		writeSummary(&out, summary{
			Addresses:      devstack.Addresses{Temporal: "127.0.0.1:7233", Namespace: "default", HTTP: "127.0.0.1:8080", UI: "http://127.0.0.1:8233"},
			UIWriteActions: writes, Web: &app.HTTP{}, Choices: nil,
		})
		if writes {
			assert.Contains(t, out.String(), "  Web UI:     http://127.0.0.1:8233\n              write actions ON (--ui-write-actions)")
		} else {
			assert.Contains(t, out.String(), "  Web UI:     http://127.0.0.1:8233\n              read-only: terminate, cancel, signal, update, reset, start and batch are off (--ui-write-actions turns them on)")
		}
	}
}

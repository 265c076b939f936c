package devserver

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// uiSettings are the switches of the UI server's /api/v1/settings answer that can change a
// workflow.
type uiSettings struct {
	DisableWriteActions       bool
	WorkflowTerminateDisabled bool
	WorkflowCancelDisabled    bool
	WorkflowSignalDisabled    bool
	WorkflowUpdateDisabled    bool
	WorkflowResetDisabled     bool
	WorkflowPauseDisabled     bool
	BatchActionsDisabled      bool
	StartWorkflowDisabled     bool
	ActivityCommandsDisabled  bool
}

// startUIOnly serves the Web UI against a frontend address nothing listens on: the
// settings and the write refusal are the UI server's own, no Temporal needed.
func startUIOnly(t *testing.T, writeActions bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	nowhere := ln.Addr().String()
	require.NoError(t, ln.Close())
	port, err := uiPortNow("127.0.0.1", 0)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ui, err := startWebUI(ctx, uiOptions{bindIP: "127.0.0.1", dialIP: "127.0.0.1", port: port,
		frontendAddr: nowhere, namespace: DefaultNamespace, writeActions: writeActions})
	require.NoError(t, err)
	t.Cleanup(ui.stop)
	return "http://127.0.0.1:" + strconv.Itoa(port)
}

func settingsOf(t *testing.T, base string) (uiSettings, map[string]any) {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/settings")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var raw map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&raw))
	var s uiSettings
	data, _ := json.Marshal(raw)
	require.NoError(t, json.Unmarshal(data, &s))
	return s, raw
}

// terminate posts what the UI's Terminate button posts. The Authorization header is what
// a script would send; the UI server skips its CSRF check for it, so only the write
// switch stands between the request and the frontend.
func terminate(t *testing.T, base string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/namespaces/default/workflows/incident-1/terminate",
		strings.NewReader(`{"reason":"from the UI"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer anything")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestWebUIWriteActionsAreOffByDefault(t *testing.T) {
	base := startUIOnly(t, false)
	s, raw := settingsOf(t, base)
	v := reflect.ValueOf(s)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		require.Contains(t, raw, name, "the UI server no longer reports %s: check the ui-server upgrade", name)
		assert.True(t, v.Field(i).Bool(), "%s must be on without --ui-write-actions", name)
	}
	assert.Equal(t, http.StatusMethodNotAllowed, terminate(t, base), "the UI server itself must refuse a write")
}

func TestWebUIWriteActionsWithTheFlag(t *testing.T) {
	base := startUIOnly(t, true)
	s, _ := settingsOf(t, base)
	assert.Equal(t, uiSettings{}, s, "every write action is allowed with --ui-write-actions")
	// The write now goes through to the frontend: nothing listens there, hence 503.
	assert.Equal(t, http.StatusServiceUnavailable, terminate(t, base))
}

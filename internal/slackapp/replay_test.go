package slackapp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/internal/incidents"
)

// A signed /quench start replayed within the window: acknowledged, and nothing new. On
// another quench process (no shared memory) the replay still lands in the same incident,
// because the start's key comes from the command's trigger_id.
func TestReplayedSlashCommandStartsOneIncident(t *testing.T) {
	app := newTestApp(t)
	body := commandBody("UALICE", "start provider-outage route=chat", app.fake.ResponseURL("start"))
	first := signed(t, app.server.URL+"/slack/commands", testSecret, time.Now(), body)
	replay := first.Clone(context.Background())
	replay.Body = io.NopCloser(strings.NewReader(body))
	upper := first.Clone(context.Background()) // the same signature, spelled in upper case
	upper.Body = io.NopCloser(strings.NewReader(body))
	upper.Header.Set("X-Slack-Signature", "v0="+strings.ToUpper(strings.TrimPrefix(first.Header.Get("X-Slack-Signature"), "v0=")))

	code, answer := do(t, first)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, answer, "Working on")
	app.handler.Wait()
	for _, req := range []*http.Request{replay, upper} {
		code, answer = do(t, req)
		if code == http.StatusUnauthorized {
			continue // the verifier refused the re-spelled signature: also nothing done
		}
		require.Equal(t, http.StatusOK, code, "a replay is acknowledged")
		assert.Contains(t, answer, "nothing new happened")
	}
	app.handler.Wait()
	require.Len(t, app.svc.starts, 1, "one start")
	require.Len(t, app.fake.Responses(), 1, "one answer through response_url")
	assert.Contains(t, app.fake.Responses()[0].Msg.Text, "started incident")
	want := incidents.StartRequest{Runbook: "provider-outage", Params: map[string]string{"route": "chat"},
		Requester: "slack:UALICE", Source: "slack", Key: "slack-command:T1:trig-1", KeyOnce: true}
	assert.Equal(t, want, app.svc.starts[0])

	// The same replay at a second quench server: it starts with the same key, so the same
	// incident ID (and KeyOnce: not even after that incident closed).
	other := &Handler{Incidents: app.svc, API: app.handler.API, Logger: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(HTTPHandler(other, testSecret))
	t.Cleanup(srv.Close)
	again, err := http.NewRequest(http.MethodPost, srv.URL+"/slack/commands", strings.NewReader(body))
	require.NoError(t, err)
	again.Header = first.Header.Clone()
	code, _ = do(t, again)
	require.Equal(t, http.StatusOK, code)
	other.Wait()
	require.Len(t, app.svc.starts, 2)
	assert.Equal(t, want, app.svc.starts[1])
	idA, err := incidents.IncidentID("provider-outage", app.svc.starts[0])
	require.NoError(t, err)
	idB, err := incidents.IncidentID("provider-outage", app.svc.starts[1])
	require.NoError(t, err)
	assert.Equal(t, idA, idB, "one incident")

	// A new invocation (its own trigger_id) is a new start.
	fresh := strings.Replace(body, "trig-1", "trig-9", 1)
	code, _ = do(t, signed(t, app.server.URL+"/slack/commands", testSecret, time.Now(), fresh))
	require.Equal(t, http.StatusOK, code)
	app.handler.Wait()
	require.Len(t, app.svc.starts, 3)
	assert.Equal(t, "slack-command:T1:trig-9", app.svc.starts[2].Key)
}

func TestSeenCacheExpiresAndStaysBounded(t *testing.T) {
	c := newSeenCache(3)
	now := time.Unix(1_700_000_000, 0)
	assert.True(t, c.firstTime("a", now.Add(time.Minute), now))
	assert.False(t, c.firstTime("a", now.Add(time.Minute), now.Add(30*time.Second)), "seen within its window")
	assert.True(t, c.firstTime("a", now.Add(3*time.Minute), now.Add(time.Minute)), "forgotten once expired")
	for i := range 10 {
		c.firstTime(fmt.Sprint("k", i), now.Add(time.Hour+time.Duration(i)*time.Second), now.Add(time.Minute))
	}
	assert.LessOrEqual(t, c.len(), 3, "bounded")
	assert.False(t, c.firstTime("k9", now.Add(time.Hour), now.Add(2*time.Minute)), "the newest entries are kept")
}

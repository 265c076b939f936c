package slackapp

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/quench-dev/quench/workflows"
)

// Socket Mode offline: slack-go's client opens a connection through apps.connections.open
// on the fake, which points it at the fake's websocket server; envelopes go down, acks come
// back with the same handlers' answers.
func TestSocketModeServesTheSameHandlers(t *testing.T) {
	app := newTestApp(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunSocketMode(ctx, app.handler, SocketOptions{AppToken: "xapp-test", BotToken: "xoxb-test",
			APIURL: app.fake.APIURL(), Logger: slog.New(slog.DiscardHandler)})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	require.True(t, app.fake.Socket.WaitConnected(10*time.Second), "the client connected")
	open := app.fake.Calls("apps.connections.open")
	require.NotEmpty(t, open)
	assert.Equal(t, "xapp-test", open[0].Token, "Socket Mode opens with the app-level token")

	// A slash command: the ack carries the immediate answer.
	id, err := app.fake.Socket.Send("slash_commands", map[string]any{"command": "/quench", "text": "help", "user_id": "UALICE"})
	require.NoError(t, err)
	payload, ok := app.fake.Socket.WaitAck(id, 10*time.Second)
	require.True(t, ok, "the envelope was acknowledged")
	var msg struct {
		Text         string `json:"text"`
		ResponseType string `json:"response_type"`
	}
	require.NoError(t, json.Unmarshal(payload, &msg))
	assert.Equal(t, "ephemeral", msg.ResponseType)
	assert.Contains(t, msg.Text, "/quench start RUNBOOK")

	// A click: acked empty, then decided as the clicker.
	click := map[string]any{
		"type": "block_actions", "trigger_id": "trig", "user": map[string]any{"id": "UALICE"}, "channel": map[string]any{"id": "C1"},
		"actions": []map[string]any{{"action_id": ActionApprove, "block_id": "b", "value": failbackButton().encode(), "type": "button"}},
	}
	id, err = app.fake.Socket.Send("interactive", click)
	require.NoError(t, err)
	_, ok = app.fake.Socket.WaitAck(id, 10*time.Second)
	require.True(t, ok)
	app.handler.Wait()
	accepted, _, _ := app.svc.snapshot()
	require.Len(t, accepted, 1)
	assert.Equal(t, "slack:UALICE", accepted[0].Approver)
	assert.Equal(t, workflows.VerdictApprove, accepted[0].Verdict)
}

// A redelivered envelope (same envelope_id) is acknowledged and does nothing more.
func TestSocketModeRedeliveryActsOnce(t *testing.T) {
	app := newTestApp(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunSocketMode(ctx, app.handler, SocketOptions{AppToken: "xapp-test", BotToken: "xoxb-test",
			APIURL: app.fake.APIURL(), Logger: slog.New(slog.DiscardHandler)})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	require.True(t, app.fake.Socket.WaitConnected(10*time.Second))
	cmd := map[string]any{"command": "/quench", "text": "start provider-outage", "user_id": "UALICE",
		"trigger_id": "trig-socket", "team_id": "T1", "response_url": app.fake.ResponseURL("sock")}
	id, err := app.fake.Socket.Send("slash_commands", cmd)
	require.NoError(t, err)
	first, ok := app.fake.Socket.WaitAck(id, 10*time.Second)
	require.True(t, ok)
	assert.Contains(t, string(first), "Working on")
	require.NoError(t, app.fake.Socket.Redeliver(id, "slash_commands", cmd))
	second, ok := app.fake.Socket.WaitAck(id, 10*time.Second)
	require.True(t, ok, "the redelivery is acknowledged")
	assert.Contains(t, string(second), "nothing new happened")
	app.handler.Wait()
	app.svc.mu.Lock()
	defer app.svc.mu.Unlock()
	require.Len(t, app.svc.starts, 1)
	assert.Equal(t, "slack-command:T1:trig-socket", app.svc.starts[0].Key)
}

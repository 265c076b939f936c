package slackfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Socket is a Socket Mode server speaking Slack's envelope protocol: it greets a client
// with "hello", sends envelopes (envelope_id, type, payload) and records the acks
// ({"envelope_id", "payload"}) the client sends back.
type Socket struct {
	url      string
	upgrader websocket.Upgrader

	mu      sync.Mutex
	conn    *websocket.Conn
	acks    map[string]json.RawMessage
	seq     int
	changed chan struct{}
	closed  bool
}

func newSocket() *Socket {
	return &Socket{acks: map[string]json.RawMessage{}, changed: make(chan struct{}),
		// slack-go dials with Origin: https://api.slack.com, as Slack expects.
		upgrader: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}}
}

// ServeHTTP accepts a client's websocket and says hello.
func (s *Socket) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	hello := map[string]any{"type": "hello", "num_connections": 1,
		"connection_info": map[string]any{"app_id": "A1"}, "debug_info": map[string]any{"host": "fake"}}
	if err := conn.WriteJSON(hello); err != nil {
		conn.Close()
		return
	}
	s.mu.Lock()
	s.conn = conn
	s.notify()
	s.mu.Unlock()
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		var ack struct {
			EnvelopeID string          `json:"envelope_id"`
			Payload    json.RawMessage `json:"payload"`
		}
		if json.Unmarshal(data, &ack) != nil || ack.EnvelopeID == "" {
			continue
		}
		s.mu.Lock()
		if ack.Payload == nil {
			ack.Payload = json.RawMessage("null")
		}
		s.acks[ack.EnvelopeID] = ack.Payload
		s.notify()
		s.mu.Unlock()
	}
}

func (s *Socket) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// WaitConnected waits for a client to connect.
func (s *Socket) WaitConnected(timeout time.Duration) bool {
	return s.wait(timeout, func() bool { return s.conn != nil })
}

// Send sends an envelope of type ("slash_commands", "interactive") and returns its ID.
func (s *Socket) Send(typ string, payload any) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return "", fmt.Errorf("no Socket Mode client is connected")
	}
	s.seq++
	id := fmt.Sprintf("env-%d", s.seq)
	env := map[string]any{"envelope_id": id, "type": typ, "payload": payload, "accepts_response_payload": true, "retry_attempt": 0}
	return id, s.conn.WriteJSON(env)
}

// Redeliver sends an envelope again with the same ID, as Slack does when it saw no ack in
// time; the envelope's earlier ack is forgotten so WaitAck waits for the new one.
func (s *Socket) Redeliver(id, typ string, payload any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return fmt.Errorf("no Socket Mode client is connected")
	}
	delete(s.acks, id)
	env := map[string]any{"envelope_id": id, "type": typ, "payload": payload, "accepts_response_payload": true,
		"retry_attempt": 1, "retry_reason": "timeout"}
	return s.conn.WriteJSON(env)
}

// WaitAck waits for the ack of an envelope and returns its payload.
func (s *Socket) WaitAck(id string, timeout time.Duration) (json.RawMessage, bool) {
	ok := s.wait(timeout, func() bool { _, ok := s.acks[id]; return ok })
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acks[id], ok
}

func (s *Socket) wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		ok, ch := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

func (s *Socket) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && !s.closed {
		s.closed = true
		s.conn.Close()
	}
}

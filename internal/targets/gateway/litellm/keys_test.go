package litellm

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store/storetest"
	"github.com/quench-dev/quench/internal/targets/gateway/gwstate"
	"github.com/quench-dev/quench/internal/targets/gateway/litellm/litellmfake"
	"github.com/quench-dev/quench/internal/targets/httpapi/apifake"
)

func blockReq(agent, holder, key string) ports.BlockRequest {
	return ports.BlockRequest{Route: "chat", AgentKey: agent, Holder: holder, Key: key}
}

// A block and its unblock leave the key exactly as it was: an absent flag absent (not
// false), a false flag false.
func TestKeyBlockUnblockIsByteIdentical(t *testing.T) {
	for name, cols := range map[string]litellmfake.Key{
		"absent": {"key_alias": "agent-7", "spend": 1.5},
		"false":  {"key_alias": "agent-7", "blocked": false, "metadata": map[string]any{"team": "x"}},
	} {
		t.Run(name, func(t *testing.T) {
			s := proxy(t)
			token := s.AddKey("sk-agent-7-secret", cols)
			g := gateway(t, s, ModeBlock)
			if why := g.Cannot(ports.CapBlockKey); why != "" {
				t.Fatalf("LiteLLM says it cannot block: %s", why)
			}
			before := s.KeyState(token)
			ch, err := g.Block(context.Background(), blockReq("agent-7", "inc-a", "inc-a/block"))
			if err != nil || ch.NoOp || !ch.Blocked {
				t.Fatalf("block: %+v %v", ch, err)
			}
			if !strings.Contains(string(s.KeyState(token)), `"blocked":true`) {
				t.Fatalf("the key is not blocked on the proxy: %s", s.KeyState(token))
			}
			posts := s.Count("POST", "")
			// A retried step answers the first result without touching the proxy again.
			if again, err := g.Block(context.Background(), blockReq("agent-7", "inc-a", "inc-a/block")); err != nil || again != ch {
				t.Fatalf("retried block: %+v %v, want %+v", again, err, ch)
			}
			if s.Count("POST", "") != posts {
				t.Fatal("a retried block wrote to the proxy again")
			}
			un, err := g.Unblock(context.Background(), blockReq("agent-7", "inc-a", "inc-a/undo"))
			if err != nil || un.NoOp || un.Blocked {
				t.Fatalf("unblock: %+v %v", un, err)
			}
			if after := s.KeyState(token); !bytes.Equal(after, before) {
				t.Fatalf("not restored byte for byte:\nbefore %s\nafter  %s", before, after)
			}
			for _, c := range s.Calls() {
				if strings.Contains(string(c.Body), "sk-agent-7-secret") || strings.Contains(c.Query, "sk-") {
					t.Fatalf("the secret key was sent: %s %s %s", c.Method, c.Path, c.Body)
				}
			}
		})
	}
}

func TestKeyBlockedByOthersIsLeftAlone(t *testing.T) {
	s := proxy(t)
	token := s.AddKey("sk-x", litellmfake.Key{"key_alias": "agent-7", "blocked": true})
	g := gateway(t, s, ModeBlock)
	ch, err := g.Block(context.Background(), blockReq(token, "inc-a", "inc-a/block"))
	if err != nil || !ch.NoOp || !ch.Blocked || !strings.Contains(ch.Note, "not by this incident") {
		t.Fatalf("block of a blocked key: %+v %v", ch, err)
	}
	un, err := g.Unblock(context.Background(), blockReq(token, "inc-a", "inc-a/undo"))
	if err != nil || !un.NoOp || !un.Blocked {
		t.Fatalf("unblock of a key this incident did not block: %+v %v", un, err)
	}
	if !strings.Contains(string(s.KeyState(token)), `"blocked":true`) {
		t.Fatalf("someone else's block was lifted: %s", s.KeyState(token))
	}
}

// 429 and 5xx: nothing half done, and a retry after a lost answer knows the block is the
// incident's own (so its undo is registered and lifts it).
func TestKeyBlockFaults(t *testing.T) {
	s := proxy(t)
	token := s.AddKey("sk-y", litellmfake.Key{"key_alias": "agent-9"})
	before := s.KeyState(token)
	g := gateway(t, s, ModeBlock)
	ctx := context.Background()

	s.Inject(apifake.Fault{Method: "POST", Path: "/key/block", Code: 429, RetryAfter: "7"})
	_, err := g.Block(ctx, blockReq("agent-9", "inc-b", "inc-b/block"))
	if d, ok := ports.RetryDelay(err); err == nil || ports.IsPermanent(err) || !ok || d.Seconds() != 7 {
		t.Fatalf("429: %v (delay %v %v)", err, d, ok)
	}
	if !bytes.Equal(s.KeyState(token), before) {
		t.Fatalf("a refused block changed the key: %s", s.KeyState(token))
	}
	// The block lands but reading it back fails (503): the retry finds it blocked and
	// finishes it as this incident's block.
	s.Inject(apifake.Fault{Method: "GET", Path: "/key/info", Code: 503, Skip: 1})
	if _, err := g.Block(ctx, blockReq("agent-9", "inc-b", "inc-b/block")); err == nil || ports.IsPermanent(err) {
		t.Fatalf("read-back 503: %v, want a retryable error", err)
	}
	ch, err := g.Block(ctx, blockReq("agent-9", "inc-b", "inc-b/block"))
	if err != nil || ch.NoOp || !ch.Blocked {
		t.Fatalf("retry after a lost answer: %+v %v", ch, err)
	}
	s.Inject(apifake.Fault{Method: "POST", Path: "/key/update", Code: 500})
	if _, err := g.Unblock(ctx, blockReq("agent-9", "inc-b", "inc-b/undo")); err == nil || ports.IsPermanent(err) {
		t.Fatalf("unblock 500: %v", err)
	}
	if _, err := g.Unblock(ctx, blockReq("agent-9", "inc-b", "inc-b/undo")); err != nil {
		t.Fatalf("retried unblock: %v", err)
	}
	if after := s.KeyState(token); !bytes.Equal(after, before) {
		t.Fatalf("not restored byte for byte after faults:\nbefore %s\nafter  %s", before, after)
	}
}

func TestKeyBlockRefusesWhatNamesNoKey(t *testing.T) {
	s := proxy(t)
	s.AddKey("sk-1", litellmfake.Key{"key_alias": "twin"})
	s.AddKey("sk-2", litellmfake.Key{"key_alias": "twin"})
	g := gateway(t, s, ModeBlock)
	for agent, want := range map[string]string{
		"sk-live-secret": "secret key",
		"nobody":         "no key with key_alias",
		"twin":           "more than one",
		"a\nb":           "one line",
	} {
		_, err := g.Block(context.Background(), blockReq(agent, "inc", "inc/"+agent))
		if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("block %q: %v, want a permanent error about %q", agent, err, want)
		}
	}
	if s.Count("POST", "/key/") != 0 {
		t.Fatal("a refused block wrote to the proxy")
	}
}

// Workers share what a block found through the store: the unblock on another worker puts
// the key back byte for byte, and a retry of the block on it answers the first result.
func TestKeyBlockOnOneWorkerUnblockOnAnother(t *testing.T) {
	s := proxy(t)
	token := s.AddKey("sk-z", litellmfake.Key{"key_alias": "agent-3"})
	before := s.KeyState(token)
	db := storetest.SQLite(t)
	worker := func() *gwstate.Gateway {
		g, err := New(Options{URL: s.URL, MasterKey: key, Store: db})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	a, b := worker(), worker()
	ctx := context.Background()
	first, err := a.Block(ctx, blockReq("agent-3", "inc-c", "inc-c/block"))
	if err != nil || first.NoOp {
		t.Fatalf("block on A: %+v %v", first, err)
	}
	if again, err := b.Block(ctx, blockReq("agent-3", "inc-c", "inc-c/block")); err != nil || again != first {
		t.Fatalf("retried block on B: %+v %v, want %+v", again, err, first)
	}
	if _, err := b.Unblock(ctx, blockReq("agent-3", "inc-c", "inc-c/undo")); err != nil {
		t.Fatal(err)
	}
	if after := s.KeyState(token); !bytes.Equal(after, before) {
		t.Fatalf("not restored byte for byte across workers:\nbefore %s\nafter  %s", before, after)
	}
}

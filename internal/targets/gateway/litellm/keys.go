package litellm

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/quench-dev/quench/internal/ports"
)

// A LiteLLM virtual key is blocked for the whole proxy (POST /key/block, /key/unblock with
// {"key": ...}), not per model group: gateway.block on LiteLLM stops the key on every route.
//
// The step's key param names the key without its secret, which would otherwise go into the
// incident's history: by its key_alias (GET /key/list?key_alias=) or by its token, the
// SHA-256 hex the proxy stores and accepts in place of the key. A raw key (sk-...) is refused.

var tokenHash = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ResolveKey turns the key param into the key's token.
func (r *remote) ResolveKey(ctx context.Context, agentKey string) (string, error) {
	k := strings.TrimSpace(agentKey)
	switch {
	case k == "":
		return "", ports.Permanentf("no key given to block on the LiteLLM proxy")
	case strings.HasPrefix(k, "sk-"):
		return "", ports.Permanentf("the key param holds a LiteLLM secret key (sk-...), which would go into the incident's history: name the key by its key_alias or its token (the SHA-256 hex shown by /key/info)")
	case len(k) > 200 || strings.ContainsAny(k, "\r\n\t"):
		return "", ports.Permanentf("key %.40q... is not a LiteLLM key alias or token: at most 200 characters, one line", k)
	case tokenHash.MatchString(k):
		return k, nil
	}
	var list struct {
		Keys []json.RawMessage `json:"keys"`
	}
	q := url.Values{"key_alias": {k}, "return_full_object": {"true"}, "size": {"2"}}
	if _, err := r.api.Do(ctx, http.MethodGet, "/key/list", q, nil, &list); err != nil {
		return "", err
	}
	var tokens []string
	for _, raw := range list.Keys {
		var obj struct {
			Token    string `json:"token"`
			KeyAlias string `json:"key_alias"`
		}
		// An older proxy answers token strings and ignores full objects; only objects
		// whose alias matches count.
		if json.Unmarshal(raw, &obj) == nil && obj.KeyAlias == k && obj.Token != "" {
			tokens = append(tokens, obj.Token)
		}
	}
	switch len(tokens) {
	case 0:
		return "", ports.Permanentf("the LiteLLM proxy has no key with key_alias %q: give the alias of the agent's virtual key, or its token (a proxy whose /key/list has no key_alias filter needs the token)", k)
	case 1:
		return tokens[0], nil
	}
	return "", ports.Permanentf("more than one LiteLLM key has key_alias %q: give the token of the one to block", k)
}

// ReadKeyBlocked reads the key's blocked flag (GET /key/info).
func (r *remote) ReadKeyBlocked(ctx context.Context, ref string) (json.RawMessage, error) {
	var resp struct {
		Info map[string]json.RawMessage `json:"info"`
	}
	if _, err := r.api.Do(ctx, http.MethodGet, "/key/info", url.Values{"key": {ref}}, nil, &resp); err != nil {
		return nil, err
	}
	if resp.Info == nil {
		return nil, ports.Permanentf("the LiteLLM proxy answered /key/info without the key's info")
	}
	return compact(resp.Info["blocked"]), nil
}

// WriteKeyBlocked sets the flag: /key/block and /key/unblock for true and false, and
// /key/update with blocked null for a flag that was absent, so a block and its unblock
// leave the key exactly as it was.
func (r *remote) WriteKeyBlocked(ctx context.Context, ref string, blocked json.RawMessage) error {
	var err error
	switch string(blocked) {
	case "true":
		_, err = r.api.Do(ctx, http.MethodPost, "/key/block", nil, map[string]string{"key": ref}, nil)
	case "false":
		_, err = r.api.Do(ctx, http.MethodPost, "/key/unblock", nil, map[string]string{"key": ref}, nil)
	default:
		_, err = r.api.Do(ctx, http.MethodPost, "/key/update", nil, map[string]any{"key": ref, "blocked": nil}, nil)
	}
	return err
}

// Capabilities are what the LiteLLM adapter can do: everything (it switches, blocks keys
// and pins models).
var Capabilities = ports.StaticCapabilities{}

// Cannot says what LiteLLM cannot do (ports.CapabilityReporter, through gwstate.Gateway).
func (r *remote) Cannot(c ports.Capability) string { return Capabilities.Cannot(c) }

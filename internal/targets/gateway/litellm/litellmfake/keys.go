package litellmfake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
)

// Key is one virtual key as the proxy stores it (LiteLLM_VerificationToken): its token
// (the SHA-256 hex of the secret) and the other columns, blocked among them (absent when
// never set).
type Key map[string]any

// HashKey is the token the proxy stores for a secret key.
func HashKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// AddKey stores a virtual key under the token of secret, with the given columns.
func (s *Server) AddKey(secret string, columns Key) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	token := HashKey(secret)
	k := Key{}
	for c, v := range columns {
		k[c] = v
	}
	k["token"] = token
	if s.keys == nil {
		s.keys = map[string]Key{}
	}
	s.keys[token] = k
	s.keyOrder = append(s.keyOrder, token)
	return token
}

// KeyState is the key's record as /key/info answers it, sorted keys: what a test compares
// byte for byte.
func (s *Server) KeyState(token string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := json.Marshal(s.keys[token])
	return b
}

// tokenOf is what the proxy does with a key param: a secret key (sk-...) is hashed, anything
// else is taken as the token already.
func tokenOf(key string) string {
	if strings.HasPrefix(key, "sk-") {
		return HashKey(key)
	}
	return key
}

func (s *Server) keyInfo(w http.ResponseWriter, r *http.Request) {
	token := tokenOf(r.URL.Query().Get("key"))
	s.mu.Lock()
	k, ok := s.keys[token]
	var body []byte
	if ok {
		body, _ = json.Marshal(map[string]any{"key": token, "info": k})
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": map[string]string{"error": "Key not found in database"}})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// keyList answers GET /key/list, filtered by key_alias; with return_full_object the keys
// are objects, else their tokens.
func (s *Server) keyList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	alias, full := q.Get("key_alias"), q.Get("return_full_object") == "true"
	s.mu.Lock()
	keys := []any{}
	for _, token := range s.keyOrder {
		k := s.keys[token]
		if alias != "" && k["key_alias"] != alias {
			continue
		}
		if full {
			keys = append(keys, k)
		} else {
			keys = append(keys, token)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys, "total_count": len(keys), "current_page": 1, "total_pages": 1})
}

// keyBlock answers POST /key/block and /key/unblock: blocked set to true or false.
func (s *Server) keyBlock(blocked bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Key string `json:"key"`
		}
		if json.NewDecoder(r.Body).Decode(&body) != nil || body.Key == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "key is required"})
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		k, ok := s.keys[tokenOf(body.Key)]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"detail": map[string]string{"error": "Key not found"}})
			return
		}
		if !s.ignoreWrites {
			k["blocked"] = blocked
		}
		writeJSON(w, http.StatusOK, k)
	}
}

// keyUpdate answers POST /key/update: the columns sent are set; null clears one (the
// proxy keeps fields explicitly set, even to null).
func (s *Server) keyUpdate(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if json.NewDecoder(r.Body).Decode(&body) != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "invalid JSON"})
		return
	}
	key, _ := body["key"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[tokenOf(key)]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": map[string]string{"error": "Key not found"}})
		return
	}
	if !s.ignoreWrites {
		for c, v := range body {
			switch {
			case c == "key" || c == "token":
			case v == nil:
				delete(k, c)
			default:
				k[c] = v
			}
		}
	}
	writeJSON(w, http.StatusOK, k)
}

package slackapp

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/slack-go/slack"
)

// maxBody caps a Slack request's body; Slack's payloads are far smaller.
const maxBody = 1 << 20

// HTTPHandler serves POST /slack/commands and POST /slack/interactions. Every request must
// carry Slack's signature over its body, made with the signing secret, no more than five
// minutes old; anything else gets 401 and touches nothing.
func HTTPHandler(h *Handler, signingSecret string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slack/commands", func(w http.ResponseWriter, r *http.Request) {
		if !verified(w, r, signingSecret, h.logger()) {
			return
		}
		cmd, err := slack.SlashCommandParse(r)
		if err != nil {
			http.Error(w, "not a slash command: "+err.Error(), http.StatusBadRequest)
			return
		}
		writeJSON(w, h.Command(cmd))
	})
	mux.HandleFunc("POST /slack/interactions", func(w http.ResponseWriter, r *http.Request) {
		if !verified(w, r, signingSecret, h.logger()) {
			return
		}
		var cb slack.InteractionCallback
		if err := json.Unmarshal([]byte(r.FormValue("payload")), &cb); err != nil {
			http.Error(w, "not an interaction payload: "+err.Error(), http.StatusBadRequest)
			return
		}
		if resp := h.Interaction(cb); resp != nil {
			writeJSON(w, resp)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux
}

// verified checks the request's signature and freshness, leaving the body readable.
func verified(w http.ResponseWriter, r *http.Request, secret string, logger *slog.Logger) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	// The verifier checks the 5-minute window itself; check it first anyway so a stale
	// request is told so (and a future timestamp is refused too).
	ts, _ := strconv.ParseInt(r.Header.Get("X-Slack-Request-Timestamp"), 10, 64)
	if d := time.Since(time.Unix(ts, 0)); d > 5*time.Minute || d < -5*time.Minute {
		logger.Warn("refused a Slack request outside the 5-minute window", "path", r.URL.Path)
		http.Error(w, "stale or missing X-Slack-Request-Timestamp", http.StatusUnauthorized)
		return false
	}
	sv, err := slack.NewSecretsVerifier(r.Header, secret)
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		logger.Warn("refused a Slack request with a bad signature", "path", r.URL.Path, "err", err)
		http.Error(w, "bad Slack signature: check slack.signing_secret", http.StatusUnauthorized)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

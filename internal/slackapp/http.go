package slackapp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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
// minutes old; anything else gets 401 and touches nothing. A correctly signed request seen
// before (a replay within the window) is acknowledged with 200 and does nothing; this
// memory is per process (see seenCache).
func HTTPHandler(h *Handler, signingSecret string) http.Handler {
	seen := newSeenCache(maxSeen)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slack/commands", func(w http.ResponseWriter, r *http.Request) {
		id, ok := verified(w, r, signingSecret, h.logger())
		if !ok {
			return
		}
		if !seen.firstTime(id.key, id.at.Add(replayWindow), time.Now()) {
			h.logger().Warn("ignored a replayed Slack request: it was handled once already", "path", r.URL.Path)
			writeJSON(w, ephemeralMsg(ReplayedText))
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
		id, ok := verified(w, r, signingSecret, h.logger())
		if !ok {
			return
		}
		if !seen.firstTime(id.key, id.at.Add(replayWindow), time.Now()) {
			// An empty 200 tells Slack it arrived; the first delivery already answered.
			h.logger().Warn("ignored a replayed Slack request: it was handled once already", "path", r.URL.Path)
			w.WriteHeader(http.StatusOK)
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

// ReplayedText answers a request quench has handled already.
const ReplayedText = "Slack delivered this request before and quench acted on it then; nothing new happened."

// requestID identifies a signed request: what the signature covers (timestamp and body),
// hashed, and the signed timestamp.
type requestID struct {
	key string
	at  time.Time
}

// verified checks the request's signature and freshness, leaving the body readable.
func verified(w http.ResponseWriter, r *http.Request, secret string, logger *slog.Logger) (requestID, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
		return requestID{}, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	// The verifier checks the 5-minute window itself; check it first anyway so a stale
	// request is told so (and a future timestamp is refused too).
	ts, _ := strconv.ParseInt(r.Header.Get("X-Slack-Request-Timestamp"), 10, 64)
	at := time.Unix(ts, 0)
	if d := time.Since(at); d > replayWindow || d < -replayWindow {
		logger.Warn("refused a Slack request outside the 5-minute window", "path", r.URL.Path)
		http.Error(w, "stale or missing X-Slack-Request-Timestamp", http.StatusUnauthorized)
		return requestID{}, false
	}
	sv, err := slack.NewSecretsVerifier(r.Header, secret)
	if err == nil {
		_, _ = sv.Write(body)
		err = sv.Ensure()
	}
	if err != nil {
		logger.Warn("refused a Slack request with a bad signature", "path", r.URL.Path, "err", err)
		http.Error(w, "bad Slack signature: check slack.signing_secret", http.StatusUnauthorized)
		return requestID{}, false
	}
	// Keyed by what was signed rather than by the signature's spelling, so a re-encoded
	// signature (upper-case hex) is the same request.
	sum := sha256.Sum256(body)
	return requestID{key: "v0:" + strconv.FormatInt(ts, 10) + ":" + hex.EncodeToString(sum[:]), at: at}, true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

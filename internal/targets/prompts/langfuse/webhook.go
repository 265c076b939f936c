package langfuse

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
)

// Webhook limits.
const (
	maxWebhookBody = 1 << 20
	// signatureTolerance is how old a signed delivery may be: a replayed old delivery is
	// refused, Langfuse's retries come with fresh signatures.
	signatureTolerance = 5 * time.Minute
)

// WebhookRetryAfter is the Retry-After, in seconds, of a 503 (the freeze state or the
// pins' store unreachable).
const WebhookRetryAfter = 10

// SignatureHeader carries Langfuse's webhook signature: t=<unix seconds>,v1=<hex
// HMAC-SHA256 of "<t>.<body>" with the webhook's secret>.
const SignatureHeader = "x-langfuse-signature"

// VerifySignature checks a delivery's signature header against body.
func VerifySignature(secret, header string, body []byte, now time.Time) error {
	if secret == "" {
		return errors.New("no webhook secret configured")
	}
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	if ts == "" || sig == "" {
		return fmt.Errorf("missing or malformed %s header: want t=<timestamp>,v1=<signature>", SignatureHeader)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%s timestamp %q is not a number", SignatureHeader, ts)
	}
	if age := now.Sub(time.Unix(sec, 0)); age > signatureTolerance || age < -signatureTolerance {
		return fmt.Errorf("%s timestamp is %s away from now: a replayed or delayed delivery", SignatureHeader, age.Round(time.Second))
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, want) {
		return errors.New("signature does not match: check prompts.langfuse.webhook_secret against the automation's signing secret")
	}
	return nil
}

// webhookEvent is the part of a prompt-version delivery quench reads.
type webhookEvent struct {
	Type   string `json:"type"`
	Action string `json:"action"`
	Prompt struct {
		Name    string   `json:"name"`
		Version int      `json:"version"`
		Labels  []string `json:"labels"`
	} `json:"prompt"`
}

// FreezeStateFunc tells the webhook a scope's freeze state (the app asks the freeze
// workflow).
type FreezeStateFunc func(ctx context.Context, scope string) (ports.FreezeEnforcement, error)

// WebhookHandler serves POST /hooks/langfuse: a signed prompt-version event about a managed
// prompt, while the scope is frozen, makes the adapter put the label back on its pin. It
// answers 2xx once the label is where it belongs, 401 to a bad signature, 503 with
// Retry-After when the freeze state or the pins' store could not be reached, and 502 when
// Langfuse failed, so Langfuse delivers again.
func (a *Adapter) WebhookHandler(state FreezeStateFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			reply(w, http.StatusMethodNotAllowed, "POST Langfuse prompt-version events here")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebhookBody))
		if err != nil {
			reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body over %d bytes", maxWebhookBody))
			return
		}
		if err := VerifySignature(a.opts.WebhookSecret, r.Header.Get(SignatureHeader), body, a.now()); err != nil {
			reply(w, http.StatusUnauthorized, err.Error())
			return
		}
		var ev webhookEvent
		if err := json.Unmarshal(body, &ev); err != nil || ev.Type == "" {
			reply(w, http.StatusBadRequest, "not a Langfuse webhook event: want JSON with type, action and prompt")
			return
		}
		if ev.Type == "monitor-alert" {
			// An alert automation pointed here would be "ignored" with a 2xx and lost.
			reply(w, http.StatusBadRequest, "a Langfuse alert notification: point this automation at /hooks/langfuse_alerts, where alerts start incidents")
			return
		}
		if ev.Type != "prompt-version" || !a.managed(ev.Prompt.Name) {
			reply(w, http.StatusOK, "ignored: not a prompt-version event of a managed prompt")
			return
		}
		ctx := r.Context()
		st, err := state(ctx, a.opts.Scope)
		if err != nil {
			a.opts.Logger.Warn("Langfuse webhook: cannot read the freeze state", "scope", a.opts.Scope, "err", err)
			w.Header().Set("Retry-After", strconv.Itoa(WebhookRetryAfter))
			reply(w, http.StatusServiceUnavailable, "cannot read the freeze state of "+a.opts.Scope+"; deliver again")
			return
		}
		if !st.Frozen {
			reply(w, http.StatusOK, a.opts.Scope+" is not frozen: nothing to enforce")
			return
		}
		res, err := a.EnforceFreeze(ctx, st)
		if store.IsUnavailable(err) || errors.Is(err, errPinsBusy) {
			// Nothing was changed for this delivery: a 503 makes Langfuse deliver it again.
			a.opts.Logger.Warn("Langfuse webhook: the pins cannot be read or written now", "prompt", ev.Prompt.Name, "err", err)
			w.Header().Set("Retry-After", strconv.Itoa(WebhookRetryAfter))
			reply(w, http.StatusServiceUnavailable, "cannot enforce the freeze of "+a.opts.Scope+" now: "+err.Error()+"; deliver again")
			return
		}
		if err != nil {
			a.opts.Logger.Warn("Langfuse webhook: enforcing the freeze failed", "prompt", ev.Prompt.Name, "err", err)
			reply(w, http.StatusBadGateway, "enforcing the freeze failed: "+err.Error())
			return
		}
		reply(w, http.StatusOK, res.Summary)
	})
}

func reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"result": msg})
}

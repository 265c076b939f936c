package github

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"

	"github.com/quench-dev/quench/internal/ports"
)

// FreezeLookup reads the current freeze state of a scope.
type FreezeLookup func(ctx context.Context, scope string) (ports.FreezeEnforcement, error)

// WebhookOptions configure the GitHub webhook endpoint.
type WebhookOptions struct {
	Secret  []byte       // the webhook's secret: X-Hub-Signature-256 is checked against it
	Freeze  FreezeLookup // the freeze state to enforce
	MaxBody int64        // body size limit (default 1 MiB; GitHub caps payloads at 25 MB)
	Logger  *slog.Logger
}

// DefaultWebhookMaxBody is WebhookOptions.MaxBody unless set.
const DefaultWebhookMaxBody = 1 << 20

// Pull request actions that put new commits up for review.
var enforcedActions = map[string]bool{"opened": true, "reopened": true, "synchronize": true, "ready_for_review": true}

// WebhookHandler serves POST /hooks/github: a pull request opened, reopened or pushed to
// gets the freeze status at once (failure while the scope is frozen, if it touches the
// prompts), and a push to the base branch while frozen gets the failing status on its new
// head. The freeze workflow's periodic sweep covers deliveries that never arrive.
func (a *Adapter) WebhookHandler(o WebhookOptions) http.Handler {
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultWebhookMaxBody
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &webhook{a: a, o: o}
}

type webhook struct {
	a *Adapter
	o WebhookOptions
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		reply(w, http.StatusRequestEntityTooLarge, "body over "+strconv.FormatInt(h.o.MaxBody, 10)+" bytes")
		return
	case err != nil:
		reply(w, http.StatusBadRequest, "could not read the body: "+err.Error())
		return
	}
	sig := r.Header.Get("X-Hub-Signature-256")
	if !strings.HasPrefix(sig, "sha256=") {
		reply(w, http.StatusUnauthorized, "missing X-Hub-Signature-256: give the webhook the secret quench has in github.webhook_secret")
		return
	}
	if err := gh.ValidateSignature(sig, body, h.o.Secret); err != nil {
		reply(w, http.StatusUnauthorized, "X-Hub-Signature-256 does not match the body: the webhook's secret differs from github.webhook_secret")
		return
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		reply(w, http.StatusUnsupportedMediaType, "set the webhook's content type to application/json")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	switch event := gh.WebHookType(r); event {
	case "ping":
		reply(w, http.StatusOK, "pong")
	case "pull_request":
		h.pullRequest(ctx, w, body)
	case "push":
		h.push(ctx, w, body)
	default:
		reply(w, http.StatusAccepted, "event "+event+" ignored: quench acts on pull_request and push")
	}
}

func (h *webhook) pullRequest(ctx context.Context, w http.ResponseWriter, body []byte) {
	var ev gh.PullRequestEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		reply(w, http.StatusBadRequest, "not a pull_request event: "+err.Error())
		return
	}
	if !h.ours(ev.GetRepo()) {
		reply(w, http.StatusAccepted, "repository "+ev.GetRepo().GetFullName()+" ignored: quench watches "+h.a.Repo())
		return
	}
	if !enforcedActions[ev.GetAction()] {
		reply(w, http.StatusAccepted, "action "+ev.GetAction()+" ignored")
		return
	}
	head := ev.GetPullRequest().GetHead()
	pr := PullEvent{Number: ev.GetPullRequest().GetNumber(), HeadRef: head.GetRef(), HeadSHA: head.GetSHA(), HeadRepo: head.GetRepo().GetFullName()}
	if pr.Number == 0 || pr.HeadSHA == "" {
		reply(w, http.StatusBadRequest, "pull_request event without a number or head sha")
		return
	}
	f, err := h.o.Freeze(ctx, h.a.FreezeScope())
	if err != nil {
		h.failed(w, "read the freeze state", err)
		return
	}
	state, err := h.a.EnforceOnPull(ctx, pr, f)
	if err == nil && state == StateFailure {
		// A lift racing this delivery must not leave a failing status behind.
		if again, lookupErr := h.o.Freeze(ctx, h.a.FreezeScope()); lookupErr == nil && !again.Frozen {
			state, err = h.a.EnforceOnPull(ctx, pr, again)
		}
	}
	if err != nil {
		h.failed(w, "set the freeze status", err)
		return
	}
	if state == "" {
		reply(w, http.StatusOK, "pull request #"+strconv.Itoa(pr.Number)+" does not touch "+h.a.PromptsPaths())
		return
	}
	h.o.Logger.Info("freeze status set from a webhook", "pr", pr.Number, "sha", pr.HeadSHA, "state", state)
	reply(w, http.StatusOK, "pull request #"+strconv.Itoa(pr.Number)+": "+h.a.opts.StatusContext+" "+state)
}

func (h *webhook) push(ctx context.Context, w http.ResponseWriter, body []byte) {
	var ev gh.PushEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		reply(w, http.StatusBadRequest, "not a push event: "+err.Error())
		return
	}
	if ev.GetRepo().GetFullName() != "" && !strings.EqualFold(ev.GetRepo().GetFullName(), h.a.Repo()) {
		reply(w, http.StatusAccepted, "repository "+ev.GetRepo().GetFullName()+" ignored")
		return
	}
	base, err := h.a.baseBranch(ctx)
	if err != nil {
		h.failed(w, "read the base branch", err)
		return
	}
	if ev.GetRef() != "refs/heads/"+base || ev.GetDeleted() || strings.Trim(ev.GetAfter(), "0") == "" {
		reply(w, http.StatusAccepted, "push to "+ev.GetRef()+" ignored: quench marks heads of "+base)
		return
	}
	f, err := h.o.Freeze(ctx, h.a.FreezeScope())
	if err != nil {
		h.failed(w, "read the freeze state", err)
		return
	}
	if !f.Frozen {
		reply(w, http.StatusOK, "not frozen: nothing to mark")
		return
	}
	if _, err := h.a.EnforceOnHead(ctx, ev.GetAfter(), f); err != nil {
		h.failed(w, "set the freeze status", err)
		return
	}
	reply(w, http.StatusOK, base+" head "+shortSHA(ev.GetAfter())+": "+h.a.opts.StatusContext+" "+StateFailure)
}

func (h *webhook) ours(repo *gh.Repository) bool {
	return strings.EqualFold(repo.GetFullName(), h.a.Repo())
}

// failed answers an error of GitHub or Temporal: 503 (with Retry-After when GitHub gave
// one) so the delivery shows as failed and can be redelivered; the sweep catches it too.
func (h *webhook) failed(w http.ResponseWriter, what string, err error) {
	h.o.Logger.Warn("github webhook: could not "+what, "err", err)
	if delay, ok := ports.RetryDelay(err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(delay.Seconds())))
	}
	reply(w, http.StatusServiceUnavailable, "could not "+what+": "+err.Error())
}

func reply(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message})
}

// Package api is quench's HTTP API for scripts and UIs: incidents (list, show, start,
// decide, resolve, abort, note), freeze state, the embedded routing table, health and
// metrics. Every request body is size-limited and every refusal says what was wrong.
package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// MaxBody is the largest request body the API reads.
const MaxBody = 64 << 10

// Options configure the API.
type Options struct {
	// Incidents is the client side of incidents. Whoever builds the API decides what it
	// checks: a *incidents.Service with Routes set refuses starts on unknown routes.
	Incidents incidents.Client
	// Routes serves GET /v1/routes and /v1/routes/{route} (the embedded routing table); nil
	// when this process has no routing table.
	Routes http.Handler
	// Tokens maps a caller's identity to its bearer token. Empty: only allowed on a
	// loopback listener, where the caller names itself with the X-Quench-User header.
	Tokens map[string]string
	// Registry holds quench's metrics; nil uses the default registry.
	Registry *prometheus.Registry
	// UnmatchedAlerts serves GET /api/v1/alerts/unmatched: alerts that started nothing.
	UnmatchedAlerts http.Handler
	Logger          *slog.Logger
}

// New returns the API's handler.
func New(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &handler{opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	if opts.Registry != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{}))
	} else {
		mux.Handle("GET /metrics", promhttp.Handler())
	}
	if opts.Routes != nil {
		mux.Handle("GET /v1/routes", opts.Routes)
		mux.Handle("GET /v1/routes/{route}", opts.Routes)
	}
	mux.HandleFunc("GET /api/v1/incidents", h.authed(h.list))
	mux.HandleFunc("POST /api/v1/incidents", h.authed(h.start))
	mux.HandleFunc("GET /api/v1/incidents/{id}", h.authed(h.show))
	mux.HandleFunc("POST /api/v1/incidents/{id}/decisions", h.authed(h.decide))
	mux.HandleFunc("POST /api/v1/incidents/{id}/resolve", h.authed(h.signal(workflows.SignalResolve)))
	mux.HandleFunc("POST /api/v1/incidents/{id}/abort", h.authed(h.signal(workflows.SignalAbort)))
	mux.HandleFunc("POST /api/v1/incidents/{id}/notes", h.authed(h.signal(workflows.SignalNote)))
	mux.HandleFunc("GET /api/v1/freeze/{scope}", h.authed(h.freeze))
	if opts.UnmatchedAlerts != nil {
		mux.HandleFunc("GET /api/v1/alerts/unmatched", h.authed(func(w http.ResponseWriter, r *http.Request, _ string) {
			opts.UnmatchedAlerts.ServeHTTP(w, r)
		}))
	}
	return mux
}

type handler struct {
	opts Options
}

type authedFunc func(w http.ResponseWriter, r *http.Request, who string)

// authed resolves the caller's identity: a bearer token from Options.Tokens, or, with no
// tokens configured (loopback only, enforced by the caller of New), X-Quench-User.
func (h *handler) authed(next authedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if len(h.opts.Tokens) == 0 {
			next(w, r, strings.TrimSpace(r.Header.Get("X-Quench-User")))
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			writeError(w, http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer <token>")
			return
		}
		for who, want := range h.opts.Tokens {
			if subtle.ConstantTimeCompare([]byte(token), []byte(want)) == 1 {
				next(w, r, who)
				return
			}
		}
		writeError(w, http.StatusUnauthorized, "unknown bearer token")
	}
}

func (h *handler) list(w http.ResponseWriter, r *http.Request, _ string) {
	q := r.URL.Query()
	f := incidents.ListFilter{Open: q.Get("all") == "", Runbook: q.Get("runbook")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: give a positive whole number", v))
			return
		}
		f.Limit = n
	}
	rows, err := h.opts.Incidents.List(r.Context(), f)
	if err != nil {
		h.fail(w, err)
		return
	}
	if rows == nil {
		rows = []incidents.Summary{}
	}
	writeJSON(w, http.StatusOK, rows)
}

type startBody struct {
	Runbook  string            `json:"runbook"`
	Params   map[string]string `json:"params"`
	Key      string            `json:"key"`
	Severity string            `json:"severity"`
	Service  string            `json:"service"`
}

func (h *handler) start(w http.ResponseWriter, r *http.Request, who string) {
	var b startBody
	if !readJSON(w, r, &b) {
		return
	}
	if b.Runbook == "" {
		writeError(w, http.StatusBadRequest, "field runbook is required")
		return
	}
	started, err := h.opts.Incidents.Start(r.Context(), incidents.StartRequest{
		Runbook: b.Runbook, Params: b.Params, Key: b.Key, Severity: b.Severity, Service: b.Service,
		Requester: orAnonymous(who), Source: "api",
	})
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, started)
}

func (h *handler) show(w http.ResponseWriter, r *http.Request, _ string) {
	st, err := h.opts.Incidents.Status(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

type decideBody struct {
	StepID  string `json:"step_id"`
	Digest  string `json:"digest"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
}

func (h *handler) decide(w http.ResponseWriter, r *http.Request, who string) {
	if who == "" {
		writeError(w, http.StatusUnauthorized, "a decision needs an identity: send X-Quench-User (or a bearer token when tokens are configured)")
		return
	}
	var b decideBody
	if !readJSON(w, r, &b) {
		return
	}
	if b.Verdict != workflows.VerdictApprove && b.Verdict != workflows.VerdictReject {
		writeError(w, http.StatusBadRequest, "field verdict must be approve or reject")
		return
	}
	if b.Digest == "" {
		writeError(w, http.StatusBadRequest, "field digest is required (the whole digest or its first 8+ characters): take it from the pending approval of GET /api/v1/incidents/{id}")
		return
	}
	id, err := h.opts.Incidents.Resolve(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, err)
		return
	}
	d := workflows.Decision{StepID: b.StepID, Digest: b.Digest, Approver: who, Verdict: b.Verdict, Reason: b.Reason, Via: "api"}
	res, err := h.opts.Incidents.Decide(r.Context(), id, d)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, incidents.NewDecided(id, d, res))
	case errors.Is(err, incidents.ErrNotFound), errors.Is(err, incidents.ErrInvalid):
		h.fail(w, err)
	default:
		// The workflow refused it (not an approver, four-eyes, params changed, closed).
		writeError(w, http.StatusConflict, err.Error())
	}
}

type signalBody struct {
	Reason string `json:"reason"`
	Text   string `json:"text"`
}

func (h *handler) signal(name string) authedFunc {
	return func(w http.ResponseWriter, r *http.Request, who string) {
		var b signalBody
		if r.ContentLength != 0 && !readJSON(w, r, &b) {
			return
		}
		by := orAnonymous(who)
		var payload any
		switch name {
		case workflows.SignalResolve:
			payload = workflows.Resolve{By: by, Reason: b.Reason}
		case workflows.SignalAbort:
			payload = workflows.Abort{By: by, Reason: b.Reason}
		default:
			if strings.TrimSpace(b.Text) == "" {
				writeError(w, http.StatusBadRequest, "field text is required")
				return
			}
			payload = workflows.Note{By: by, Text: b.Text}
		}
		id, err := h.opts.Incidents.Signal(r.Context(), r.PathValue("id"), name, payload)
		if err != nil {
			h.fail(w, err)
			return
		}
		writeJSON(w, http.StatusAccepted, incidents.AfterSignal(r.Context(), h.opts.Incidents, id, name))
	}
}

func (h *handler) freeze(w http.ResponseWriter, r *http.Request, _ string) {
	st, err := h.opts.Incidents.FreezeState(r.Context(), r.PathValue("scope"))
	if err != nil {
		h.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (h *handler) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, incidents.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, incidents.ErrInvalid), strings.Contains(err.Error(), "unknown runbook"), strings.Contains(err.Error(), "param"):
		writeError(w, http.StatusBadRequest, err.Error())
	case strings.Contains(err.Error(), "is closed"):
		writeError(w, http.StatusConflict, err.Error())
	default:
		h.opts.Logger.Error("api request failed", "err", err)
		writeError(w, http.StatusBadGateway, err.Error())
	}
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "send Content-Type: application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", MaxBody))
			return false
		}
		writeError(w, http.StatusBadRequest, "malformed JSON: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func orAnonymous(who string) string {
	if who == "" {
		return "api"
	}
	return who
}

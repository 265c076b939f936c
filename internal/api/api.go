// Package api is quench's HTTP API for scripts, UIs and the quench CLI: incidents (list,
// show, start, decide, resolve, abort, note), their evidence bundles, freeze state, the embedded routing table,
// health and metrics. A caller is who its bearer token says (api.tokens, or the local
// credential of quench dev); a request must name this server in Host, come from no other
// origin, and send JSON as application/json. Every refusal says what was wrong; a hostile
// one aimed at an existing incident also leaves a line on its timeline (refusals.go).
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/strictjson"
	"github.com/quench-dev/quench/workflows"
)

// MaxBody is the largest request body the API reads.
const MaxBody = 64 << 10

// RetryAfter is how long a client is told to wait when Temporal cannot be reached.
const RetryAfter = 5

// Options configure the API.
type Options struct {
	// Incidents is the client side of incidents. Whoever builds the API decides what it
	// checks: a *incidents.Service with Routes set refuses starts on unknown routes.
	Incidents incidents.Client
	// Routes serves GET /v1/routes and /v1/routes/{route} (the embedded routing table); nil
	// when this process has no routing table.
	Routes http.Handler
	// Tokens maps a caller's identity to its bearer token (api.tokens).
	Tokens map[string]string
	// Dev is quench dev's local CLI credential; nil elsewhere.
	Dev *DevCredential
	// Hosts are the names /api/v1 answers to (see Hosts.Allowed).
	Hosts Hosts
	// Registry holds quench's metrics; nil uses the default registry.
	Registry *prometheus.Registry
	// Evidence serves GET /api/v1/incidents/{id}/evidence/{name}; nil: this process has no
	// evidence store (the list still answers from the incident).
	Evidence EvidenceReader
	// UnmatchedAlerts serves GET /api/v1/alerts/unmatched: alerts that started nothing.
	UnmatchedAlerts http.Handler
	Logger          *slog.Logger
}

// New returns the API's handler. Every route passes Guard; /api/v1 also
// checks the Host and the caller's token. /healthz, /metrics and /v1/routes answer any
// Host: monitoring and apps reach them by whatever name or address they were given.
func New(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &handler{opts: opts, lines: newRefusalLines(opts.Incidents, opts.Logger)}
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
	api := http.NewServeMux()
	api.HandleFunc("GET /api/v1/whoami", h.authed(h.whoami))
	api.HandleFunc("GET /api/v1/incidents", h.authed(h.list))
	api.HandleFunc("POST /api/v1/incidents", h.authed(h.start))
	api.HandleFunc("GET /api/v1/incidents/{id}", h.authed(h.show))
	api.HandleFunc("GET /api/v1/incidents/{id}/evidence", h.authed(h.evidenceList))
	api.HandleFunc("GET /api/v1/incidents/{id}/evidence/{name}", h.authed(h.evidenceBundle))
	api.HandleFunc("POST /api/v1/incidents/{id}/decisions", h.authed(h.decide))
	api.HandleFunc("POST /api/v1/incidents/{id}/resolve", h.authed(h.signal(workflows.SignalResolve)))
	api.HandleFunc("POST /api/v1/incidents/{id}/abort", h.authed(h.signal(workflows.SignalAbort)))
	api.HandleFunc("POST /api/v1/incidents/{id}/notes", h.authed(h.signal(workflows.SignalNote)))
	api.HandleFunc("GET /api/v1/freeze/{scope}", h.authed(h.freeze))
	if opts.UnmatchedAlerts != nil {
		api.HandleFunc("GET /api/v1/alerts/unmatched", h.authed(func(w http.ResponseWriter, r *http.Request, _ caller) {
			opts.UnmatchedAlerts.ServeHTTP(w, r)
		}))
	}
	api.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		h.refuse(w, r, http.StatusNotFound, fmt.Sprintf("no API route %s %s: see the API section of the README", r.Method, strictjson.ShortForMsg(r.URL.Path)))
	})
	mux.Handle("/api/", h.guardAPI(api))
	a := &root{lines: h.lines}
	a.next = guard(mux, opts.Logger, a)
	return a
}

// root is the API's handler; a Guard in front of it (quench's HTTP server) notes its
// refusals through it.
type root struct {
	next  http.Handler
	lines *refusalLines
}

func (a *root) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.next.ServeHTTP(w, r) }

func (a *root) noteRefusal(r *http.Request, code int, why, adjective, detail string) {
	a.lines.note(r, code, why, adjective, detail)
}

type handler struct {
	opts  Options
	lines *refusalLines
}

func (h *handler) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	refuse(w, r, h.opts.Logger, code, msg)
}

// refuseNoted refuses a hostile request and, when it acts on an existing incident, leaves
// a line on its timeline (see refusalLines.note for adjective and detail).
func (h *handler) refuseNoted(w http.ResponseWriter, r *http.Request, code int, msg, why, adjective, detail string) {
	h.refuse(w, r, code, msg)
	h.lines.note(r, code, why, adjective, detail)
}

// guardAPI checks what every /api/v1 request must be before the mux routes it.
func (h *handler) guardAPI(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !h.opts.Hosts.Allowed(r):
			h.refuseNoted(w, r, http.StatusMisdirectedRequest, fmt.Sprintf("Host %q is not a name of this quench: use the address it listens on or localhost, or add the name to http.hosts in the config", strictjson.ShortForMsg(r.Host)),
				whyWrongHost, "", "sent to Host "+quoteOutside(r.Host)+", not a name of this quench")
		case r.Header.Get("X-Quench-User") != "":
			h.refuseNoted(w, r, http.StatusBadRequest, "X-Quench-User is not accepted: who you are comes only from your bearer token (api.tokens, or quench dev's CLI credential)",
				whyIdentityHeader, "", "naming its sender in an X-Quench-User header ("+quoteOutside(r.Header.Get("X-Quench-User"))+")")
		case r.Method != http.MethodGet && r.Method != http.MethodHead && !jsonContentType(r):
			ct := "no Content-Type"
			if v := r.Header.Get("Content-Type"); v != "" {
				ct = "Content-Type " + quoteOutside(v)
			}
			h.refuseNoted(w, r, http.StatusUnsupportedMediaType, "send Content-Type: application/json (and a JSON object, or no body where none is needed)",
				whyNotJSON, "", "with "+ct+" (only application/json is accepted)")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

type authedFunc func(w http.ResponseWriter, r *http.Request, c caller)

func (h *handler) authed(next authedFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, code, msg, detail := h.authenticate(r)
		if code != 0 {
			h.refuseNoted(w, r, code, msg, whyUnauthenticated, "", detail)
			return
		}
		next(w, r, c)
	}
}

func (h *handler) whoami(w http.ResponseWriter, r *http.Request, c caller) {
	if c.Identity == "" {
		h.refuse(w, r, http.StatusUnauthorized, "this quench has no API credentials: configure api.tokens")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"identity": c.Identity, "via": c.Via})
}

// Incident references: a short ID (hex, as `incident list` shows it) or a workflow ID.
// They compile on first use: every quench CLI command links this package (for `quench
// server`) and most never serve a request; {0,199} alone costs a fraction of a millisecond.
var (
	shortRef = lazyRegexp(`^[0-9a-f]{4,16}$`)
	// likeShortRef has a short ID's shape without being one: no incident can have it.
	likeShortRef = lazyRegexp(`^[0-9a-z]{6}$`)
	fullRef      = lazyRegexp(`^inc-[a-z0-9][a-z0-9_-]{0,199}$`)
)

func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// incidentRef checks the {id} of a path; false means it answered.
func (h *handler) incidentRef(w http.ResponseWriter, r *http.Request) (string, bool) {
	ref := r.PathValue("id")
	switch {
	case shortRef().MatchString(ref), fullRef().MatchString(ref):
		return ref, true
	case likeShortRef().MatchString(ref):
		h.refuse(w, r, http.StatusNotFound, fmt.Sprintf("no incident with ID %s (see GET /api/v1/incidents)", ref))
	default:
		h.refuse(w, r, http.StatusBadRequest, fmt.Sprintf("%q is not an incident ID: use the 6-character short ID or the full inc-... ID", strictjson.ShortForMsg(ref)))
	}
	return "", false
}

func (h *handler) list(w http.ResponseWriter, r *http.Request, _ caller) {
	q := r.URL.Query()
	f := incidents.ListFilter{Open: q.Get("all") == "", Runbook: q.Get("runbook")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			h.refuse(w, r, http.StatusBadRequest, fmt.Sprintf("limit %q: give a whole number from 1 to 1000", strictjson.ShortForMsg(v)))
			return
		}
		f.Limit = n
	}
	rows, err := h.opts.Incidents.List(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
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
	ActAs    string            `json:"act_as"`
}

func (h *handler) start(w http.ResponseWriter, r *http.Request, c caller) {
	var b startBody
	if !h.readJSON(w, r, &b, false) {
		return
	}
	who, code, msg := h.actor(c, b.ActAs)
	if code != 0 {
		h.refuse(w, r, code, msg)
		return
	}
	if b.Runbook == "" {
		h.refuse(w, r, http.StatusBadRequest, "field runbook is required")
		return
	}
	started, err := h.opts.Incidents.Start(r.Context(), incidents.StartRequest{
		Runbook: b.Runbook, Params: b.Params, Key: b.Key, Severity: b.Severity, Service: b.Service,
		Requester: who, Source: c.Via,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, started)
}

func (h *handler) show(w http.ResponseWriter, r *http.Request, _ caller) {
	ref, ok := h.incidentRef(w, r)
	if !ok {
		return
	}
	st, err := h.opts.Incidents.Status(r.Context(), ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

type decideBody struct {
	StepID  string `json:"step_id"`
	Digest  string `json:"digest"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	ActAs   string `json:"act_as"`
}

func (h *handler) decide(w http.ResponseWriter, r *http.Request, c caller) {
	ref, ok := h.incidentRef(w, r)
	if !ok {
		return
	}
	var b decideBody
	if !h.readJSON(w, r, &b, false) {
		return
	}
	who, code, msg := h.actor(c, b.ActAs)
	if code != 0 {
		h.refuseActor(w, r, c, b.ActAs, code, msg)
		return
	}
	if b.Verdict != workflows.VerdictApprove && b.Verdict != workflows.VerdictReject {
		h.refuse(w, r, http.StatusBadRequest, "field verdict must be approve or reject")
		return
	}
	if b.Digest == "" {
		h.refuse(w, r, http.StatusBadRequest, "field digest is required (the whole digest or its first 8+ characters): take it from the pending approval of GET /api/v1/incidents/{id}")
		return
	}
	id, err := h.opts.Incidents.Resolve(r.Context(), ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := workflows.Decision{StepID: b.StepID, Digest: b.Digest, Approver: who, Verdict: b.Verdict, Reason: b.Reason, Via: c.Via}
	res, err := h.opts.Incidents.Decide(r.Context(), id, d)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, incidents.NewDecided(id, d, res))
}

type signalBody struct {
	Reason string `json:"reason"`
	Text   string `json:"text"`
	ActAs  string `json:"act_as"`
}

func (h *handler) signal(name string) authedFunc {
	return func(w http.ResponseWriter, r *http.Request, c caller) {
		ref, ok := h.incidentRef(w, r)
		if !ok {
			return
		}
		var b signalBody
		if !h.readJSON(w, r, &b, true) {
			return
		}
		by, code, msg := h.actor(c, b.ActAs)
		if code != 0 {
			h.refuseActor(w, r, c, b.ActAs, code, msg)
			return
		}
		var payload any
		switch name {
		case workflows.SignalResolve:
			payload = workflows.Resolve{By: by, Reason: b.Reason}
		case workflows.SignalAbort:
			payload = workflows.Abort{By: by, Reason: b.Reason}
		default:
			if strings.TrimSpace(b.Text) == "" {
				h.refuse(w, r, http.StatusBadRequest, "field text is required")
				return
			}
			payload = workflows.Note{By: by, Text: b.Text}
		}
		id, err := h.opts.Incidents.Signal(r.Context(), ref, name, payload)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusAccepted, incidents.AfterSignal(r.Context(), h.opts.Incidents, id, name))
	}
}

var scopeRef = lazyRegexp(`^[a-z0-9][a-z0-9_.:-]{0,99}$`)

func (h *handler) freeze(w http.ResponseWriter, r *http.Request, _ caller) {
	scope := r.PathValue("scope")
	if !scopeRef().MatchString(scope) {
		h.refuse(w, r, http.StatusBadRequest, fmt.Sprintf("%q is not a freeze scope (lower-case letters, digits, - _ . :)", strictjson.ShortForMsg(scope)))
		return
	}
	st, err := h.opts.Incidents.FreezeState(r.Context(), scope)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// fail answers an error from the incidents client with the status its kind calls for.
// Only quench's own faults (anything unmarked) log at ERROR.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, incidents.ErrNotFound):
		h.refuse(w, r, http.StatusNotFound, err.Error())
	case errors.Is(err, incidents.ErrInvalid):
		h.refuse(w, r, http.StatusBadRequest, err.Error())
	case errors.Is(err, incidents.ErrConflict):
		h.refuse(w, r, http.StatusConflict, err.Error())
	case errors.Is(err, incidents.ErrRefused):
		h.refuse(w, r, http.StatusForbidden, err.Error())
	case incidents.IsUnavailable(err):
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
		h.opts.Logger.Warn("api request failed: Temporal is unreachable", "method", r.Method, "path", strictjson.ShortForMsg(r.URL.Path), "err", err)
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("quench cannot reach Temporal right now: retry in %d s (%v)", RetryAfter, err))
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		h.opts.Logger.Info("api request canceled by the client", "method", r.Method, "path", strictjson.ShortForMsg(r.URL.Path))
	default:
		h.opts.Logger.Error("api request failed", "method", r.Method, "path", strictjson.ShortForMsg(r.URL.Path), "err", err)
		writeError(w, http.StatusInternalServerError, "quench failed to do this: "+err.Error())
	}
}

// readJSON reads a JSON object body strictly (no duplicate or unknown keys); emptyOK
// accepts no body at all as {}. false means it answered.
func (h *handler) readJSON(w http.ResponseWriter, r *http.Request, v any, emptyOK bool) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.refuseNoted(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", MaxBody),
				whyBadBody, "", fmt.Sprintf("with a body larger than %d bytes", MaxBody))
			return false
		}
		h.refuse(w, r, http.StatusBadRequest, "could not read the body: "+err.Error())
		return false
	}
	if emptyOK && len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	if err := strictjson.Check(body); err != nil {
		h.refuseNoted(w, r, http.StatusBadRequest, "malformed JSON: "+err.Error(), whyBadBody, "", "with a malformed JSON body: "+quoteOutside(err.Error()))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		h.refuseNoted(w, r, http.StatusBadRequest, "malformed JSON: "+err.Error(), whyBadBody, "", "with a malformed JSON body: "+quoteOutside(err.Error()))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

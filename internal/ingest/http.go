package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/incidents"
)

// ReasonInternal is a delivery refused because of a fault on quench's side (5xx).
const ReasonInternal = "internal"

// retryAfterSeconds is what a 503 asks the sender to wait.
const retryAfterSeconds = "5"

// AlertDispatcher hands routed alerts to their incidents; *Dispatcher is one.
type AlertDispatcher interface {
	Dispatch(ctx context.Context, items []Routed) ([]Outcome, error)
}

// HandlerOptions configure the webhook handler.
type HandlerOptions struct {
	// Credentials by source. A source without credentials accepts unauthenticated posts:
	// the caller allows that only on a loopback listener or when told to explicitly.
	Credentials map[string]Credentials
	// Disabled sources answer 404, with DisabledReason[source] when set (else: turned off
	// by hooks.<source>.disabled).
	Disabled       map[string]bool
	DisabledReason map[string]string
	MaxBodyBytes   int64 // default 1 MiB
	Runbooks       Matcher
	Dispatcher     AlertDispatcher
	Unmatched      *UnmatchedStore // default: a new store
	Metrics        *Metrics        // default: unregistered metrics
	Logger         *slog.Logger
	Now            func() time.Time
}

// Handler serves POST /hooks/{source}.
type Handler struct {
	opts    HandlerOptions
	sources []string // sorted, for error messages
}

// NewHandler returns the webhook handler. Mount it on "/hooks/".
func NewHandler(opts HandlerOptions) *Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.Unmatched == nil {
		opts.Unmatched = NewUnmatchedStore(0)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &Handler{opts: opts}
	for s := range Parsers {
		h.sources = append(h.sources, s)
	}
	sort.Strings(h.sources)
	return h
}

// Unmatched is the store of alerts that started nothing (GET /api/v1/alerts/unmatched).
func (h *Handler) Unmatched() *UnmatchedStore { return h.opts.Unmatched }

// HookResponse answers an accepted webhook.
type HookResponse struct {
	Accepted     int `json:"accepted"`     // alerts of the delivery, all now safe
	Deduplicated int `json:"deduplicated"` // (alert, incident) pairs already committed: no new signal
	// Queued (alert, incident) pairs are durable in quench's inbox and reach their incident
	// shortly (the answer is then 202): quench was busy committing other alerts.
	Queued                  int              `json:"queued,omitempty"`
	Unmatched               int              `json:"unmatched"` // alerts no runbook matches (GET /api/v1/alerts/unmatched)
	ResolvedWithoutIncident int              `json:"resolved_without_incident"`
	NotStarted              int              `json:"not_started,omitempty"`
	Truncated               int              `json:"truncated,omitempty"` // alerts the sender left out of the payload
	Incidents               []IncidentResult `json:"incidents"`
}

// IncidentResult is what the delivery did to one incident.
type IncidentResult struct {
	IncidentID   string `json:"incident_id"`
	ShortID      string `json:"short_id"`
	Runbook      string `json:"runbook"`
	RunID        string `json:"run_id,omitempty"` // the incident's run the alerts reached (not for deduplicated)
	Result       string `json:"result"`           // started | signalled | queued | deduplicated | resolved_without_incident | not_started
	Alerts       int    `json:"alerts"`
	Deduplicated int    `json:"deduplicated"`
	Error        string `json:"error,omitempty"` // not_started: why the runbook could not start
}

// ServeHTTP takes one webhook: source, method, content type, size, authentication, payload,
// routing, then the commit to Temporal. Refusals come before anything is signalled; the
// 2xx comes only once every routed alert is in Temporal.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	begin := time.Now()
	source, ok := strings.CutPrefix(r.URL.Path, "/hooks/")
	if _, known := Parsers[source]; !ok || !known {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no webhook at %s: POST alerts to /hooks/{%s}", r.URL.Path, strings.Join(h.sources, ",")), "")
		return
	}
	if h.opts.Disabled[source] {
		why := h.opts.DisabledReason[source]
		if why == "" {
			why = fmt.Sprintf("hooks.%s.disabled in the config", source)
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("the %s webhook is disabled (%s)", source, why), "")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: webhooks are POSTed", r.Method, r.URL.Path), "")
		return
	}
	m := h.opts.Metrics
	m.Received.WithLabelValues(source).Inc()
	reject := func(code int, reason, msg, field string) {
		m.Rejected.WithLabelValues(source, reason).Inc()
		if code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", retryAfterSeconds)
		}
		writeError(w, code, msg, field)
	}

	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		reject(http.StatusUnsupportedMediaType, ReasonContentType,
			fmt.Sprintf("Content-Type %q: send the alerts as JSON with Content-Type: application/json", r.Header.Get("Content-Type")), "")
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) || errors.Is(err, errTooLarge) {
			reject(http.StatusRequestEntityTooLarge, ReasonTooLarge,
				fmt.Sprintf("body larger than %d bytes (hooks.max_body_bytes): send fewer alerts per notification (Alertmanager max_alerts)", h.opts.MaxBodyBytes), "")
			return
		}
		reject(http.StatusBadRequest, ReasonMalformed, "reading the body: "+err.Error(), "")
		return
	}
	if cred := h.opts.Credentials[source]; cred.Token != "" || cred.HMACSecret != "" {
		if err := Authenticate(source, r.Header, body, cred, h.opts.Now()); err != nil {
			reject(http.StatusUnauthorized, ReasonUnauthenticated, err.Error(), "")
			return
		}
	}
	delivery, err := Parsers[source](body)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			reject(http.StatusBadRequest, ReasonMalformed, fmt.Sprintf("malformed %s webhook: %s", source, fe.Error()), fe.Field)
			return
		}
		reject(http.StatusBadRequest, ReasonMalformed, fmt.Sprintf("malformed %s webhook: %v", source, err), "")
		return
	}
	if err := applyRouteParam(source, r.URL.Query(), delivery.Alerts); err != nil {
		reject(http.StatusBadRequest, ReasonMalformed, err.Error(), "route")
		return
	}
	routed, unmatched, err := Route(h.opts.Runbooks, source, delivery.Alerts)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			reject(http.StatusBadRequest, ReasonMalformed, fmt.Sprintf("malformed %s webhook: %s", source, fe.Error()), fe.Field)
			return
		}
		reject(http.StatusInternalServerError, ReasonInternal, err.Error(), "")
		return
	}
	outcomes, err := h.opts.Dispatcher.Dispatch(r.Context(), routed)
	if err != nil {
		if errors.Is(err, ErrInboxFull) {
			h.opts.Logger.Warn("alerts not accepted: the inbox is full; the sender should retry", "source", source, "delivery", delivery.ID, "err", err)
			reject(http.StatusServiceUnavailable, ReasonInboxFull, err.Error()+"; retry later", "")
			return
		}
		if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrBusy) || r.Context().Err() != nil {
			h.opts.Logger.Warn("alerts not accepted: the sender should retry", "source", source, "delivery", delivery.ID, "err", err)
			reject(http.StatusServiceUnavailable, ReasonUnavailable, err.Error()+"; retry later", "")
			return
		}
		h.opts.Logger.Error("alerts not accepted", "source", source, "delivery", delivery.ID, "err", err)
		reject(http.StatusInternalServerError, ReasonInternal, err.Error(), "")
		return
	}

	resp := h.summarize(source, delivery, unmatched, outcomes)
	m.Accepted.WithLabelValues(source).Add(float64(resp.Accepted))
	m.Deduplicated.WithLabelValues(source).Add(float64(resp.Deduplicated))
	m.ResolvedWithoutIncident.WithLabelValues(source).Add(float64(resp.ResolvedWithoutIncident))
	m.AcceptLatency.WithLabelValues(source).Observe(time.Since(begin).Seconds())
	code := http.StatusOK
	if resp.Queued > 0 {
		m.Queued.WithLabelValues(source).Add(float64(resp.Queued))
		code = http.StatusAccepted // accepted durably; the incident gets it shortly
	}
	writeJSON(w, code, resp)
}

var errTooLarge = errors.New("body too large")

// readBody reads at most MaxBodyBytes, refusing a declared length over it without reading.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > h.opts.MaxBodyBytes {
		return nil, errTooLarge
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
}

// summarize builds the answer, and keeps unmatched and unstartable alerts visible.
func (h *Handler) summarize(source string, d Delivery, unmatched []alert.Alert, outcomes []Outcome) HookResponse {
	now := h.opts.Now()
	resp := HookResponse{Accepted: len(d.Alerts), Unmatched: len(unmatched), Truncated: d.Truncated, Incidents: []IncidentResult{}}
	for _, a := range unmatched {
		isNew, name := h.opts.Unmatched.Record(a, ReasonNoRunbook, now)
		h.opts.Metrics.Unmatched.WithLabelValues(source, name).Inc()
		if isNew {
			h.opts.Logger.Warn("alert matches no runbook: kept in GET /api/v1/alerts/unmatched",
				"alertname", a.Labels["alertname"], "source", a.Source, "key", a.Key, "status", a.Status)
		}
	}
	byIncident := map[string]*IncidentResult{}
	for _, o := range outcomes {
		ir := byIncident[o.WorkflowID]
		if ir == nil {
			ir = &IncidentResult{IncidentID: o.WorkflowID, ShortID: incidents.ShortID(o.WorkflowID), Runbook: o.Runbook}
			byIncident[o.WorkflowID] = ir
			resp.Incidents = append(resp.Incidents, IncidentResult{}) // placeholder, filled below
		}
		ir.Alerts++
		if ir.RunID == "" {
			ir.RunID = o.RunID
		}
		if resultRank[o.Result] > resultRank[ir.Result] {
			ir.Result = o.Result
		}
		switch o.Result {
		case ResultDeduplicated:
			ir.Deduplicated++
			resp.Deduplicated++
		case ResultResolvedWithoutIncident:
			resp.ResolvedWithoutIncident++
		case ResultQueued:
			resp.Queued++
		case ResultNotStarted:
			resp.NotStarted++
			reason := fmt.Sprintf("runbook %s cannot start from this alert: %v", o.Runbook, o.StartErr)
			ir.Error = reason
			if isNew, _ := h.opts.Unmatched.Record(o.Alert, reason, now); isNew {
				h.opts.Logger.Warn("alert started nothing: kept in GET /api/v1/alerts/unmatched", "runbook", o.Runbook,
					"alertname", o.Alert.Labels["alertname"], "source", o.Alert.Source, "key", o.Alert.Key, "err", o.StartErr)
			}
		}
	}
	i := 0
	for _, o := range outcomes { // incidents in the order the delivery first named them
		if ir := byIncident[o.WorkflowID]; ir != nil {
			resp.Incidents[i] = *ir
			delete(byIncident, o.WorkflowID)
			i++
		}
	}
	return resp
}

// resultRank orders results for an incident that got several: the most telling wins.
var resultRank = map[string]int{
	ResultDeduplicated: 1, ResultResolvedWithoutIncident: 2, ResultNotStarted: 3, ResultQueued: 4, ResultSignalled: 5, ResultStarted: 6,
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// errorBody is every refusal: what was wrong and, for a malformed payload, which field.
type errorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, code int, msg, field string) {
	writeJSON(w, code, errorBody{Error: msg, Field: field})
}

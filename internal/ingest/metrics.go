package ingest

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a webhook is rejected (quench_ingest_rejected_total's reason label).
const (
	ReasonUnauthenticated = "unauthenticated"
	ReasonTooLarge        = "too_large"
	ReasonContentType     = "content_type"
	ReasonMalformed       = "malformed"
	ReasonUnavailable     = "unavailable"
	ReasonInboxFull       = "inbox_full"
)

// Metrics are ingest's Prometheus metrics. Deliveries are webhook requests; alerts are the
// alerts inside them.
type Metrics struct {
	Received                *prometheus.CounterVec // deliveries, by source
	Accepted                *prometheus.CounterVec // alerts answered 2xx, by source
	Deduplicated            *prometheus.CounterVec // alerts acknowledged as identical re-sends, by source
	Rejected                *prometheus.CounterVec // deliveries refused, by source and reason
	Unmatched               *prometheus.CounterVec // alerts no runbook matches, by source and alertname
	ResolvedWithoutIncident *prometheus.CounterVec // resolved alerts of no running incident, by source
	Commits                 prometheus.Counter     // signals (with start) sent to Temporal
	AlertsPerCommit         prometheus.Histogram
	AcceptLatency           *prometheus.HistogramVec // from request to 2xx, by source
	Queued                  *prometheus.CounterVec   // alerts answered 202 "queued" (in the inbox), by source
	IncidentsStarted        prometheus.Counter       // commits that started an incident
	InboxRows               prometheus.Gauge         // alerts in the inbox held by this process
}

// NewMetrics creates ingest's metrics and registers them on reg (nil: not registered,
// for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quench_ingest_received_total", Help: "Alert webhook deliveries received, by source.",
		}, []string{"source"}),
		Accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quench_ingest_accepted_total", Help: "Alerts accepted (answered 2xx once durable in Temporal), by source.",
		}, []string{"source"}),
		Deduplicated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quench_ingest_deduplicated_total", Help: "Accepted alerts that were identical re-sends, acknowledged without a new signal, by source.",
		}, []string{"source"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quench_ingest_rejected_total", Help: "Alert webhook deliveries refused, by source and reason.",
		}, []string{"source", "reason"}),
		Unmatched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quench_ingest_unmatched_total", Help: "Alerts no runbook matches (see GET /api/v1/alerts/unmatched), by source and alertname.",
		}, []string{"source", "alertname"}),
		ResolvedWithoutIncident: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quench_ingest_resolved_without_incident_total", Help: "Resolved alerts accepted with no running incident to move on, by source.",
		}, []string{"source"}),
		Commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quench_ingest_commits_total", Help: "Signals (with start) sent to Temporal, each carrying one or more alerts of one incident.",
		}),
		AlertsPerCommit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "quench_ingest_alerts_per_commit", Help: "Alerts carried by one signal to an incident (group commit).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
		}),
		AcceptLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "quench_ingest_accept_latency_seconds", Help: "Time from receiving a webhook to answering it 2xx, by source.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"source"}),
		Queued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "quench_ingest_queued_total", Help: "Alerts accepted into the durable inbox while the dispatcher was saturated (answered 202 queued), by source.",
		}, []string{"source"}),
		IncidentsStarted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "quench_ingest_incidents_started_total", Help: "Incidents started by an alert commit (the others found their incident running).",
		}),
		InboxRows: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "quench_ingest_inbox_rows", Help: "Accepted alerts in the durable inbox that this process has not yet delivered to Temporal.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Received, m.Accepted, m.Deduplicated, m.Rejected, m.Unmatched,
			m.ResolvedWithoutIncident, m.Commits, m.AlertsPerCommit, m.AcceptLatency,
			m.Queued, m.IncidentsStarted, m.InboxRows)
	}
	return m
}

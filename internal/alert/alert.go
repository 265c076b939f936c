// Package alert holds the one alert shape every source is normalised to.
// It is a leaf package: workflows, runbooks, ingest and the CLI all share it.
package alert

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Status of an alert as its source reports it.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Alert is an alert from any source, normalised.
type Alert struct {
	Source      string            `json:"source"`                // alertmanager, grafana, pagerduty, datadog, generic, litellm, langfuse_alerts, cli, slack
	Key         string            `json:"key"`                   // incident key: the alert group (groupKey, incident id, cycle key)
	Fingerprint string            `json:"fingerprint,omitempty"` // one alert inside the group, when the source has one
	Status      string            `json:"status"`                // firing | resolved
	Severity    string            `json:"severity,omitempty"`
	Title       string            `json:"title,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    time.Time         `json:"startsAt,omitempty"`
	EndsAt      time.Time         `json:"endsAt,omitempty"`
	Links       []Link            `json:"links,omitempty"`
	// Raw is the source payload, kept small: parsers cap it (see ingest).
	Raw string `json:"raw,omitempty"`
	// Delivery names the ingest inbox row that carried the alert, "origin/counter": origin is
	// the process that accepted it, counter grows with each row that process writes. An
	// incident ignores a delivery of a fingerprint at or before the last it saw from that
	// origin: the inbox delivers a row again after a crash between Temporal's acknowledgement
	// and the row's delete. Empty for alerts that did not go through the inbox.
	Delivery string `json:"delivery,omitempty"`
}

// Link is a named URL attached to an alert (generator, dashboard, silence).
type Link struct {
	Name string `json:"name"`
	URL  string `json:"url"`
}

// IncidentHash is the first 16 hex digits of sha256(source + "/" + key): the part of an
// alert-started incident's workflow ID that makes a storm of one group land in one workflow.
func IncidentHash(source, key string) string {
	sum := sha256.Sum256([]byte(source + "/" + key))
	return hex.EncodeToString(sum[:])[:16]
}

// Firing reports whether the alert is (still) firing.
func (a Alert) Firing() bool { return a.Status != StatusResolved }

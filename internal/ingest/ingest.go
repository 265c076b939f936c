// Package ingest turns alert webhooks (Alertmanager, Grafana, PagerDuty, Datadog, generic,
// and the LLM stack's own: LiteLLM, Langfuse alerts) into incidents: authenticate the request, parse and normalise the payload to alerts, route
// each alert to the runbooks whose triggers match, and hand it to Temporal durably (a 2xx
// only after the alert is in its incident's workflow), one workflow per alert group.
package ingest

import (
	"fmt"

	"github.com/quench-dev/quench/internal/alert"
)

// Sources quench accepts, as in POST /hooks/{source}.
const (
	SourceAlertmanager = "alertmanager"
	SourceGrafana      = "grafana"
	SourcePagerDuty    = "pagerduty"
	SourceDatadog      = "datadog"
	SourceGeneric      = "generic"
	// SourceLiteLLM takes a LiteLLM proxy's budget webhook events and Slack-format alerts.
	SourceLiteLLM = "litellm"
	// SourceLangfuseAlerts takes Langfuse alert notifications. Not "langfuse": POST
	// /hooks/langfuse is the prompt-version webhook that enforces prompt freezes.
	SourceLangfuseAlerts = "langfuse_alerts"
)

// MaxRawBytes caps Alert.Raw: the raw payload kept with an alert for the timeline and
// postmortem, never the bulk of a storm.
const MaxRawBytes = 4 << 10

// Delivery is one parsed webhook request.
type Delivery struct {
	Source string
	// ID identifies the delivery when the source has one (PagerDuty event.id), for logs.
	ID string
	// Alerts are normalised: each has Source, Key (the group = incident), Fingerprint (one
	// alert in the group), Status, Labels (always including alertname when known).
	Alerts []alert.Alert
	// Truncated counts alerts the sender left out (Alertmanager truncatedAlerts).
	Truncated int
}

// Parser parses one source's payload. A malformed payload returns a *FieldError.
type Parser func(body []byte) (Delivery, error)

// FieldError is a payload that is not what the source sends: it names the field.
type FieldError struct {
	Field string // JSON path, e.g. "alerts[2].labels"
	Msg   string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Msg) }

// Credentials authenticate one source's webhooks. Secrets come from config references
// (env:NAME / file:/path), resolved before they reach here.
type Credentials struct {
	Token      string // bearer token (Authorization: Bearer ...)
	HMACSecret string // the source's signature secret
}

// AuthError is a request that failed authentication; Msg says what to fix (never a secret).
type AuthError struct{ Msg string }

func (e *AuthError) Error() string { return e.Msg }

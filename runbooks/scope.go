package runbooks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/quench-dev/quench/internal/alert"
)

// Scope is what templates and `when` conditions see while an incident runs.
//
// Template keys: .params.X, .alert.labels.X, .alert.annotations.X,
// .alert.severity|key|source|title|status|fingerprint, .steps.ID.outputs.K, .steps.ID.state,
// .incident.id|short_id|runbook|title|requester|gateway.CAPABILITY. CEL variables: params, alert, steps,
// incident, with the same shapes. A nil Alert is an alert with no labels and empty fields.
type Scope struct {
	Params   map[string]string
	Alert    *alert.Alert
	Steps    map[string]StepScope
	Incident IncidentScope
}

// StepScope is one earlier step as templates see it. Outputs come from the step's result
// (after a JSON round trip numbers are float64; CEL compares them with ints all the same).
type StepScope struct {
	State   string
	Outputs map[string]any
}

// IncidentScope identifies the incident to templates.
type IncidentScope struct {
	ID        string
	ShortID   string
	Runbook   string
	Title     string
	Requester string
	// Gateway lists what the incident's gateway can do (GatewayCapabilities), as the start
	// found it: `when: incident.gateway.pin_model` picks a step the gateway can carry out.
	Gateway []string
}

// GatewayCapabilities are the capabilities .incident.gateway has, each true or false:
// ports.Capability's values.
var GatewayCapabilities = []string{"switch", NeedsBlockKey, NeedsPinModel}

// The fields templates may read under .alert and .incident (the validator checks them).
var (
	alertFields    = []string{"labels", "annotations", "severity", "key", "source", "title", "status", "fingerprint"}
	incidentFields = []string{"id", "short_id", "runbook", "title", "requester", "gateway"}
	stepFields     = []string{"outputs", "state"}
	scopeRoots     = []string{"params", "alert", "steps", "incident"}
)

// data is the Scope as plain maps: the template data and the CEL activation. Maps are
// never nil so that a missing label reads as "" rather than failing.
func (s Scope) data() map[string]any {
	params := s.Params
	if params == nil {
		params = map[string]string{}
	}
	return map[string]any{
		"params":   params,
		"alert":    alertData(s.Alert),
		"steps":    stepsData(s.Steps),
		"incident": incidentData(s.Incident),
	}
}

func alertData(a *alert.Alert) map[string]any {
	if a == nil {
		a = &alert.Alert{}
	}
	labels, annotations := a.Labels, a.Annotations
	if labels == nil {
		labels = map[string]string{}
	}
	if annotations == nil {
		annotations = map[string]string{}
	}
	return map[string]any{
		"labels":      labels,
		"annotations": annotations,
		"severity":    a.Severity,
		"key":         a.Key,
		"source":      a.Source,
		"title":       a.Title,
		"status":      a.Status,
		"fingerprint": a.Fingerprint,
	}
}

func stepsData(steps map[string]StepScope) map[string]any {
	out := make(map[string]any, len(steps))
	for id, st := range steps {
		outputs := st.Outputs
		if outputs == nil {
			outputs = map[string]any{}
		}
		out[id] = map[string]any{"state": st.State, "outputs": outputs}
	}
	return out
}

func incidentData(i IncidentScope) map[string]any {
	// Every capability is there, false unless the start said the gateway has it, so a
	// condition over an incident started without the list reads false, not an error.
	gw := make(map[string]bool, len(GatewayCapabilities))
	for _, c := range GatewayCapabilities {
		gw[c] = containsString(i.Gateway, c)
	}
	return map[string]any{
		"id":        i.ID,
		"short_id":  i.ShortID,
		"runbook":   i.Runbook,
		"title":     i.Title,
		"requester": i.Requester,
		"gateway":   gw,
	}
}

// ParamsDigest is the sha256 (hex) of an action and its rendered params in canonical form
// (JSON with sorted keys; nil and empty params are the same). An approval is bound to it:
// approvers approve exactly the params they were shown.
func ParamsDigest(action string, params map[string]string) string {
	if params == nil {
		params = map[string]string{}
	}
	b, _ := json.Marshal(struct {
		Action string            `json:"action"`
		Params map[string]string `json:"params"`
	}{action, params}) // a string map always marshals
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ShortDigest is the first 12 hex digits of a digest, for display ("approve abc123def456").
func ShortDigest(d string) string {
	if len(d) <= 12 {
		return d
	}
	return d[:12]
}

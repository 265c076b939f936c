package ingest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/quench-dev/quench/internal/alert"
)

// Langfuse alert names, by the metric the alert watches.
const (
	LangfuseLatencyAlert = "LangfuseLatencyAlert" // provider-outage
	LangfuseErrorAlert   = "LangfuseErrorAlert"   // provider-outage
	LangfuseCostAlert    = "LangfuseCostAlert"    // cost-runaway (when a filter names the agent)
	LangfuseScoreAlert   = "LangfuseScoreAlert"   // prompt-regression
	LangfuseAlert        = "LangfuseAlert"        // a metric quench cannot name
	// LangfuseWarning and LangfuseNoData are an alert's WARNING and NO_DATA states: kept
	// visible, matched by no built-in runbook (a warning does not fail over a route).
	LangfuseWarning = "LangfuseWarning"
	LangfuseNoData  = "LangfuseNoData"
)

// ParseLangfuseAlerts parses a Langfuse alert (formerly "monitor") notification, the
// signed body of an automation with event source Alert and a Webhook action:
//
//	{"id": "…", "timestamp": "…", "type": "monitor-alert", "apiVersion": "v1",
//	 "payload": {"monitorId": "…", "projectId": "…", "permalink": "https://…",
//	  "message": {"title": "…", "body": "…"}, "severity": "ALERT",
//	  "timestamp": "…", "fromTimestamp": "…", "toTimestamp": "…",
//	  "view": "observations", "filters": [{"column": "…", "operator": "=", "value": "…"}],
//	  "window": "3600000"}}
//
// One incident per alert (Key langfuse/<projectId>/<monitorId>). Severity ALERT is firing
// and OK (the recovery) resolved; WARNING and NO_DATA are firing under their own alert
// names (LangfuseWarning, LangfuseNoData), which no built-in runbook matches; UNKNOWN and
// PAUSED give no alert.
//
// Langfuse's payload has no metric field, and a recovery must carry the labels of its
// breach to reach the same incident, so the alertname comes only from what both carry: the
// alert's name (the title without its "[OK] " style prefix), the view and the filters. A
// scores view is a score; a filter level = ERROR, or "error" in the name, is errors;
// "latency", "duration" or "ttft" in the name is latency; "cost" or "spend" is cost.
// Single-valued filters become labels: userId or metadata agent.key → agent, the model →
// model, environment, promptName → prompt, metadata route → route.
//
// A prompt-version event (the other Langfuse webhook) is refused with a pointer to
// /hooks/langfuse, where quench enforces prompt freezes.
func ParseLangfuseAlerts(body []byte) (Delivery, error) {
	root, err := decodeBody(body)
	if err != nil {
		return Delivery{}, err
	}
	d := Delivery{Source: SourceLangfuseAlerts}
	typ, err := root.requiredStr("type", `"monitor-alert"`)
	if err != nil {
		return d, err
	}
	switch typ {
	case "monitor-alert":
	case "prompt-version":
		return d, &FieldError{Field: "type", Msg: `"prompt-version" is a prompt change, not an alert: point this Langfuse automation at /hooks/langfuse (prompts.langfuse.webhook_secret) instead`}
	default:
		return d, &FieldError{Field: "type", Msg: fmt.Sprintf(`unknown event type %q: this hook takes Langfuse alert notifications ("monitor-alert")`, shortForMsg(typ))}
	}
	if v, err := root.str("apiVersion"); err != nil {
		return d, err
	} else if v != "" && v != "v1" {
		return d, &FieldError{Field: "apiVersion", Msg: fmt.Sprintf(`is %q: quench reads Langfuse's "v1" alert payload`, shortForMsg(v))}
	}
	if d.ID, err = root.str("id"); err != nil {
		return d, err
	}
	d.ID = capText(d.ID, maxTitleBytes)
	p, ok, err := root.object("payload")
	if err != nil {
		return d, err
	}
	if !ok {
		return d, &FieldError{Field: "payload", Msg: "required: the alert that changed severity"}
	}
	severity, err := p.requiredStr("severity", "ALERT, WARNING, OK, NO_DATA, UNKNOWN or PAUSED")
	if err != nil {
		return d, err
	}
	var status string
	switch severity {
	case "ALERT", "WARNING", "NO_DATA":
		status = alert.StatusFiring
	case "OK":
		status = alert.StatusResolved
	case "UNKNOWN", "PAUSED":
		return d, nil // not evaluated, or paused: nothing happened to the metric
	default:
		return d, &FieldError{Field: p.at("severity"), Msg: fmt.Sprintf("unknown severity %q: expected ALERT, WARNING, OK, NO_DATA, UNKNOWN or PAUSED", shortForMsg(severity))}
	}
	monitorID, err := p.requiredStr("monitorId", "the alert's id is the incident key")
	if err != nil {
		return d, err
	}
	projectID, err := p.requiredStr("projectId", "the alert's project")
	if err != nil {
		return d, err
	}
	key := "langfuse/" + projectID + "/" + monitorID
	if err := checkKey(p.at("monitorId"), key); err != nil {
		return d, err
	}
	a := alert.Alert{Source: SourceLangfuseAlerts, Key: key, Fingerprint: key, Status: status, Severity: langfuseSeverity[severity]}
	var title, msgBody string
	if msg, ok, err := p.object("message"); err != nil {
		return d, err
	} else if ok {
		if title, err = msg.str("title"); err != nil {
			return d, err
		}
		if msgBody, err = msg.str("body"); err != nil {
			return d, err
		}
	}
	name := langfuseAlertName(title)
	view, err := p.str("view")
	if err != nil {
		return d, err
	}
	labels := map[string]string{"langfuse_project": capText(projectID, MaxLabelValueBytes), "langfuse_alert_id": capText(monitorID, MaxLabelValueBytes)}
	setLabel(labels, "langfuse_view", strings.ToLower(view))
	errorsFilter, err := langfuseFilters(p, labels)
	if err != nil {
		return d, err
	}
	metric := langfuseMetric(name, view, errorsFilter)
	labels["alertname"] = metric
	switch severity {
	case "WARNING":
		labels["alertname"] = LangfuseWarning
	case "NO_DATA":
		labels["alertname"] = LangfuseNoData
	}
	annotations := map[string]string{"severity": severity, "metric_alert": metric}
	if name != "" {
		annotations["alert_name"] = capText(name, MaxAnnotationValueBytes)
	}
	summary := strings.TrimSpace(title)
	if summary == "" {
		summary = "Langfuse alert " + monitorID + " is " + severity
	}
	annotations["summary"] = capText(summary, MaxAnnotationValueBytes)
	if msgBody != "" {
		annotations["description"] = capText(msgBody, MaxAnnotationValueBytes)
	}
	if w, err := p.strOrNumber("window"); err != nil {
		return d, err
	} else if w != "" {
		annotations["window"] = capText(w, MaxAnnotationValueBytes)
	}
	for _, f := range []string{"fromTimestamp", "toTimestamp"} {
		t, err := p.timestamp(f)
		if err != nil {
			return d, err
		}
		if !t.IsZero() {
			annotations[f] = t.Format("2006-01-02T15:04:05Z07:00")
		}
	}
	at, err := p.timestamp("timestamp")
	if err != nil {
		return d, err
	}
	if status == alert.StatusFiring {
		a.StartsAt = at
	}
	a.EndsAt = endsAtFor(status, at)
	if a.Links, err = p.appendLink(a.Links, "permalink", "langfuse"); err != nil {
		return d, err
	}
	a.Title = capText(summary, maxTitleBytes)
	a.Labels, a.Annotations = labels, annotations
	a.Raw = rawCapped(body)
	d.Alerts = []alert.Alert{a}
	return d, nil
}

var langfuseSeverity = map[string]string{"ALERT": "critical", "WARNING": "warning", "NO_DATA": "warning", "OK": "info"}

// langfuseTitlePrefix is the "[OK] " (or "[ALERT] ", "[WARNING] ", "[NO_DATA] ") Langfuse
// puts before an alert's name in a notification's title.
var langfuseTitlePrefix = regexp.MustCompile(`^\s*\[(?:OK|ALERT|WARNING|NO_DATA|RECOVERED|RESOLVED)\]\s*`)

func langfuseAlertName(title string) string {
	return strings.TrimSpace(langfuseTitlePrefix.ReplaceAllString(title, ""))
}

// langfuseMetric names the alert by the metric it watches, from what a breach and its
// recovery both carry.
func langfuseMetric(name, view string, errorsFilter bool) string {
	n, v := strings.ToLower(name), strings.ToLower(view)
	switch {
	case strings.Contains(v, "score"):
		return LangfuseScoreAlert
	case errorsFilter || strings.Contains(n, "error"):
		return LangfuseErrorAlert
	case strings.Contains(n, "latency") || strings.Contains(n, "duration") || strings.Contains(n, "ttft") || strings.Contains(n, "time to first token"):
		return LangfuseLatencyAlert
	case strings.Contains(n, "cost") || strings.Contains(n, "spend"):
		return LangfuseCostAlert
	}
	return LangfuseAlert
}

// langfuseColumnLabel maps a filter column (folded: lower case, no spaces, _ or .) to the
// label a single-valued filter on it becomes.
var langfuseColumnLabel = map[string]string{
	"userid": "agent", "user": "agent",
	"model": "model", "modelname": "model", "providedmodelname": "model", "modelid": "model",
	"environment": "environment", "env": "environment",
	"promptname": "prompt", "prompt": "prompt",
}

// langfuseMetadataLabel maps a metadata filter's key to its label.
var langfuseMetadataLabel = map[string]string{"agent.key": "agent", "route": "route", "quench.route": "route"}

func foldColumn(s string) string {
	return strings.NewReplacer(" ", "", "_", "", ".", "", "-", "").Replace(strings.ToLower(s))
}

// langfuseFilters turns single-valued filters into labels and reports whether one selects
// only ERROR-level observations.
func langfuseFilters(p jsonObject, labels map[string]string) (errorsOnly bool, err error) {
	items, ok, err := p.array("filters")
	if err != nil || !ok {
		return false, err
	}
	if len(items) > MaxLabels {
		return false, &FieldError{Field: p.at("filters"), Msg: fmt.Sprintf("has %d filters: at most %d are accepted", len(items), MaxLabels)}
	}
	for i, raw := range items {
		f, err := decodeObject(fmt.Sprintf("%s[%d]", p.at("filters"), i), raw)
		if err != nil {
			return false, err
		}
		column, err := f.str("column")
		if err != nil {
			return false, err
		}
		op, err := f.str("operator")
		if err != nil {
			return false, err
		}
		value, ok := langfuseSingleValue(f, op)
		if !ok {
			continue
		}
		col := foldColumn(column)
		if col == "level" && strings.EqualFold(value, "ERROR") {
			errorsOnly = true
			continue
		}
		label := langfuseColumnLabel[col]
		if col == "metadata" {
			mk, err := f.str("key")
			if err != nil {
				return false, err
			}
			label = langfuseMetadataLabel[strings.ToLower(mk)]
		}
		if label != "" && labels[label] == "" {
			setLabel(labels, label, value)
		}
	}
	return errorsOnly, nil
}

// langfuseSingleValue reads a filter that selects exactly one string value: "=" with a
// string, or "any of" with a one-element list. Other filters say nothing a label can hold.
func langfuseSingleValue(f jsonObject, op string) (string, bool) {
	raw, ok := f.raw("value")
	if !ok {
		return "", false
	}
	switch strings.ToLower(op) {
	case "=":
		var s string
		if rawKind(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		s = strings.TrimSpace(s)
		return s, s != ""
	case "any of":
		var list []string
		if rawKind(raw) != "an array" || json.Unmarshal(raw, &list) != nil || len(list) != 1 {
			return "", false
		}
		s := strings.TrimSpace(list[0])
		return s, s != ""
	}
	return "", false
}

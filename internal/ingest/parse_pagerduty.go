package ingest

import (
	"fmt"
	"strconv"

	"github.com/quench-dev/quench/internal/alert"
)

// PagerDutyAlertName is the alertname label of every PagerDuty incident, for runbook
// triggers (match further on service, urgency or priority).
const PagerDutyAlertName = "PagerDutyIncident"

// pagerDutyStatus maps the incident event types quench acts on to an alert status. Any other
// event type (incident.annotated, incident.responder.added, incident.status_update_published,
// pagey.ping, service.*) parses to a Delivery with no alerts: the handler answers 2xx, so
// PagerDuty does not retry or disable the subscription, and nothing is started.
var pagerDutyStatus = map[string]string{
	"incident.triggered":        alert.StatusFiring,
	"incident.acknowledged":     alert.StatusFiring,
	"incident.unacknowledged":   alert.StatusFiring,
	"incident.escalated":        alert.StatusFiring,
	"incident.reassigned":       alert.StatusFiring,
	"incident.delegated":        alert.StatusFiring,
	"incident.priority_updated": alert.StatusFiring,
	"incident.reopened":         alert.StatusFiring,
	"incident.resolved":         alert.StatusResolved,
}

// ParsePagerDuty parses a PagerDuty v3 webhook:
//
//	{"event":{"id":"01DEN...","event_type":"incident.triggered","resource_type":"incident",
//	 "occurred_at":"...","agent":{...},"data":{"id":"PGR0VU2","type":"incident","number":2,
//	 "status":"triggered","title":"...","html_url":"...","created_at":"...","urgency":"high",
//	 "service":{"id":"PF9KMXH","summary":"checkout","html_url":"..."},
//	 "priority":{"summary":"P1"}}}}
//
// The incident is both the Key and the Fingerprint (data.id); ID is the delivery (event.id).
// Labels: alertname=PagerDutyIncident, pagerduty_incident, service, pagerduty_service_id,
// urgency, priority. Severity is the priority (P1...) or, without one, the urgency.
//
// An event that is not about the lifecycle of an incident gives zero alerts (see
// pagerDutyStatus). A lifecycle event about an incident already resolved (say a
// priority_updated after the fact) is reported resolved, so it can never start an incident.
func ParsePagerDuty(body []byte) (Delivery, error) {
	root, err := decodeBody(body)
	if err != nil {
		return Delivery{}, err
	}
	ev, ok, err := root.object("event")
	if err != nil {
		return Delivery{}, err
	}
	if !ok {
		return Delivery{}, &FieldError{Field: "event", Msg: "required: a PagerDuty v3 webhook carries one event (v2 webhooks are not supported)"}
	}
	d := Delivery{Source: SourcePagerDuty}
	if d.ID, err = ev.str("id"); err != nil {
		return Delivery{}, err
	}
	d.ID = capText(d.ID, maxTitleBytes)
	eventType, err := ev.requiredStr("event_type", "e.g. incident.triggered")
	if err != nil {
		return Delivery{}, err
	}
	status, acted := pagerDutyStatus[eventType]
	if !acted {
		return d, nil
	}
	if rt, err := ev.str("resource_type"); err != nil {
		return Delivery{}, err
	} else if rt != "" && rt != "incident" {
		return Delivery{}, &FieldError{Field: ev.at("resource_type"), Msg: fmt.Sprintf("is %q: an %s event is about an incident", shortForMsg(rt), eventType)}
	}
	data, ok, err := ev.object("data")
	if err != nil {
		return Delivery{}, err
	}
	if !ok {
		return Delivery{}, &FieldError{Field: ev.at("data"), Msg: "required: the incident the event is about"}
	}
	a, err := pagerDutyAlert(ev, data, status)
	if err != nil {
		return Delivery{}, err
	}
	a.Raw = rawCapped(root.fields["event"])
	d.Alerts = []alert.Alert{a}
	return d, nil
}

func pagerDutyAlert(ev, data jsonObject, status string) (alert.Alert, error) {
	a := alert.Alert{Source: SourcePagerDuty, Status: status}
	if t, err := data.str("type"); err != nil {
		return a, err
	} else if t != "" && t != "incident" {
		return a, &FieldError{Field: data.at("type"), Msg: fmt.Sprintf("is %q: expected \"incident\"", shortForMsg(t))}
	}
	id, err := data.requiredStr("id", "the incident id is the incident key")
	if err != nil {
		return a, err
	}
	if err := checkKey(data.at("id"), id); err != nil {
		return a, err
	}
	a.Key, a.Fingerprint = id, id
	incidentStatus, err := data.str("status")
	if err != nil {
		return a, err
	}
	switch incidentStatus {
	case "", "triggered", "acknowledged":
	case "resolved":
		a.Status = alert.StatusResolved
	default:
		return a, &FieldError{Field: data.at("status"), Msg: fmt.Sprintf(`unknown incident status %q: expected "triggered", "acknowledged" or "resolved"`, shortForMsg(incidentStatus))}
	}
	labels := map[string]string{"alertname": PagerDutyAlertName, "pagerduty_incident": id}
	annotations := map[string]string{}
	title, err := data.str("title")
	if err != nil {
		return a, err
	}
	if number, err := data.count("number"); err != nil {
		return a, err
	} else if number > 0 {
		annotations["incident_number"] = strconv.Itoa(number)
		if title == "" {
			title = fmt.Sprintf("PagerDuty incident #%d", number)
		}
	}
	a.Title = capText(title, maxTitleBytes)
	if title != "" {
		annotations["summary"] = capText(title, MaxAnnotationValueBytes)
	}
	eventType, _ := ev.str("event_type")
	annotations["event_type"] = eventType
	urgency, err := data.str("urgency")
	if err != nil {
		return a, err
	}
	setLabel(labels, "urgency", urgency)
	if a.Links, err = data.appendLink(a.Links, "html_url", "incident"); err != nil {
		return a, err
	}
	if svc, ok, err := data.object("service"); err != nil {
		return a, err
	} else if ok {
		if err := pagerDutyRef(svc, labels, "service", "pagerduty_service_id"); err != nil {
			return a, err
		}
		if a.Links, err = svc.appendLink(a.Links, "html_url", "service"); err != nil {
			return a, err
		}
	}
	if prio, ok, err := data.object("priority"); err != nil {
		return a, err
	} else if ok {
		if err := pagerDutyRef(prio, labels, "priority", ""); err != nil {
			return a, err
		}
	}
	a.Severity = labels["priority"]
	if a.Severity == "" {
		a.Severity = urgency
	}
	if agent, ok, err := ev.object("agent"); err != nil {
		return a, err
	} else if ok {
		s, err := agent.str("summary")
		if err != nil {
			return a, err
		}
		if s != "" {
			annotations["agent"] = capText(s, MaxAnnotationValueBytes)
		}
	}
	if a.StartsAt, err = data.timestamp("created_at"); err != nil {
		return a, err
	}
	occurred, err := ev.timestamp("occurred_at")
	if err != nil {
		return a, err
	}
	if a.StartsAt.IsZero() && a.Status == alert.StatusFiring {
		a.StartsAt = occurred
	}
	a.EndsAt = endsAtFor(a.Status, occurred)
	a.Labels, a.Annotations = labels, annotations
	return a, nil
}

// pagerDutyRef reads a PagerDuty reference object ({id, summary, html_url}) into labels:
// summary under summaryLabel, id under idLabel.
func pagerDutyRef(ref jsonObject, labels map[string]string, summaryLabel, idLabel string) error {
	summary, err := ref.str("summary")
	if err != nil {
		return err
	}
	setLabel(labels, summaryLabel, summary)
	if idLabel != "" {
		id, err := ref.str("id")
		if err != nil {
			return err
		}
		setLabel(labels, idLabel, id)
	}
	return nil
}

// setLabel sets a non-empty value, cut to the label limit (these labels are built from
// display names, not sent as identity, so cutting is safer than refusing the incident).
func setLabel(labels map[string]string, name, value string) {
	if value != "" {
		labels[name] = capText(value, MaxLabelValueBytes)
	}
}

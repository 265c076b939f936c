package ingest

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/quench-dev/quench/internal/alert"
)

// GenericFormat documents the payload of POST /hooks/generic (published in the README).
const GenericFormat = `POST /hooks/generic, Content-Type: application/json, one JSON object:

  {
    "key":         "checkout-latency",      required: the incident key; one key = one incident
    "status":      "firing",                "firing" (default) or "resolved"
    "title":       "Checkout p99 over 2s",
    "severity":    "critical",              default: labels.severity
    "labels":      {"alertname": "CheckoutLatency", "service": "checkout"},
    "annotations": {"summary": "p99 2.4s for 10m", "runbook_url": "https://..."},
    "fingerprint": "checkout-eu",           optional: tells alerts under one key apart
                                            (default: a hash of the labels)
    "starts_at":   "2024-05-01T12:00:00Z",  RFC 3339
    "ends_at":     "2024-05-01T12:30:00Z",  RFC 3339, kept for a resolved alert
    "links":       [{"name": "dashboard", "url": "https://grafana.example.com/d/abc"}]
  }

Runbook triggers match on labels: always set labels.alertname. A resolved alert never starts
an incident; it moves on the one its key started.

A batch puts several alerts under "alerts"; the fields at the top level are defaults for every
entry (labels and annotations are merged, the entry's own values winning). An optional "id"
names the delivery in logs:

  {"id": "deploy-42", "key": "deploy-42", "labels": {"alertname": "DeployCheck"},
   "alerts": [{"labels": {"check": "errors"}, "status": "resolved"},
              {"labels": {"check": "latency"}, "title": "p99 up 40%"}]}

Limits: 100 labels of at most 4 KiB each, 100 annotations (longer values are cut), 20 links,
http(s) links only; duplicate keys anywhere in the object are refused.
`

// maxGenericLinks bounds the links of one generic alert.
const maxGenericLinks = 20

// genericFields are the fields one level (top or an entry of alerts) may set.
type genericFields struct {
	key, status, title, severity, fingerprint string
	labels, annotations                       map[string]string
	startsAt, endsAt                          string // raw, parsed once merged (for the path)
	startsPath, endsPath                      string
	links                                     []alert.Link
}

// ParseGeneric parses the format GenericFormat documents.
func ParseGeneric(body []byte) (Delivery, error) {
	root, err := decodeBody(body)
	if err != nil {
		return Delivery{}, err
	}
	d := Delivery{Source: SourceGeneric}
	if d.ID, err = root.str("id"); err != nil {
		return Delivery{}, err
	}
	d.ID = capText(d.ID, maxTitleBytes)
	top, err := readGenericFields(root)
	if err != nil {
		return Delivery{}, err
	}
	items, batch, err := root.array("alerts")
	if err != nil {
		return Delivery{}, err
	}
	if !batch {
		a, err := top.alert(root)
		if err != nil {
			return Delivery{}, err
		}
		a.Raw = rawCapped(body)
		d.Alerts = []alert.Alert{a}
		return d, nil
	}
	if len(items) == 0 {
		return Delivery{}, &FieldError{Field: "alerts", Msg: "is empty: send at least one alert, or leave alerts out for a single alert"}
	}
	d.Alerts = make([]alert.Alert, 0, len(items))
	for i, item := range items {
		obj, err := decodeObject(fmt.Sprintf("alerts[%d]", i), item)
		if err != nil {
			return Delivery{}, err
		}
		own, err := readGenericFields(obj)
		if err != nil {
			return Delivery{}, err
		}
		a, err := top.under(own).alert(obj)
		if err != nil {
			return Delivery{}, err
		}
		a.Raw = rawCapped(item)
		d.Alerts = append(d.Alerts, a)
	}
	return d, nil
}

func readGenericFields(o jsonObject) (genericFields, error) {
	var f genericFields
	var err error
	for _, s := range []struct {
		name string
		dst  *string
	}{
		{"key", &f.key}, {"title", &f.title}, {"severity", &f.severity},
		{"starts_at", &f.startsAt}, {"ends_at", &f.endsAt},
	} {
		if *s.dst, err = o.str(s.name); err != nil {
			return f, err
		}
	}
	if f.fingerprint, err = o.optionalFingerprint("fingerprint"); err != nil {
		return f, err
	}
	if f.status, err = o.status("status", false); err != nil {
		return f, err
	}
	if f.labels, err = o.labels("labels"); err != nil {
		return f, err
	}
	if f.annotations, err = o.annotations("annotations"); err != nil {
		return f, err
	}
	f.startsPath, f.endsPath = o.at("starts_at"), o.at("ends_at")
	links, _, err := o.array("links")
	if err != nil {
		return f, err
	}
	if len(links) > maxGenericLinks {
		return f, &FieldError{Field: o.at("links"), Msg: fmt.Sprintf("has %d links: at most %d are accepted", len(links), maxGenericLinks)}
	}
	for i, raw := range links {
		l, err := genericLink(fmt.Sprintf("%s[%d]", o.at("links"), i), raw)
		if err != nil {
			return f, err
		}
		f.links = append(f.links, l)
	}
	return f, nil
}

func genericLink(path string, raw json.RawMessage) (alert.Link, error) {
	obj, err := decodeObject(path, raw)
	if err != nil {
		return alert.Link{}, err
	}
	name, err := obj.str("name")
	if err != nil {
		return alert.Link{}, err
	}
	u, err := obj.requiredStr("url", "an absolute http(s) URL")
	if err != nil {
		return alert.Link{}, err
	}
	l, err := link(obj.at("url"), capText(name, maxTitleBytes), u)
	if err != nil {
		return alert.Link{}, err
	}
	return *l, nil
}

// under returns own with the unset fields taken from f (the top level).
func (f genericFields) under(own genericFields) genericFields {
	pick := func(mine, top string) string {
		if mine != "" {
			return mine
		}
		return top
	}
	out := own
	out.key, out.status = pick(own.key, f.key), pick(own.status, f.status)
	out.title, out.severity = pick(own.title, f.title), pick(own.severity, f.severity)
	if own.startsAt == "" {
		out.startsAt, out.startsPath = f.startsAt, f.startsPath
	}
	if own.endsAt == "" {
		out.endsAt, out.endsPath = f.endsAt, f.endsPath
	}
	out.labels = mergeMaps(f.labels, own.labels)
	out.annotations = mergeMaps(f.annotations, own.annotations)
	out.links = append(append([]alert.Link(nil), own.links...), f.links...)
	return out
}

func mergeMaps(base, over map[string]string) map[string]string {
	if len(base) == 0 {
		return over
	}
	m := maps.Clone(base)
	maps.Copy(m, over)
	return m
}

// alert validates the merged fields of the alert read from o.
func (f genericFields) alert(o jsonObject) (alert.Alert, error) {
	a := alert.Alert{Source: SourceGeneric, Key: f.key, Status: f.status, Labels: f.labels, Annotations: f.annotations, Links: f.links}
	if a.Key == "" {
		msg := "required: the incident key (alerts with one key are one incident)"
		if o.path != "" {
			msg = "required, here or at the top level: the incident key"
		}
		return a, &FieldError{Field: o.at("key"), Msg: msg}
	}
	if err := checkKey(o.at("key"), a.Key); err != nil {
		return a, err
	}
	if a.Status == "" {
		a.Status = alert.StatusFiring
	}
	if len(a.Labels) > MaxLabels {
		return a, &FieldError{Field: o.at("labels"), Msg: fmt.Sprintf("with the top-level labels, %d labels: at most %d are accepted", len(a.Labels), MaxLabels)}
	}
	if len(a.Annotations) > MaxAnnotations {
		return a, &FieldError{Field: o.at("annotations"), Msg: fmt.Sprintf("with the top-level annotations, %d annotations: at most %d are accepted", len(a.Annotations), MaxAnnotations)}
	}
	if len(a.Links) > maxGenericLinks {
		return a, &FieldError{Field: o.at("links"), Msg: fmt.Sprintf("with the top-level links, %d links: at most %d are accepted", len(a.Links), maxGenericLinks)}
	}
	var err error
	if a.StartsAt, err = parseTime(f.startsPath, f.startsAt); err != nil {
		return a, err
	}
	endsAt, err := parseTime(f.endsPath, f.endsAt)
	if err != nil {
		return a, err
	}
	a.EndsAt = endsAtFor(a.Status, endsAt)
	a.Fingerprint = f.fingerprint
	if a.Fingerprint == "" {
		a.Fingerprint = labelsFingerprint(a.Labels)
	}
	a.Severity = capText(f.severity, maxTitleBytes)
	if a.Severity == "" {
		a.Severity = a.Labels["severity"]
	}
	a.Title = capText(f.title, maxTitleBytes)
	if a.Title == "" {
		a.Title = titleFrom(a.Labels, a.Annotations)
	}
	return a, nil
}

package ingest

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/quench-dev/quench/internal/alert"
)

// ParseAlertmanager parses an Alertmanager webhook (version "4"):
//
//	{"version":"4","groupKey":"{}:{alertname=\"X\"}","status":"firing","receiver":"quench",
//	 "truncatedAlerts":0,"externalURL":"http://am:9093","groupLabels":{},"commonLabels":{},
//	 "commonAnnotations":{},"alerts":[{"status":"firing","labels":{...},"annotations":{...},
//	 "startsAt":"...","endsAt":"0001-01-01T00:00:00Z","generatorURL":"...","fingerprint":"..."}]}
//
// One Alert per entry of alerts, all with Key = groupKey (the group is the incident) and the
// alert's own status: a group still firing may carry alerts already resolved. Labels are the
// alert's own (they already include the common ones). Links: "generator" (the rule's
// expression in Prometheus) and "silence" (a prefilled Alertmanager silence form).
func ParseAlertmanager(body []byte) (Delivery, error) {
	return parseAlertmanagerShape(SourceAlertmanager, body, amFlavor{
		version: "4",
		versionHint: map[string]string{
			"1": `version "1" is Grafana's format: point Grafana at /hooks/grafana`,
		},
		silenceLinks: true,
	})
}

// amFlavor is what differs between the Alertmanager payload and Grafana's extension of it.
type amFlavor struct {
	version     string
	versionHint map[string]string // other versions -> what to do instead
	// silenceLinks builds an Alertmanager silence link from externalURL (Grafana sends its own).
	silenceLinks bool
	// extra reads source-specific alert fields into a.
	extra func(obj jsonObject, a *alert.Alert) error
}

func parseAlertmanagerShape(source string, body []byte, fl amFlavor) (Delivery, error) {
	root, err := decodeBody(body)
	if err != nil {
		return Delivery{}, err
	}
	if err := checkVersion(root, source, fl); err != nil {
		return Delivery{}, err
	}
	key, err := root.requiredStr("groupKey", "the group key identifies the incident")
	if err != nil {
		return Delivery{}, err
	}
	if err := checkKey("groupKey", key); err != nil {
		return Delivery{}, err
	}
	if _, err := root.status("status", true); err != nil {
		return Delivery{}, err
	}
	truncated, err := root.count("truncatedAlerts")
	if err != nil {
		return Delivery{}, err
	}
	externalURL, err := root.str("externalURL")
	if err != nil {
		return Delivery{}, err
	}
	if fl.silenceLinks {
		if _, err := link("externalURL", "", externalURL); err != nil {
			return Delivery{}, err
		}
	}
	items, _, err := root.array("alerts")
	if err != nil {
		return Delivery{}, err
	}
	if len(items) == 0 {
		return Delivery{}, &FieldError{Field: "alerts", Msg: "required: at least one alert"}
	}
	d := Delivery{Source: source, Truncated: truncated, Alerts: make([]alert.Alert, 0, len(items))}
	for i, item := range items {
		obj, err := decodeObject(fmt.Sprintf("alerts[%d]", i), item)
		if err != nil {
			return Delivery{}, err
		}
		a, err := amAlert(source, key, externalURL, obj, fl)
		if err != nil {
			return Delivery{}, err
		}
		a.Raw = rawCapped(item)
		d.Alerts = append(d.Alerts, a)
	}
	return d, nil
}

func checkVersion(root jsonObject, source string, fl amFlavor) error {
	v, err := root.str("version")
	if err != nil {
		return err
	}
	if v == fl.version {
		return nil
	}
	msg := fmt.Sprintf("unsupported version %q: the %s hook reads version %q", shortForMsg(v), source, fl.version)
	if v == "" {
		msg = fmt.Sprintf("missing: the %s hook reads version %q", source, fl.version)
	}
	if hint := fl.versionHint[v]; hint != "" {
		msg += " (" + hint + ")"
	}
	return &FieldError{Field: "version", Msg: msg}
}

// amAlert normalises one entry of alerts.
func amAlert(source, key, externalURL string, obj jsonObject, fl amFlavor) (alert.Alert, error) {
	a := alert.Alert{Source: source, Key: key}
	var err error
	if a.Status, err = obj.status("status", true); err != nil {
		return a, err
	}
	if a.Labels, err = obj.labels("labels"); err != nil {
		return a, err
	}
	if len(a.Labels) == 0 {
		return a, &FieldError{Field: obj.at("labels"), Msg: "required: an alert has at least its alertname label"}
	}
	if a.Annotations, err = obj.annotations("annotations"); err != nil {
		return a, err
	}
	if a.StartsAt, err = obj.timestamp("startsAt"); err != nil {
		return a, err
	}
	endsAt, err := obj.timestamp("endsAt")
	if err != nil {
		return a, err
	}
	a.EndsAt = endsAtFor(a.Status, endsAt)
	if a.Fingerprint, err = obj.fingerprint("fingerprint", a.Labels); err != nil {
		return a, err
	}
	a.Severity = a.Labels["severity"]
	a.Title = titleFrom(a.Labels, a.Annotations)
	if a.Links, err = obj.appendLink(a.Links, "generatorURL", "generator"); err != nil {
		return a, err
	}
	if fl.silenceLinks && externalURL != "" {
		if l := amSilenceLink(externalURL, a.Labels); len(l) <= maxURLBytes {
			a.Links = append(a.Links, alert.Link{Name: "silence", URL: l})
		}
	}
	if fl.extra != nil {
		if err := fl.extra(obj, &a); err != nil {
			return a, err
		}
	}
	return a, nil
}

// amSilenceLink is the Alertmanager UI's new-silence form prefilled with the alert's labels,
// as Alertmanager's own notification templates link it.
func amSilenceLink(externalURL string, labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	matchers := make([]string, 0, len(names))
	for _, k := range names {
		matchers = append(matchers, k+"="+strconv.Quote(labels[k]))
	}
	filter := "{" + strings.Join(matchers, ",") + "}"
	return strings.TrimRight(externalURL, "/") + "/#/silences/new?filter=" + url.QueryEscape(filter)
}

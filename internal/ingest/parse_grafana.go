package ingest

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/quench-dev/quench/internal/alert"
)

// ParseGrafana parses a Grafana unified-alerting webhook: the Alertmanager payload plus
// version "1", orgId, state ("alerting"|"ok"), title and message (rendered for the whole
// group), and per alert silenceURL, dashboardURL, panelURL, imageURL and values (the query
// results, e.g. {"B": 0.93}).
//
// Normalised as Alertmanager's (Key = groupKey, one Alert per alert with its own status),
// with links "generator" (the rule), "silence", "dashboard", "panel" and "image", and each
// value as the annotation "value.<refID>" (e.g. "value.B": "0.93"). The group-level title
// and message are not copied: each alert has its own summary.
//
// Legacy (pre-unified) Grafana alerting sends no version and is refused.
func ParseGrafana(body []byte) (Delivery, error) {
	return parseAlertmanagerShape(SourceGrafana, body, amFlavor{
		version: "1",
		versionHint: map[string]string{
			"4": `version "4" is Alertmanager's format: point Alertmanager at /hooks/alertmanager`,
			"":  "legacy Grafana alerting is not supported: use Grafana unified alerting",
		},
		extra: grafanaAlert,
	})
}

// grafanaValuePrefix names the annotation that carries a query value: value.B.
const grafanaValuePrefix = "value."

func grafanaAlert(obj jsonObject, a *alert.Alert) error {
	var err error
	for _, l := range []struct{ field, name string }{
		{"silenceURL", "silence"},
		{"dashboardURL", "dashboard"},
		{"panelURL", "panel"},
		{"imageURL", "image"},
	} {
		if a.Links, err = obj.appendLink(a.Links, l.field, l.name); err != nil {
			return err
		}
	}
	values, ok, err := obj.object("values")
	if err != nil || !ok {
		return err
	}
	if len(values.fields) > MaxLabels {
		return &FieldError{Field: obj.at("values"), Msg: fmt.Sprintf("has %d entries: at most %d are accepted", len(values.fields), MaxLabels)}
	}
	refs := make([]string, 0, len(values.fields))
	for ref := range values.fields {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	for _, ref := range refs {
		if ref == "" || len(grafanaValuePrefix+ref) > MaxLabelNameBytes {
			return &FieldError{Field: obj.at("values"), Msg: fmt.Sprintf("value name %q must be 1 to %d bytes", shortForMsg(ref), MaxLabelNameBytes-len(grafanaValuePrefix))}
		}
		raw, ok := values.raw(ref)
		if !ok {
			continue // null: the query returned no value
		}
		f, err := parseFloatField(values.at(ref), raw)
		if err != nil {
			return err
		}
		if a.Annotations == nil {
			a.Annotations = map[string]string{}
		}
		a.Annotations[grafanaValuePrefix+ref] = strconv.FormatFloat(f, 'g', -1, 64)
	}
	if len(a.Annotations) > MaxAnnotations {
		return &FieldError{Field: obj.at("values"), Msg: fmt.Sprintf("annotations and values together have %d entries: at most %d are accepted", len(a.Annotations), MaxAnnotations)}
	}
	return nil
}

package ingest

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/alert"
)

// DatadogTemplate is the payload to paste into the Datadog Webhooks integration (Payload
// field, "Encode as form" off) for the webhook that posts to /hooks/datadog. Datadog fills in
// the $VARIABLES; quench reads exactly these fields. Add an "Authorization: Bearer <token>"
// custom header (Custom Headers: {"Authorization": "Bearer <token>"}).
const DatadogTemplate = `{
  "id": "$ID",
  "alert_id": "$ALERT_ID",
  "alert_cycle_key": "$ALERT_CYCLE_KEY",
  "transition": "$ALERT_TRANSITION",
  "title": "$EVENT_TITLE",
  "alert_title": "$ALERT_TITLE",
  "scope": "$ALERT_SCOPE",
  "priority": "$ALERT_PRIORITY",
  "tags": "$TAGS",
  "link": "$LINK",
  "date": "$DATE"
}`

// datadogStatus maps $ALERT_TRANSITION, normalised by datadogTransitionKey, to a status.
var datadogStatus = map[string]string{
	"triggered":   alert.StatusFiring,
	"retriggered": alert.StatusFiring,
	"warn":        alert.StatusFiring,
	"rewarn":      alert.StatusFiring,
	"nodata":      alert.StatusFiring,
	"renodata":    alert.StatusFiring,
	"renotify":    alert.StatusFiring,
	"recovered":   alert.StatusResolved,
}

// datadogTransitionKey folds "Re-Triggered", "No Data", "re_notify" to one spelling.
func datadogTransitionKey(s string) string {
	return strings.NewReplacer("-", "", " ", "", "_", "").Replace(strings.ToLower(strings.TrimSpace(s)))
}

// unfilledVariable is a template variable Datadog left as is (a field that does not apply to
// this monitor type, or a test notification): it means "no value".
var unfilledVariable = regexp.MustCompile(`^\$[A-Z][A-Z0-9_]*$`)

// transitionPrefix is the "[Triggered on {host:a}] " Datadog puts before a monitor's name in
// the event title.
var transitionPrefix = regexp.MustCompile(`^\[[^\]]*\]\s*`)

// ParseDatadog parses the DatadogTemplate payload. Key = alert_cycle_key (one trigger-to-
// recovery cycle of one monitor group), else alert_id (the monitor). Status from transition:
// Recovered is resolved; Triggered, Re-Triggered, Warn, Re-Warn, No Data, Re-No Data and
// Renotify are firing. Labels: the tags, then the scope's name:value pairs over them (the
// group that triggered), alertname (the monitor's name), monitor_id and priority. date may be
// epoch milliseconds ($DATE) or seconds ($DATE_POSIX), quoted or bare.
func ParseDatadog(body []byte) (Delivery, error) {
	root, err := decodeBody(body)
	if err != nil {
		return Delivery{}, err
	}
	get := func(name string) (string, error) {
		s, err := root.strOrNumber(name)
		if unfilledVariable.MatchString(s) {
			s = ""
		}
		return strings.TrimSpace(s), err
	}
	var f struct{ id, alertID, cycleKey, transition, title, alertTitle, scope, priority, tags, link, date string }
	for _, field := range []struct {
		name string
		dst  *string
	}{
		{"id", &f.id}, {"alert_id", &f.alertID}, {"alert_cycle_key", &f.cycleKey},
		{"transition", &f.transition}, {"title", &f.title}, {"alert_title", &f.alertTitle},
		{"scope", &f.scope}, {"priority", &f.priority}, {"tags", &f.tags}, {"link", &f.link},
		{"date", &f.date},
	} {
		if *field.dst, err = get(field.name); err != nil {
			return Delivery{}, err
		}
	}
	a := alert.Alert{Source: SourceDatadog, Key: f.cycleKey}
	keyField := "alert_cycle_key"
	if a.Key == "" {
		a.Key, keyField = f.alertID, "alert_id"
	}
	if a.Key == "" {
		return Delivery{}, &FieldError{Field: "alert_cycle_key", Msg: `required (or alert_id): use quench's Datadog template, "alert_cycle_key": "$ALERT_CYCLE_KEY"`}
	}
	if err := checkKey(keyField, a.Key); err != nil {
		return Delivery{}, err
	}
	a.Fingerprint = a.Key
	if f.transition == "" {
		return Delivery{}, &FieldError{Field: "transition", Msg: `required: "transition": "$ALERT_TRANSITION"`}
	}
	status, ok := datadogStatus[datadogTransitionKey(f.transition)]
	if !ok {
		return Delivery{}, &FieldError{Field: "transition", Msg: fmt.Sprintf("unknown transition %q: expected Triggered, Re-Triggered, Warn, Re-Warn, No Data, Re-No Data, Renotify or Recovered", shortForMsg(f.transition))}
	}
	a.Status = status
	labels := map[string]string{}
	if err := datadogTags("tags", f.tags, labels); err != nil {
		return Delivery{}, err
	}
	if err := datadogTags("scope", f.scope, labels); err != nil {
		return Delivery{}, err
	}
	name := f.alertTitle
	if name == "" {
		name = f.title
	}
	setLabel(labels, "alertname", strings.TrimSpace(transitionPrefix.ReplaceAllString(name, "")))
	setLabel(labels, "monitor_id", f.alertID)
	setLabel(labels, "priority", f.priority)
	if len(labels) > MaxLabels {
		return Delivery{}, &FieldError{Field: "tags", Msg: fmt.Sprintf("tags and scope give %d labels: at most %d are accepted", len(labels), MaxLabels)}
	}
	a.Labels = labels
	a.Severity = f.priority
	a.Title = capText(f.title, maxTitleBytes)
	a.Annotations = map[string]string{"transition": capText(f.transition, MaxAnnotationValueBytes)}
	if f.scope != "" {
		a.Annotations["scope"] = capText(f.scope, MaxAnnotationValueBytes)
	}
	if f.title != "" {
		a.Annotations["summary"] = capText(f.title, MaxAnnotationValueBytes)
	}
	if l, err := link("link", "datadog", f.link); err != nil {
		return Delivery{}, err
	} else if l != nil {
		a.Links = []alert.Link{*l}
	}
	at, err := datadogDate(f.date)
	if err != nil {
		return Delivery{}, err
	}
	if a.Status == alert.StatusFiring {
		a.StartsAt = at
	}
	a.EndsAt = endsAtFor(a.Status, at)
	a.Raw = rawCapped(body)
	return Delivery{Source: SourceDatadog, ID: capText(f.id, maxTitleBytes), Alerts: []alert.Alert{a}}, nil
}

// datadogTags turns "env:prod,service:checkout,canary" (tags) or "env:prod, host:a" (scope)
// into labels. A tag without a value becomes a label with an empty value; a name given twice
// keeps all its values, sorted and comma-joined. Scope negations ("!host:a") and "*" say
// nothing about the group and are skipped.
func datadogTags(field, list string, labels map[string]string) error {
	values := map[string][]string{}
	for _, tag := range strings.Split(list, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "" || tag == "*" || strings.HasPrefix(tag, "!") {
			continue
		}
		name, value, _ := strings.Cut(tag, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if name == "" || len(name) > MaxLabelNameBytes {
			return &FieldError{Field: field, Msg: fmt.Sprintf("tag %q: a tag name is 1 to %d bytes", shortForMsg(tag), MaxLabelNameBytes)}
		}
		values[name] = append(values[name], value)
		if len(values) > MaxLabels {
			return &FieldError{Field: field, Msg: fmt.Sprintf("more than %d distinct tag names", MaxLabels)}
		}
	}
	for name, vs := range values {
		sort.Strings(vs)
		vs = uniqueSorted(vs)
		v := strings.Join(vs, ",")
		if len(v) > MaxLabelValueBytes {
			return &FieldError{Field: field, Msg: fmt.Sprintf("tag %q has a %d-byte value: at most %d are accepted", shortForMsg(name), len(v), MaxLabelValueBytes)}
		}
		labels[name] = v
	}
	return nil
}

func uniqueSorted(vs []string) []string {
	out := vs[:0]
	for i, v := range vs {
		if i == 0 || v != vs[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// datadogDate reads $DATE (epoch milliseconds) or $DATE_POSIX (seconds). Values below 1e11
// are seconds: 1e11 seconds is the year 5138, 1e11 milliseconds is 1973.
func datadogDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || !(n >= 0 && n <= 1e15) { // the negation also refuses NaN
		return time.Time{}, &FieldError{Field: "date", Msg: fmt.Sprintf("must be epoch milliseconds ($DATE) or seconds ($DATE_POSIX), got %q", shortForMsg(s))}
	}
	if n < 1e11 {
		return time.UnixMilli(int64(n * 1000)).UTC(), nil
	}
	return time.UnixMilli(int64(n)).UTC(), nil
}

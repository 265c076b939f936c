package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/alert"
)

// Parsers maps each source, as in POST /hooks/{source}, to its payload parser.
var Parsers = map[string]Parser{
	SourceAlertmanager:   ParseAlertmanager,
	SourceGrafana:        ParseGrafana,
	SourcePagerDuty:      ParsePagerDuty,
	SourceDatadog:        ParseDatadog,
	SourceGeneric:        ParseGeneric,
	SourceLiteLLM:        ParseLiteLLM,
	SourceLangfuseAlerts: ParseLangfuseAlerts,
}

// Limits on what one alert may carry. Labels are the alert's identity and what runbooks
// match on, so a payload over a label limit is refused; annotations are prose, so an
// over-long value is cut (with a marker) rather than losing the alert.
const (
	MaxLabels               = 100
	MaxLabelNameBytes       = 256
	MaxLabelValueBytes      = 4 << 10
	MaxAnnotations          = 100
	MaxAnnotationValueBytes = 4 << 10
	// MaxKeyBytes bounds an incident key (Alertmanager groupKeys grow with group_by labels).
	MaxKeyBytes = 4 << 10
	// maxTitleBytes and maxURLBytes cut display text and links; neither is identity.
	maxTitleBytes = 1 << 10
	maxURLBytes   = 4 << 10
)

const truncatedMark = "…(truncated)"

// labels reads a map of string values under name with the label limits.
func (o jsonObject) labels(name string) (map[string]string, error) {
	m, err := o.stringMap(name, MaxLabels)
	if err != nil {
		return nil, err
	}
	for k, v := range m {
		if k == "" || len(k) > MaxLabelNameBytes {
			return nil, &FieldError{Field: o.at(name), Msg: fmt.Sprintf("label name %q must be 1 to %d bytes", shortForMsg(k), MaxLabelNameBytes)}
		}
		if len(v) > MaxLabelValueBytes {
			return nil, &FieldError{Field: o.at(name) + "." + shortForMsg(k), Msg: fmt.Sprintf("label value is %d bytes: at most %d are accepted (labels identify the alert; put long text in annotations)", len(v), MaxLabelValueBytes)}
		}
	}
	return m, nil
}

// annotations reads a map of string values under name; over-long values are cut.
func (o jsonObject) annotations(name string) (map[string]string, error) {
	m, err := o.stringMap(name, MaxAnnotations)
	if err != nil {
		return nil, err
	}
	for k, v := range m {
		if k == "" || len(k) > MaxLabelNameBytes {
			return nil, &FieldError{Field: o.at(name), Msg: fmt.Sprintf("annotation name %q must be 1 to %d bytes", shortForMsg(k), MaxLabelNameBytes)}
		}
		m[k] = capText(v, MaxAnnotationValueBytes)
	}
	return m, nil
}

// stringMap reads an optional object whose values are all strings, with at most max entries.
func (o jsonObject) stringMap(name string, max int) (map[string]string, error) {
	obj, ok, err := o.object(name)
	if err != nil || !ok {
		return nil, err
	}
	if len(obj.fields) > max {
		return nil, &FieldError{Field: o.at(name), Msg: fmt.Sprintf("has %d entries: at most %d are accepted", len(obj.fields), max)}
	}
	m := make(map[string]string, len(obj.fields))
	for k := range obj.fields {
		v, err := obj.str(k)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, nil
}

// status reads a firing|resolved status field.
func (o jsonObject) status(name string, required bool) (string, error) {
	s, err := o.str(name)
	if err != nil {
		return "", err
	}
	switch s {
	case alert.StatusFiring, alert.StatusResolved:
		return s, nil
	case "":
		if !required {
			return "", nil
		}
		return "", &FieldError{Field: o.at(name), Msg: `required: "firing" or "resolved"`}
	}
	return "", &FieldError{Field: o.at(name), Msg: fmt.Sprintf(`unknown status %q: must be "firing" or "resolved"`, shortForMsg(s))}
}

// timestamp reads an optional RFC 3339 time. Alertmanager's "0001-01-01T00:00:00Z" (no end
// yet) is the zero time.
func (o jsonObject) timestamp(name string) (time.Time, error) {
	s, err := o.str(name)
	if err != nil {
		return time.Time{}, err
	}
	return parseTime(o.at(name), s)
}

// parseTime parses an optional RFC 3339 time read at path.
func parseTime(path, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, &FieldError{Field: path, Msg: fmt.Sprintf("not an RFC 3339 time (e.g. 2024-05-01T12:00:00Z): %q", shortForMsg(s))}
	}
	if t.IsZero() {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

// checkKey validates an incident key read from path.
func checkKey(path, key string) error {
	if len(key) > MaxKeyBytes {
		return &FieldError{Field: path, Msg: fmt.Sprintf("is %d bytes: at most %d are accepted", len(key), MaxKeyBytes)}
	}
	return nil
}

// link returns a named link to an absolute http(s) URL, nil for an empty one, and a
// FieldError for anything else (a link ends up in Slack and the UI: no javascript: URLs).
func link(path, name, raw string) (*alert.Link, error) {
	if raw == "" {
		return nil, nil
	}
	if len(raw) > maxURLBytes {
		return nil, &FieldError{Field: path, Msg: fmt.Sprintf("URL is %d bytes: at most %d are accepted", len(raw), maxURLBytes)}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &FieldError{Field: path, Msg: fmt.Sprintf("must be an absolute http(s) URL, got %q", shortForMsg(raw))}
	}
	return &alert.Link{Name: name, URL: raw}, nil
}

// appendLink reads the URL field name of o and appends it as a link called linkName.
func (o jsonObject) appendLink(links []alert.Link, name, linkName string) ([]alert.Link, error) {
	s, err := o.str(name)
	if err != nil {
		return links, err
	}
	l, err := link(o.at(name), linkName, s)
	if err != nil || l == nil {
		return links, err
	}
	return append(links, *l), nil
}

// fingerprint reads the source's fingerprint of one alert, or derives one from its labels.
func (o jsonObject) fingerprint(name string, labels map[string]string) (string, error) {
	fp, err := o.optionalFingerprint(name)
	if err == nil && fp == "" {
		fp = labelsFingerprint(labels)
	}
	return fp, err
}

// optionalFingerprint reads a fingerprint field, "" when absent.
func (o jsonObject) optionalFingerprint(name string) (string, error) {
	fp, err := o.strOrNumber(name)
	if err != nil {
		return "", err
	}
	if len(fp) > MaxLabelValueBytes {
		return "", &FieldError{Field: o.at(name), Msg: fmt.Sprintf("is %d bytes: at most %d are accepted", len(fp), MaxLabelValueBytes)}
	}
	return fp, nil
}

// labelsFingerprint identifies an alert by its labels when the source gives no fingerprint:
// the first 16 hex digits of sha256 over the sorted name=value pairs.
func labelsFingerprint(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, k := range names {
		// Length-prefixed so {"a":"b=c"} and {"a=b":"c"} differ.
		fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(labels[k]), labels[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// rawCapped keeps a compact copy of one alert's JSON, cut to MaxRawBytes.
func rawCapped(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		buf.Reset()
		buf.Write(raw)
	}
	return capText(buf.String(), MaxRawBytes)
}

// capText cuts s to at most max bytes (marker included) on a UTF-8 boundary.
func capText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return cutUTF8(s, max-len(truncatedMark)) + truncatedMark
}

// titleFrom picks a display title: the summary annotation, else the alert name.
func titleFrom(labels, annotations map[string]string) string {
	if s := strings.TrimSpace(annotations["summary"]); s != "" {
		return capText(s, maxTitleBytes)
	}
	return capText(labels["alertname"], maxTitleBytes)
}

// endsAtFor keeps an end time only for a resolved alert: a firing alert's endsAt is at best
// the sender's guess of when it would expire, not an end.
func endsAtFor(status string, t time.Time) time.Time {
	if status != alert.StatusResolved {
		return time.Time{}
	}
	return t
}

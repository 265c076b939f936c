package ingest

import (
	"fmt"
	"strings"
	"testing"
)

// am builds an Alertmanager payload around one alert object.
func am(alertJSON string) string {
	return `{"version":"4","groupKey":"g","status":"firing","alerts":[` + alertJSON + `]}`
}

// amAlertWith is a valid alert with extra fields appended.
func amAlertWith(extra string) string {
	return `{"status":"firing","labels":{"alertname":"A"}` + extra + `}`
}

func grafana(alertJSON string) string {
	return `{"version":"1","groupKey":"g","status":"firing","orgId":1,"alerts":[` + alertJSON + `]}`
}

func pdEvent(data string) string {
	return `{"event":{"id":"e","event_type":"incident.triggered","resource_type":"incident","data":` + data + `}}`
}

func manyPairs(n int, quoteValues bool) string {
	parts := make([]string, n)
	for i := range parts {
		if quoteValues {
			parts[i] = fmt.Sprintf(`"k%d":"v"`, i)
		} else {
			parts[i] = fmt.Sprintf(`"k%d":1`, i)
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func manyTags(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("t%d:v", i)
	}
	return strings.Join(parts, ",")
}

// Every rule a payload can break is refused with a *FieldError naming the field.
func TestParseRefusesBadPayloads(t *testing.T) {
	big := strings.Repeat("x", MaxLabelValueBytes+1)
	cases := []struct {
		name, source, body, field string
	}{
		// The strict JSON layer, the same for every source.
		{"empty body", SourceAlertmanager, "  ", "body"},
		{"array body", SourceAlertmanager, `[{"version":"4"}]`, "body"},
		{"string body", SourceGeneric, `"firing"`, "body"},
		{"truncated JSON", SourceGrafana, `{`, "body"},
		{"two objects", SourceGeneric, `{"key":"a"} {"key":"b"}`, "body"},
		{"duplicate top-level key", SourceAlertmanager, `{"version":"4","status":"firing","status":"resolved"}`, "status"},
		{"duplicate label", SourceAlertmanager, am(`{"status":"firing","labels":{"alertname":"A","sev":"1","sev":"2"}}`), "alerts[0].labels.sev"},
		{"duplicate key in a batch entry", SourceGeneric, `{"key":"k","alerts":[{},{"status":"firing","status":"resolved"}]}`, "alerts[1].status"},
		{"too deep", SourceGeneric, `{"key":"k","x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, "x" + strings.Repeat("[0]", maxJSONDepth-1)},
		{"field names are exact: Status is not status", SourceAlertmanager, `{"version":"4","groupKey":"g","Status":"firing","alerts":[{}]}`, "status"},

		// Alertmanager.
		{"missing version", SourceAlertmanager, `{"groupKey":"g","status":"firing","alerts":[]}`, "version"},
		{"unknown version", SourceAlertmanager, `{"version":"5","groupKey":"g","status":"firing","alerts":[]}`, "version"},
		{"numeric version", SourceAlertmanager, `{"version":4,"groupKey":"g","status":"firing","alerts":[]}`, "version"},
		{"missing groupKey", SourceAlertmanager, `{"version":"4","status":"firing","alerts":[]}`, "groupKey"},
		{"groupKey too long", SourceAlertmanager, `{"version":"4","groupKey":"` + strings.Repeat("k", MaxKeyBytes+1) + `","status":"firing","alerts":[]}`, "groupKey"},
		{"unknown group status", SourceAlertmanager, `{"version":"4","groupKey":"g","status":"pending","alerts":[]}`, "status"},
		{"huge truncatedAlerts", SourceAlertmanager, `{"version":"4","groupKey":"g","status":"firing","truncatedAlerts":1e400,"alerts":[]}`, "truncatedAlerts"},
		{"negative truncatedAlerts", SourceAlertmanager, `{"version":"4","groupKey":"g","status":"firing","truncatedAlerts":-1,"alerts":[]}`, "truncatedAlerts"},
		{"truncatedAlerts beyond int64", SourceAlertmanager, `{"version":"4","groupKey":"g","status":"firing","truncatedAlerts":99999999999999999999999,"alerts":[]}`, "truncatedAlerts"},
		{"no alerts", SourceAlertmanager, `{"version":"4","groupKey":"g","status":"firing","alerts":[]}`, "alerts"},
		{"alerts not an array", SourceAlertmanager, `{"version":"4","groupKey":"g","status":"firing","alerts":{}}`, "alerts"},
		{"alert not an object", SourceAlertmanager, am(`"firing"`), "alerts[0]"},
		{"unknown alert status", SourceAlertmanager, am(`{"status":"pending","labels":{"alertname":"A"}}`), "alerts[0].status"},
		{"missing alert status", SourceAlertmanager, am(`{"labels":{"alertname":"A"}}`), "alerts[0].status"},
		{"missing labels", SourceAlertmanager, am(`{"status":"firing"}`), "alerts[0].labels"},
		{"empty labels", SourceAlertmanager, am(`{"status":"firing","labels":{}}`), "alerts[0].labels"},
		{"numeric label value", SourceAlertmanager, am(`{"status":"firing","labels":{"alertname":"A","code":500}}`), "alerts[0].labels.code"},
		{"too many labels", SourceAlertmanager, am(`{"status":"firing","labels":` + manyPairs(MaxLabels+1, true) + `}`), "alerts[0].labels"},
		{"label value too long", SourceAlertmanager, am(`{"status":"firing","labels":{"alertname":"A","big":"` + big + `"}}`), "alerts[0].labels.big"},
		{"long label name with a number value", SourceAlertmanager, am(`{"status":"firing","labels":{"alertname":"A","` + big + `":1}}`), "alerts[0].labels." + shortForMsg(big)},
		{"empty label name", SourceAlertmanager, am(`{"status":"firing","labels":{"alertname":"A","":"x"}}`), "alerts[0].labels"},
		{"too many annotations", SourceAlertmanager, am(amAlertWith(`,"annotations":` + manyPairs(MaxAnnotations+1, true))), "alerts[0].annotations"},
		{"bad startsAt", SourceAlertmanager, am(amAlertWith(`,"startsAt":"yesterday"`)), "alerts[0].startsAt"},
		{"javascript generatorURL", SourceAlertmanager, am(amAlertWith(`,"generatorURL":"javascript:alert(1)"`)), "alerts[0].generatorURL"},
		{"fingerprint too long", SourceAlertmanager, am(amAlertWith(`,"fingerprint":"` + big + `"`)), "alerts[0].fingerprint"},
		{"bad externalURL", SourceAlertmanager, `{"version":"4","groupKey":"g","status":"firing","externalURL":"am:9093","alerts":[{}]}`, "externalURL"},

		// Grafana.
		{"legacy grafana", SourceGrafana, `{"evalMatches":[],"ruleId":1,"state":"alerting","title":"t"}`, "version"},
		{"value out of range", SourceGrafana, grafana(amAlertWith(`,"values":{"B":1e400}`)), "alerts[0].values.B"},
		{"value not a number", SourceGrafana, grafana(amAlertWith(`,"values":{"B":"high"}`)), "alerts[0].values.B"},
		{"too many values", SourceGrafana, grafana(amAlertWith(`,"values":` + manyPairs(MaxLabels+1, false))), "alerts[0].values"},
		{"ftp dashboardURL", SourceGrafana, grafana(amAlertWith(`,"dashboardURL":"ftp://grafana/d/x"`)), "alerts[0].dashboardURL"},

		// PagerDuty.
		{"no event", SourcePagerDuty, `{"messages":[]}`, "event"},
		{"no event type", SourcePagerDuty, `{"event":{"id":"e","data":{}}}`, "event.event_type"},
		{"incident event without data", SourcePagerDuty, `{"event":{"id":"e","event_type":"incident.triggered"}}`, "event.data"},
		{"incident event about a service", SourcePagerDuty, `{"event":{"event_type":"incident.triggered","resource_type":"service","data":{}}}`, "event.resource_type"},
		{"no incident id", SourcePagerDuty, pdEvent(`{"type":"incident","title":"t"}`), "event.data.id"},
		{"data of another type", SourcePagerDuty, pdEvent(`{"id":"P1","type":"service"}`), "event.data.type"},
		{"unknown incident status", SourcePagerDuty, pdEvent(`{"id":"P1","type":"incident","status":"snoozed"}`), "event.data.status"},
		{"negative incident number", SourcePagerDuty, pdEvent(`{"id":"P1","number":-2}`), "event.data.number"},
		{"bad incident URL", SourcePagerDuty, pdEvent(`{"id":"P1","html_url":"/incidents/P1"}`), "event.data.html_url"},
		{"service not an object", SourcePagerDuty, pdEvent(`{"id":"P1","service":"checkout"}`), "event.data.service"},
		{"bad created_at", SourcePagerDuty, pdEvent(`{"id":"P1","created_at":"1714564800"}`), "event.data.created_at"},

		// Datadog.
		{"no key", SourceDatadog, `{"transition":"Triggered","title":"t"}`, "alert_cycle_key"},
		{"unfilled key variables", SourceDatadog, `{"alert_cycle_key":"$ALERT_CYCLE_KEY","alert_id":"$ALERT_ID","transition":"Triggered"}`, "alert_cycle_key"},
		{"no transition", SourceDatadog, `{"alert_id":"1"}`, "transition"},
		{"unknown transition", SourceDatadog, `{"alert_id":"1","transition":"Exploded"}`, "transition"},
		{"date not a number", SourceDatadog, `{"alert_id":"1","transition":"Triggered","date":"yesterday"}`, "date"},
		{"date NaN", SourceDatadog, `{"alert_id":"1","transition":"Triggered","date":"NaN"}`, "date"},
		{"date huge", SourceDatadog, `{"alert_id":"1","transition":"Triggered","date":1e300}`, "date"},
		{"too many tags", SourceDatadog, `{"alert_id":"1","transition":"Triggered","tags":"` + manyTags(MaxLabels+1) + `"}`, "tags"},
		{"tags as an object", SourceDatadog, `{"alert_id":"1","transition":"Triggered","tags":{"env":"prod"}}`, "tags"},
		{"tag value too long", SourceDatadog, `{"alert_id":"1","transition":"Triggered","scope":"host:` + big + `"}`, "scope"},
		{"relative link", SourceDatadog, `{"alert_id":"1","transition":"Triggered","link":"/event/1"}`, "link"},

		// Generic.
		{"no key", SourceGeneric, `{"status":"firing","labels":{"alertname":"A"}}`, "key"},
		{"no key for a batch entry", SourceGeneric, `{"alerts":[{"key":"a"},{"labels":{"alertname":"B"}}]}`, "alerts[1].key"},
		{"unknown status", SourceGeneric, `{"key":"k","status":"pending"}`, "status"},
		{"unknown status in a batch entry", SourceGeneric, `{"key":"k","alerts":[{"status":"ok"}]}`, "alerts[0].status"},
		{"empty batch", SourceGeneric, `{"key":"k","alerts":[]}`, "alerts"},
		{"too many labels once merged", SourceGeneric, `{"key":"k","labels":` + manyPairs(60, true) + `,"alerts":[{"labels":` + strings.ReplaceAll(manyPairs(60, true), `"k`, `"j`) + `}]}`, "alerts[0].labels"},
		{"non-string annotation", SourceGeneric, `{"key":"k","annotations":{"n":3}}`, "annotations.n"},
		{"link not http", SourceGeneric, `{"key":"k","links":[{"name":"x","url":"file:///etc/passwd"}]}`, "links[0].url"},
		{"link without url", SourceGeneric, `{"key":"k","links":[{"name":"x"}]}`, "links[0].url"},
		{"too many links", SourceGeneric, `{"key":"k","links":[` + strings.Repeat(`{"url":"https://a.example"},`, maxGenericLinks) + `{"url":"https://a.example"}]}`, "links"},
		{"bad starts_at in a batch entry", SourceGeneric, `{"key":"k","alerts":[{"starts_at":"2024-05-01 12:00"}]}`, "alerts[0].starts_at"},
		{"bad top-level ends_at", SourceGeneric, `{"key":"k","status":"resolved","ends_at":"soon"}`, "ends_at"},
	}
	for _, c := range cases {
		t.Run(c.source+"/"+c.name, func(t *testing.T) {
			d, err := Parsers[c.source]([]byte(c.body))
			if err == nil {
				t.Fatalf("accepted: %+v", d)
			}
			if got := fieldOf(t, err); got != c.field {
				t.Errorf("Field = %q, want %q (error: %v)", got, c.field, err)
			}
			if len(err.Error()) > 600 {
				t.Errorf("error message is %d bytes: attacker text must not grow it", len(err.Error()))
			}
		})
	}
}

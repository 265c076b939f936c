package ingest

import (
	"errors"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/quench-dev/quench/internal/alert"
)

// fuzzParser feeds arbitrary bytes to one parser: it must return a Delivery or a *FieldError,
// never panic, and whatever it accepts must hold the invariants the handler relies on.
func fuzzParser(f *testing.F, source string, seedGlob string, extraSeeds ...string) {
	names, _ := filepath.Glob(filepath.Join("testdata", seedGlob))
	if len(names) == 0 {
		f.Fatalf("no seeds match testdata/%s", seedGlob)
	}
	for _, n := range names {
		f.Add(readFixture(f, filepath.Base(n)))
	}
	for _, s := range extraSeeds {
		f.Add([]byte(s))
	}
	parse := Parsers[source]
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := parse(body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if fe.Field == "" || len(err.Error()) > 4096 {
				t.Fatalf("FieldError without a field, or unbounded: %.200q", err.Error())
			}
			return
		}
		checkDeliveryInvariants(t, source, d)
	})
}

func checkDeliveryInvariants(t *testing.T, source string, d Delivery) {
	t.Helper()
	if d.Source != source || d.Truncated < 0 {
		t.Fatalf("Delivery source %q truncated %d", d.Source, d.Truncated)
	}
	// Only sources with events that are not incidents (PagerDuty's pings, LiteLLM's
	// spend_tracked, Langfuse's UNKNOWN) accept a delivery without alerts.
	if len(d.Alerts) == 0 && source != SourcePagerDuty && source != SourceLiteLLM && source != SourceLangfuseAlerts {
		t.Fatal("accepted with no alerts")
	}
	for i, a := range d.Alerts {
		switch {
		case a.Source != source:
			t.Fatalf("alerts[%d].Source = %q", i, a.Source)
		case a.Key == "" || len(a.Key) > MaxKeyBytes:
			t.Fatalf("alerts[%d].Key is %d bytes", i, len(a.Key))
		case a.Status != alert.StatusFiring && a.Status != alert.StatusResolved:
			t.Fatalf("alerts[%d].Status = %q", i, a.Status)
		case a.Fingerprint == "" || len(a.Fingerprint) > MaxLabelValueBytes:
			t.Fatalf("alerts[%d].Fingerprint is %d bytes", i, len(a.Fingerprint))
		case len(a.Labels) > MaxLabels || len(a.Annotations) > MaxAnnotations:
			t.Fatalf("alerts[%d] has %d labels, %d annotations", i, len(a.Labels), len(a.Annotations))
		case len(a.Raw) > MaxRawBytes || len(a.Title) > maxTitleBytes:
			t.Fatalf("alerts[%d] Raw %d bytes, Title %d bytes", i, len(a.Raw), len(a.Title))
		case a.Status == alert.StatusFiring && !a.EndsAt.IsZero():
			t.Fatalf("alerts[%d] firing with an end", i)
		}
		for k, v := range a.Labels {
			if k == "" || len(k) > MaxLabelNameBytes || len(v) > MaxLabelValueBytes {
				t.Fatalf("alerts[%d] label %.80q=%.80q over the limits", i, k, v)
			}
		}
		for k, v := range a.Annotations {
			if len(k) > MaxLabelNameBytes || len(v) > MaxAnnotationValueBytes {
				t.Fatalf("alerts[%d] annotation %.80q over the limits", i, k)
			}
		}
		for _, l := range a.Links {
			u, err := url.Parse(l.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				t.Fatalf("alerts[%d] link %q is not http(s)", i, l.URL)
			}
		}
	}
}

func FuzzParseAlertmanager(f *testing.F) {
	fuzzParser(f, SourceAlertmanager, "alertmanager_*.json",
		am(amAlertWith(`,"labels":{"a":"b"}`)),
		`{"version":"4","groupKey":"g","status":"firing","truncatedAlerts":1e400,"alerts":[{}]}`,
		am(`{"status":"firing","labels":{"alertname":"A","a":"\ud800"},"endsAt":"9999-12-31T23:59:59Z"}`))
}

func FuzzParseGrafana(f *testing.F) {
	fuzzParser(f, SourceGrafana, "grafana_*.json",
		grafana(amAlertWith(`,"values":{"B":-0,"C":1e308,"D":null}`)),
		`{"evalMatches":[],"ruleId":1}`)
}

func FuzzParsePagerDuty(f *testing.F) {
	fuzzParser(f, SourcePagerDuty, "pagerduty_*.json",
		pdEvent(`{"id":"P1","type":"incident","status":"resolved","number":1e3}`),
		`{"event":{"event_type":"incident.resolved","data":{"id":"P1","priority":{"summary":"P1"}}}}`)
}

func FuzzParseDatadog(f *testing.F) {
	fuzzParser(f, SourceDatadog, "datadog_*.json",
		DatadogTemplate,
		`{"alert_id":1,"transition":"No Data","date":99999999999,"tags":"a,a:b,a:b,:x,!c:d,*"}`)
}

func FuzzParseGeneric(f *testing.F) {
	fuzzParser(f, SourceGeneric, "generic_*.json",
		`{"key":"k"}`,
		`{"key":"k","alerts":[{"fingerprint":7},{"key":"j","status":"resolved","ends_at":"2024-05-01T00:00:00Z"}]}`)
}

func FuzzParseLiteLLM(f *testing.F) {
	fuzzParser(f, SourceLiteLLM, "litellm_*.json",
		`{"spend":1e308,"event":"threshold_crossed","event_group":"user","user_id":"u","max_budget":-0}`,
		`{"text":"[Num Alerts: 99999999999999999999]\n\n*⚠️ Major Service Outage*\n*Region Name:* `+"`"+`"}`,
		`{"text":"LLM API call failed: litellm.Timeout Received Model Group= Key Name: `+"`None`"+`"}`)
}

func FuzzParseLangfuseAlerts(f *testing.F) {
	fuzzParser(f, SourceLangfuseAlerts, "langfuse_*.json",
		`{"type":"monitor-alert","payload":{"severity":"OK","monitorId":"m","projectId":"p","window":36e5,"filters":[{"column":"metadata","key":"route","operator":"any of","value":["a"]},{"column":"level","operator":"=","value":"error"}]}}`,
		`{"type":"monitor-alert","payload":{"severity":"NO_DATA","monitorId":"m","projectId":"p","message":{"title":"[OK] [OK]"}}}`)
}

// BenchmarkParse measures each parser on its firing fixture (one request's worth of work).
func BenchmarkParse(b *testing.B) {
	for _, c := range []struct{ source, fixture string }{
		{SourceAlertmanager, "alertmanager_firing.json"},
		{SourceGrafana, "grafana_firing.json"},
		{SourcePagerDuty, "pagerduty_triggered.json"},
		{SourceDatadog, "datadog_triggered.json"},
		{SourceGeneric, "generic_batch.json"},
		{SourceLiteLLM, "litellm_key_budget_crossed.json"},
		{SourceLangfuseAlerts, "langfuse_alert_firing.json"},
	} {
		body := readFixture(b, c.fixture)
		parse := Parsers[c.source]
		b.Run(c.source, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := parse(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

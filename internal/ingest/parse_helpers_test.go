package ingest

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/alert"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseFixture parses a testdata file with the source's registered parser.
func parseFixture(t *testing.T, source, name string) Delivery {
	t.Helper()
	parse, ok := Parsers[source]
	if !ok {
		t.Fatalf("no parser registered for %q", source)
	}
	d, err := parse(readFixture(t, name))
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	if d.Source != source {
		t.Errorf("Delivery.Source = %q, want %q", d.Source, source)
	}
	return d
}

// assertAlerts compares alerts field by field. Raw is checked apart: it must be compact
// valid JSON within MaxRawBytes that contains wantRaw[i].
func assertAlerts(t *testing.T, got, want []alert.Alert, wantRaw []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d alerts, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := reflect.ValueOf(got[i]), reflect.ValueOf(want[i])
		for f := 0; f < g.NumField(); f++ {
			name := g.Type().Field(f).Name
			if name == "Raw" {
				continue
			}
			if !reflect.DeepEqual(g.Field(f).Interface(), w.Field(f).Interface()) {
				t.Errorf("alerts[%d].%s\n got: %#v\nwant: %#v", i, name, g.Field(f).Interface(), w.Field(f).Interface())
			}
		}
		raw := got[i].Raw
		if len(raw) > MaxRawBytes {
			t.Errorf("alerts[%d].Raw is %d bytes, over MaxRawBytes", i, len(raw))
		}
		if !json.Valid([]byte(raw)) {
			t.Errorf("alerts[%d].Raw is not valid JSON: %.200s", i, raw)
		}
		if i < len(wantRaw) && !strings.Contains(raw, wantRaw[i]) {
			t.Errorf("alerts[%d].Raw does not contain %q: %.300s", i, wantRaw[i], raw)
		}
	}
}

// fieldOf returns the Field of err, which must be a *FieldError.
func fieldOf(t *testing.T, err error) string {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *FieldError", err, err)
	}
	return fe.Field
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

package bundle

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
)

func TestBuilderCapsTheBundleSize(t *testing.T) {
	b, err := NewBuilder(ports.SnapshotRequest{Window: 30 * time.Minute, Baseline: time.Hour, Now: now, Samples: 50})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a long answer that goes on and on ", 50)
	for i := 0; i < 40; i++ {
		out := 100.0
		b.Add(Request{Time: now.Add(-time.Duration(i) * time.Minute / 2), Provider: "openai", RequestModel: "gpt-4o",
			OutputTokens: &out, Input: long, Output: long}, []byte("raw"))
	}
	b.SetMaxBytes(20 << 10)
	snap, err := b.Build(Manifest{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Bundle) > 20<<10 {
		t.Fatalf("bundle is %d bytes, over the 20 KiB cap", len(snap.Bundle))
	}
	var got Bundle
	if err := json.Unmarshal(snap.Bundle, &got); err != nil {
		t.Fatal(err)
	}
	if got.Manifest.Truncated == "" || got.Manifest.SamplesKept != len(got.Samples) || len(got.Samples) >= 40 {
		t.Fatalf("manifest %+v with %d samples: the cut must be recorded", got.Manifest, len(got.Samples))
	}
	if got.Headline.Requests != 40 || got.Totals.Incident.Requests != 40 {
		t.Fatalf("aggregates must survive the cut: %+v", got.Headline)
	}
	// The newest samples are the ones kept.
	for _, s := range got.Samples {
		if s.Time.Before(now.Add(-10 * time.Minute)) {
			t.Fatalf("an old sample was kept over newer ones: %s", s.Time)
		}
	}
}

func TestBuilderCountsOnlyTheWindowsAndRoute(t *testing.T) {
	b, _ := NewBuilder(ports.SnapshotRequest{Window: 10 * time.Minute, Baseline: 10 * time.Minute, Now: now, Route: "chat"})
	for _, r := range []Request{
		{Time: now.Add(-time.Minute), Route: "chat"},
		{Time: now.Add(-15 * time.Minute), Route: "chat"},
		{Time: now.Add(-time.Minute), Route: "search"},
		{Time: now.Add(-time.Hour), Route: "chat"},
		{Time: now.Add(time.Minute), Route: "chat"},
	} {
		b.Add(r, nil)
	}
	snap, err := b.Build(Manifest{})
	if err != nil {
		t.Fatal(err)
	}
	var got Bundle
	_ = json.Unmarshal(snap.Bundle, &got)
	if got.Headline.Requests != 1 || got.Headline.BaselineRequests != 1 || got.Manifest.OtherRoutes != 1 || got.Groups[0].Provider != "unknown" {
		t.Fatalf("headline %+v manifest %+v", got.Headline, got.Manifest)
	}
	if _, err := NewBuilder(ports.SnapshotRequest{Now: now}); !ports.IsPermanent(err) {
		t.Fatalf("zero windows: %v", err)
	}
}

// Time series are the first thing a capped bundle drops: the aggregates and samples say
// more about the incident than its curve.
func TestEncodeCappedDropsSeriesFirst(t *testing.T) {
	b := Bundle{Schema: Schema, Samples: []Sample{{Provider: "openai", Output: "kept"}}}
	for i := 0; i < 500; i++ {
		b.Series = append(b.Series, Series{Signal: "error_rate", Provider: "openai", Points: []Point{{T: now, V: float64(i)}}})
	}
	small, err := json.Marshal(Bundle{Schema: Schema, Samples: b.Samples})
	if err != nil {
		t.Fatal(err)
	}
	data, err := EncodeCapped(&b, 4*len(small))
	if err != nil {
		t.Fatal(err)
	}
	var got Bundle
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Series) != 0 || len(got.Samples) != 1 || len(got.Manifest.Notes) != 1 {
		t.Fatalf("series %d, samples %d, notes %v: want the series dropped, the sample kept and a note saying so",
			len(got.Series), len(got.Samples), got.Manifest.Notes)
	}
}

// The manifest says what the redactor masked in the samples kept, by kind and count, and
// claims nothing beyond it; no planted secret reaches the bundle.
func TestManifestListsWhatWasMasked(t *testing.T) {
	b, err := NewBuilder(ports.SnapshotRequest{Window: 30 * time.Minute, Baseline: time.Hour, Now: now, Samples: 10})
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"Tr0ub4dor-synthetic", "dXNlcjpwYXNzd29yZA==", "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"}
	b.Add(Request{Time: now.Add(-time.Minute), Provider: "openai", RequestModel: "gpt-4o",
		Input:  `{"password": "` + secrets[0] + `"} and Authorization: Basic ` + secrets[1],
		Output: "use " + secrets[2] + " and " + secrets[2]}, []byte("raw1"))
	b.Add(Request{Time: now.Add(-2 * time.Minute), Provider: "openai", RequestModel: "gpt-4o",
		Input: "What is 2+2?", Output: "4"}, []byte("raw2"))
	snap, err := b.Build(Manifest{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(string(snap.Bundle), s) {
			t.Fatalf("secret %q in the bundle", s)
		}
	}
	var got Bundle
	if err := json.Unmarshal(snap.Bundle, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"secret_value": 1, "auth_header": 1, "github_token": 2}
	if !maps.Equal(got.Manifest.Masked, want) {
		t.Fatalf("masked %v, want %v", got.Manifest.Masked, want)
	}
	for _, s := range []string{"2 samples", "1 auth_header, 2 github_token, 1 secret_value", "masks only the secret and personal-data shapes it has rules for"} {
		if !strings.Contains(got.Manifest.Redaction, s) {
			t.Errorf("redaction note %q does not say %q", got.Manifest.Redaction, s)
		}
	}
	if strings.Contains(got.Manifest.Redaction, "secret=value pairs masked") {
		t.Errorf("the old blanket claim is back: %q", got.Manifest.Redaction)
	}

	// Cut to size: the counts cover only the samples kept.
	b2, _ := NewBuilder(ports.SnapshotRequest{Window: 30 * time.Minute, Baseline: time.Hour, Now: now, Samples: 10})
	b2.Add(Request{Time: now.Add(-time.Minute), Input: "token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"}, nil)
	b2.SetMaxBytes(1500)
	snap, err = b2.Build(Manifest{})
	if err != nil {
		t.Fatal(err)
	}
	got = Bundle{}
	_ = json.Unmarshal(snap.Bundle, &got)
	if len(got.Samples) != 0 || got.Manifest.Masked != nil || !strings.Contains(got.Manifest.Redaction, "no samples") {
		t.Fatalf("after the cut: %d samples, masked %v, note %q", len(got.Samples), got.Manifest.Masked, got.Manifest.Redaction)
	}
}

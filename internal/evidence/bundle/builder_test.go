package bundle

import (
	"encoding/json"
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

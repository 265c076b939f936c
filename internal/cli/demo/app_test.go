package demo

import (
	"testing"
	"time"
)

func TestDetectorFiresOnASustainedErrorRateAndResolvesAfterRecovery(t *testing.T) {
	d := newDetector()
	for range 100 {
		d.observe(false)
	}
	if len(d.changes) != 0 {
		t.Fatal("a healthy primary fired the alert")
	}
	// A short burst is not an outage: the rate must hold for forN answers.
	for range 5 {
		d.observe(true)
	}
	if len(d.changes) != 0 {
		t.Fatal("a burst of 5 errors fired the alert")
	}
	for range d.forN {
		d.observe(true)
	}
	if got := <-d.changes; got != "firing" {
		t.Fatalf("change %q, want firing", got)
	}
	for range d.window {
		d.observe(false)
	}
	if got := <-d.changes; got != "resolved" {
		t.Fatalf("change %q, want resolved", got)
	}
	if len(d.changes) != 0 {
		t.Fatalf("extra changes: %d", len(d.changes))
	}
}

func TestFaultyPrimaryFailsSevenInTen(t *testing.T) {
	a := &app{}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	byType := map[string]int{}
	for i := range 100 {
		r := a.request(now, primary, true, i)
		byType[r.ErrorType]++
		if healthy := a.request(now, primary, false, i); healthy.ErrorType != "" || healthy.OutputTokens == 0 {
			t.Fatalf("healthy request %+v", healthy)
		}
	}
	if byType["503"]+byType["429"] != 70 || byType["503"] == 0 || byType["429"] == 0 {
		t.Errorf("errors %v, want 70 in 100, both 503 and 429", byType)
	}
}

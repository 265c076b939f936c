package evidence

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/config"
	evstore "github.com/quench-dev/quench/internal/evidence"
	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/evidence/report"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/workflows"
)

const incident = "inc-provider-outage-00112233445566ab"

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// stored writes a bundle of a small story into a data dir's evidence store and returns the
// dir and the incident status that references it.
func stored(t *testing.T) (string, workflows.Status) {
	t.Helper()
	b, err := bundle.NewBuilder(ports.SnapshotRequest{Window: 30 * time.Minute, Baseline: time.Hour, Now: now, Samples: 2})
	if err != nil {
		t.Fatal(err)
	}
	f := func(v float64) *float64 { return &v }
	for i := 0; i < 20; i++ {
		b.Add(bundle.Request{Time: now.Add(-time.Hour + time.Duration(i)*time.Minute), Provider: "openai", RequestModel: "gpt-4o",
			PromptName: "summarise", PromptVersion: "7", DurationMs: f(300), OutputTokens: f(400), FinishReasons: []string{"stop"}}, nil)
	}
	for i := 0; i < 10; i++ {
		r := bundle.Request{Time: now.Add(-20*time.Minute + time.Duration(i)*time.Minute), Provider: "openai", RequestModel: "gpt-4o",
			PromptName: "summarise", PromptVersion: "8", DurationMs: f(2500), OutputTokens: f(90), FinishReasons: []string{"length"},
			Input: "reach me at jane@example.com <script>alert(1)</script>"}
		if i < 4 {
			r.ErrorType = "429"
		}
		b.Add(r, nil)
	}
	snap, err := b.Build(bundle.Manifest{Source: "/var/log/llm.jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	store, err := evstore.Open(filepath.Join(dir, "evidence"))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := store.Put(context.Background(), incident, "evidence", snap.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	return dir, workflows.Status{IncidentID: incident, ShortID: "5566ab", Title: "OpenAI errors", Runbook: "provider-outage", State: "running",
		Evidence: []ports.EvidenceRef{ref}}
}

func run(t *testing.T, dir string, st workflows.Status, mutate func(*ShowOptions)) (string, error) {
	t.Helper()
	io, _, out, _ := cmdutil.Test()
	opts := &ShowOptions{IO: io, Ref: "5566ab", DataDir: dir, Format: cmdutil.FormatTable,
		Status: func(context.Context, string) (workflows.Status, error) { return st, nil },
		Config: func() (*config.Config, error) { return &config.Config{DataDir: dir}, nil }}
	if mutate != nil {
		mutate(opts)
	}
	err := ShowRun(context.Background(), opts)
	return out.String(), err
}

func TestShowSummarisesAndVerifies(t *testing.T) {
	dir, st := stored(t)
	out, err := run(t, dir, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Incident 5566ab: OpenAI errors", "verified against the incident's record",
		"What changed most", "By provider", "By provider / model / prompt version",
		"summarise@8", "summarise@7", "40.0%", "429 4", "length 100.0%", "[EMAIL]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "jane@example.com") {
		t.Fatal("the raw e-mail reached the output")
	}
}

func TestShowReports(t *testing.T) {
	dir, st := stored(t)
	md := filepath.Join(t.TempDir(), "report.md")
	if _, err := run(t, dir, st, func(o *ShowOptions) { o.Report, o.OutFile = FormatMarkdown, md }); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Incident 5566ab", "### By provider / model / prompt version", "| PROVIDER | MODEL |", "&lt;script&gt;"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("markdown lacks %q:\n%s", want, data)
		}
	}
	html, err := run(t, dir, st, func(o *ShowOptions) { o.Report = FormatHTML })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html, "<table>") || strings.Contains(html, "<script>alert") || !strings.Contains(html, "What changed most") {
		t.Fatalf("html report:\n%s", html)
	}
	js, err := run(t, dir, st, func(o *ShowOptions) { o.Format = cmdutil.FormatJSON })
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(js), &rep); err != nil || len(rep.Bundles) != 1 || !rep.Bundles[0].Verified || rep.Bundles[0].Doc.Headline.Requests != 10 {
		t.Fatalf("json report %+v (%v)", rep, err)
	}
}

func TestShowRefusesATamperedBundle(t *testing.T) {
	dir, st := stored(t)
	path := filepath.Join(dir, "evidence", incident, "evidence.json")
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), `"requests": 10`, `"requests": 1`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, dir, st, nil); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
		t.Fatalf("want a digest error, got %v", err)
	}
	// The store's digest file rewritten too: the incident's own record still catches it.
	st.Evidence[0].SHA256 = strings.Repeat("0", 64)
	dir2, _ := stored(t)
	if _, err := run(t, dir2, st, nil); err == nil || !strings.Contains(err.Error(), "changed after capture") {
		t.Fatalf("want a mismatch with the incident's digest, got %v", err)
	}
}

func TestShowWithoutEvidenceOrStore(t *testing.T) {
	out, err := run(t, t.TempDir(), workflows.Status{ShortID: "abc123", Runbook: "provider-outage"}, nil)
	if err != nil || !strings.Contains(out, "has no traffic evidence yet") {
		t.Fatalf("%q %v", out, err)
	}
	_, st := stored(t)
	if _, err := run(t, filepath.Join(t.TempDir(), "nowhere"), st, nil); err == nil || !strings.Contains(err.Error(), "--data-dir") {
		t.Fatalf("missing store: %v", err)
	}
}

package evidence

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quench-dev/quench/internal/api"
	"github.com/quench-dev/quench/internal/cli/cmdutil"
	evstore "github.com/quench-dev/quench/internal/evidence"
	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/evidence/report"
	"github.com/quench-dev/quench/internal/incidents/apiclient"
	"github.com/quench-dev/quench/internal/incidents/incidentsfake"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
	"github.com/quench-dev/quench/workflows"
)

const incident = "inc-provider-outage-00112233445566ab"

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// stored writes a bundle of a small story into a SQL evidence store and serves it, with an
// incident that references it, from a quench API.
func stored(t *testing.T) *env {
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
	e := &env{t: t, sql: storetest.SQLite(t), fake: incidentsfake.New(nil)}
	e.store = evstore.OpenDB(e.sql)
	ref, err := e.store.Put(context.Background(), incident, "evidence", snap.Bundle)
	if err != nil {
		t.Fatal(err)
	}
	e.st = workflows.Status{IncidentID: incident, ShortID: "5566ab", Title: "OpenAI errors", Runbook: "provider-outage", State: "running",
		Evidence: []ports.EvidenceRef{ref}}
	e.fake.Add(e.st)
	srv := httptest.NewServer(api.New(api.Options{Incidents: e.fake, Evidence: e.store, Registry: prometheus.NewRegistry(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Dev:    &api.DevCredential{Token: token, Identity: "cli:alice"}, Hosts: api.Hosts{ListenHost: "127.0.0.1"}}))
	t.Cleanup(srv.Close)
	e.srv = srv
	return e
}

const token = "dev-token-for-evidence-tests"

// env is a quench API over a fake incident and a SQL evidence store: the CLI reads
// through it with quench dev's credential and no data dir at all.
type env struct {
	t     *testing.T
	sql   *store.DB
	store *evstore.DB
	fake  *incidentsfake.Fake
	st    workflows.Status
	srv   *httptest.Server
}

func run(t *testing.T, e *env, mutate func(*ShowOptions)) (string, error) {
	t.Helper()
	io, _, out, _ := cmdutil.Test()
	opts := &ShowOptions{IO: io, Ref: "5566ab", Format: cmdutil.FormatTable,
		API: func() (Reader, error) { return apiclient.New(e.srv.URL, token), nil }}
	if mutate != nil {
		mutate(opts)
	}
	err := ShowRun(context.Background(), opts)
	return out.String(), err
}

func TestShowSummarisesAndVerifies(t *testing.T) {
	out, err := run(t, stored(t), nil)
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
	e := stored(t)
	md := filepath.Join(t.TempDir(), "report.md")
	if _, err := run(t, e, func(o *ShowOptions) { o.Report, o.OutFile = FormatMarkdown, md }); err != nil {
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
	html, err := run(t, e, func(o *ShowOptions) { o.Report = FormatHTML })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html, "<table>") || strings.Contains(html, "<script>alert") || !strings.Contains(html, "What changed most") {
		t.Fatalf("html report:\n%s", html)
	}
	js, err := run(t, e, func(o *ShowOptions) { o.Format = cmdutil.FormatJSON })
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(js), &rep); err != nil || len(rep.Bundles) != 1 || !rep.Bundles[0].Verified || rep.Bundles[0].Doc.Headline.Requests != 10 {
		t.Fatalf("json report %+v (%v)", rep, err)
	}
}

func TestShowRefusesATamperedBundle(t *testing.T) {
	e := stored(t)
	ctx := context.Background()
	if _, err := e.sql.Exec(ctx, `UPDATE evidence_bundles SET data = ? WHERE incident = ?`, []byte(`{"forged":true}`), incident); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, e, nil); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
		t.Fatalf("want a digest error, got %v", err)
	}
	// The store's digest changed too: the incident's own record still catches it.
	e2 := stored(t)
	e2.st.Evidence[0].SHA256 = strings.Repeat("0", 64)
	e2.fake.Add(e2.st)
	if _, err := run(t, e2, nil); err == nil || !strings.Contains(err.Error(), "changed after capture") {
		t.Fatalf("want a mismatch with the incident's digest, got %v", err)
	}
}

func TestShowWithoutEvidenceOrStore(t *testing.T) {
	e := stored(t)
	e.fake.Add(workflows.Status{IncidentID: "inc-provider-outage-00000000000abc12", ShortID: "abc123", Runbook: "provider-outage"})
	out, err := run(t, e, func(o *ShowOptions) { o.Ref = "abc123" })
	if err != nil || !strings.Contains(out, "has no traffic evidence yet") {
		t.Fatalf("%q %v", out, err)
	}
	// Recorded by the incident, absent from the server's store (captured elsewhere).
	if _, err := e.sql.Exec(context.Background(), `DELETE FROM evidence_bundles`); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, e, nil); err == nil || !strings.Contains(err.Error(), "is not in the evidence store") {
		t.Fatalf("missing bundle: %v", err)
	}
	e.srv.Close()
	if _, err := run(t, e, nil); err == nil || !strings.Contains(err.Error(), "cannot reach quench") {
		t.Fatalf("API down: %v", err)
	}
}

// TestAPIReaderUsesTheCLICredential: the command's default reader is the API client the
// CLI acts with, found from quench dev's credential; no data dir path is read otherwise.
func TestAPIReaderUsesTheCLICredential(t *testing.T) {
	f := &cmdutil.Factory{Actor: func() (cmdutil.Actor, error) {
		return cmdutil.Actor{Client: apiclient.New("http://127.0.0.1:1", token), Identity: "cli:alice"}, nil
	}}
	r, err := APIReader(f)()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.(*apiclient.Client); !ok {
		t.Fatalf("reader %T, want the API client", r)
	}
	if flag := NewCmdShow(&cmdutil.Factory{IO: f.IO}, nil).Flags().Lookup("data-dir"); flag != nil {
		t.Fatal("evidence show must not read a data dir of its own: it reads through the API")
	}
}

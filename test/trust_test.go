package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

const trustGate = `name: trust-gate
title: Two people approve
description: one gate, two approvers, four eyes
steps:
  - id: go
    action: approval
    with:
      question: go?
    approval:
      groups: [sre]
      quorum: 2
      four_eyes: true
`

// trustDev runs quench dev with people, approvers and one API token per identity.
func trustDev(t *testing.T) (*devProcess, devConfig, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"runbooks", "tokens"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(dir, "runbooks", "trust-gate.yaml"), trustGate)
	tokens := map[string]string{"alice-bot": "tok-alice-1", "alice-ops": "tok-alice-2", "bob-bot": "tok-bob", "carol-bot": "tok-carol", "dave-bot": "tok-dave"}
	var refs strings.Builder
	for who, tok := range tokens {
		writeFile(t, filepath.Join(dir, "tokens", who), tok)
		refs.WriteString("    " + who + ": file:" + filepath.Join(dir, "tokens", who) + "\n")
	}
	cfg := filepath.Join(dir, "quench.yaml")
	writeFile(t, cfg, "runbooks_dir: "+filepath.Join(dir, "runbooks")+`
people:
  alice: [cli:alice, api:alice-bot, api:alice-ops]
  bob: [api:bob-bot]
approvers:
  sre: [alice, bob, api:dave-bot]
api:
  tokens:
`+refs.String())
	dc := newDevConfig(t, "--config", cfg)
	return startDev(t, dc), dc, tokens
}

// callAPI sends a request with a bearer token and returns the status and body.
func callAPI(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// Hostile approvals on quench dev: an update sent with the Temporal SDK, the same person
// through two identities, and the requester through another identity are refused, each
// leaves a line on the timeline and none counts; two different people approve.
func TestApprovalsOnlyFromAuthenticatedPeople(t *testing.T) {
	dev, dc, tokens := trustDev(t)
	base := "http://" + dev.http
	start := func(token string) incidents.Started {
		code, body := callAPI(t, "POST", base+"/api/v1/incidents", token, map[string]any{"runbook": "trust-gate"})
		if code != http.StatusCreated {
			t.Fatalf("start: %d %s", code, body)
		}
		var s incidents.Started
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	pending := func(id string) workflows.Status {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			code, body := callAPI(t, "GET", base+"/api/v1/incidents/"+id, tokens["bob-bot"], nil)
			var st workflows.Status
			if code == http.StatusOK && json.Unmarshal(body, &st) == nil && len(st.Pending) == 1 {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("incident %s never waited for approval: %d %s", id, code, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	decide := func(id, token, digest string) (int, string) {
		code, body := callAPI(t, "POST", base+"/api/v1/incidents/"+id+"/decisions", token, map[string]string{"verdict": "approve", "digest": digest})
		return code, string(body)
	}
	refused := func(st workflows.Status) []string {
		var out []string
		for _, e := range st.Timeline {
			if e.Kind == workflows.EventDecisionRefused {
				out = append(out, e.Text)
			}
		}
		return out
	}

	// 1. Quorum 2: alice through two tokens counts once; bob makes two.
	one := start(tokens["carol-bot"])
	st := pending(one.ShortID)
	digest := st.Pending[0].Digest
	if code, body := decide(one.ShortID, tokens["alice-bot"], digest); code != http.StatusOK || !strings.Contains(body, "counted") {
		t.Fatalf("alice's first approval: %d %s", code, body)
	}
	if code, body := decide(one.ShortID, tokens["alice-ops"], digest); code < 400 || code >= 500 || !strings.Contains(body, "each person counts once") {
		t.Fatalf("alice again through another identity: %d %s, want a refusal", code, body)
	}
	st = pending(one.ShortID)
	if n := len(st.Pending[0].Approvals); n != 1 {
		t.Fatalf("%d approvals counted, want 1", n)
	}
	if r := refused(st); len(r) != 1 || !strings.Contains(r[0], "alice (api:alice-ops)") {
		t.Fatalf("refusals on the timeline: %q", r)
	}
	if code, body := decide(one.ShortID, tokens["bob-bot"], digest); code != http.StatusOK || !strings.Contains(body, "approved") {
		t.Fatalf("bob's approval: %d %s", code, body)
	}
	recordClosed(t, dev, one.IncidentID, "trust-gate-signed-quorum")

	// 2. alice started it; alice through another identity is refused by four-eyes, and an
	// update sent straight to Temporal (no proof) is refused whatever it claims.
	two := start(tokens["alice-bot"])
	st = pending(two.ShortID)
	digest = st.Pending[0].Digest
	if code, body := decide(two.ShortID, tokens["alice-ops"], digest); code < 400 || code >= 500 || !strings.Contains(body, "four eyes") {
		t.Fatalf("the requester through another identity: %d %s, want a four-eyes refusal", code, body)
	}
	c, err := client.Dial(client.Options{HostPort: dev.temporal})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	forged := workflows.Decision{StepID: "go", Digest: digest, Approver: "mallory-not-in-config", Groups: []string{"sre"}, Verdict: workflows.VerdictApprove, Via: "slack"}
	for range 2 { // twice: a quorum of forgeries
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: two.IncidentID, UpdateName: workflows.UpdateDecide,
			Args: []any{forged}, WaitForStage: client.WorkflowUpdateStageCompleted})
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Get(ctx, nil); err == nil || !strings.Contains(err.Error(), "no proof") {
			t.Fatalf("a raw SDK decide update: %v, want a refusal", err)
		}
	}
	st = pending(two.ShortID)
	if n := len(st.Pending[0].Approvals); n != 0 {
		t.Fatalf("%d approvals counted, want none", n)
	}
	r := refused(st)
	if len(r) != 3 || !strings.Contains(r[1], `"mallory-not-in-config" (unverified)`) {
		t.Fatalf("refusals on the timeline: %q", r)
	}
	for _, e := range st.Timeline {
		if e.Kind == workflows.EventDecision {
			t.Fatalf("a decision was recorded: %+v", e)
		}
	}
	for _, tok := range []string{tokens["bob-bot"], tokens["dave-bot"]} {
		if code, body := decide(two.ShortID, tok, digest); code != http.StatusOK {
			t.Fatalf("approval: %d %s", code, body)
		}
	}
	recordClosed(t, dev, two.IncidentID, "trust-gate-forged-update-refused")

	// The dev signing key is the data dir's, readable by its user only.
	info, err := os.Stat(filepath.Join(dc.DataDir, "decision-signing.key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("dev signing key: %v %v", err, info)
	}
}

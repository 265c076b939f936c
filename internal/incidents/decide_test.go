package incidents

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/quench-dev/quench/internal/trust"
	"github.com/quench-dev/quench/workflows"
)

func TestDecideSignsWhatTheFrontDoorAuthenticated(t *testing.T) {
	people, err := trust.NewPeople(map[string][]string{"alice": {"cli:alice", "slack:U0123ALICE", "api:deploy-bot"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                     string
		d                        workflows.Decision
		wantIdentity, wantPerson string
	}{
		{"CLI name", workflows.Decision{Approver: "bob", Via: "cli"}, "cli:bob", "cli:bob"},
		{"no channel is the CLI", workflows.Decision{Approver: "Alice"}, "cli:Alice", "alice"},
		{"API token identity", workflows.Decision{Approver: "deploy-bot", Via: "api"}, "api:deploy-bot", "alice"},
		{"Slack user with verified groups", workflows.Decision{Approver: "slack:U0123ALICE", Via: "slack", Groups: []string{"slack:S1"}}, "slack:U0123ALICE", "alice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ft := newService(t)
			s.People = people
			ft.statuses[id] = waiting(workflows.PendingApproval{StepID: "failback", Digest: digestA})
			tc.d.Verdict, tc.d.Reason = workflows.VerdictApprove, "healthy"
			before := time.Now()
			if _, err := s.Decide(context.Background(), id, tc.d); err != nil {
				t.Fatal(err)
			}
			sent := ft.updates[0].Args[0].(workflows.Decision)
			if sent.Proof == nil {
				t.Fatal("the decision was sent without a proof")
			}
			if err := trust.Verify(s.Signer.PublicKey(), *sent.Proof, time.Now(), trust.DefaultMaxAge); err != nil {
				t.Fatalf("the proof does not verify: %v", err)
			}
			c := sent.Proof.Claim
			want := trust.Claim{Person: tc.wantPerson, Identity: tc.wantIdentity, Via: tc.d.Via, IncidentID: id, StepID: "failback",
				Digest: digestA, Verdict: workflows.VerdictApprove, Reason: "healthy", Groups: tc.d.Groups, At: c.At, Nonce: c.Nonce}
			if !equalClaims(c, want) {
				t.Fatalf("claim %+v\nwant  %+v", c, want)
			}
			if c.At.Before(before) || c.Nonce == "" || sent.Approver != tc.wantIdentity {
				t.Fatalf("at %v nonce %q approver %q", c.At, c.Nonce, sent.Approver)
			}
		})
	}
}

func equalClaims(a, b trust.Claim) bool {
	return string(trust.SigningBytes(a)) == string(trust.SigningBytes(b))
}

func TestDecideRefusesBeforeSending(t *testing.T) {
	for _, tc := range []struct {
		name    string
		signer  bool
		d       workflows.Decision
		wantErr string
		invalid bool
	}{
		{"no signer", false, workflows.Decision{Approver: "bob", Via: "cli"},
			"approve refused: decisions are signed by a quench front door: approve through `quench dev`'s or `quench server`'s API, or Slack", false},
		{"look-alike", true, workflows.Decision{Approver: "аlice", Via: "cli"}, "mixes Cyrillic and Latin", true},
		{"invisible character", true, workflows.Decision{Approver: "al\u200bice", Via: "api"}, "invisible", true},
		{"no approver", true, workflows.Decision{Via: "api"}, "empty", true},
		{"Slack identity through the API", true, workflows.Decision{Approver: "slack:U0123ALICE", Via: "api"}, "through Slack only", true},
		{"Slack identity through the CLI", true, workflows.Decision{Approver: "slack:U0123ALICE", Via: "cli"}, "through Slack only", true},
		{"Slack door for another kind", true, workflows.Decision{Approver: "cli:alice", Via: "slack"}, "through Slack only", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, ft := newService(t)
			if !tc.signer {
				s.Signer = nil
			}
			ft.statuses[id] = waiting(workflows.PendingApproval{StepID: "failback", Digest: digestA})
			tc.d.Verdict = workflows.VerdictApprove
			_, err := s.Decide(context.Background(), id, tc.d)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if errors.Is(err, ErrInvalid) != tc.invalid {
				t.Errorf("errors.Is(err, ErrInvalid) = %v", !tc.invalid)
			}
			if len(ft.updates) != 0 {
				t.Fatal("a refused decision reached the workflow")
			}
		})
	}
}

func TestDecideMarksTheIncidentsRefusal(t *testing.T) {
	s, ft := newService(t)
	ft.statuses[id] = waiting(workflows.PendingApproval{StepID: "failback", Digest: digestA})
	ft.handleErr = temporal.NewNonRetryableApplicationError("bob may not decide on step failback: not a member of sre", workflows.ErrTypeDecisionRefused, nil)
	_, err := s.Decide(context.Background(), id, workflows.Decision{Verdict: workflows.VerdictApprove, Approver: "bob"})
	if !errors.Is(err, ErrRefused) || err.Error() != "approve refused: bob may not decide on step failback: not a member of sre" {
		t.Fatalf("err %v", err)
	}
	ft.handleErr = errors.New("connection reset")
	if _, err := s.Decide(context.Background(), id, workflows.Decision{Verdict: workflows.VerdictApprove, Approver: "bob"}); err == nil || errors.Is(err, ErrRefused) {
		t.Fatalf("a transport error is not the incident's refusal: %v", err)
	}
}

func TestPrepareRefusesLookalikeRequester(t *testing.T) {
	s, _ := newService(t)
	_, _, err := s.Prepare(StartRequest{Runbook: "provider-outage", Params: map[string]string{"route": "chat"}, Requester: "аlice", Source: "cli"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "requester") {
		t.Fatalf("err %v", err)
	}
	if _, _, err := s.Prepare(StartRequest{Runbook: "provider-outage", Params: map[string]string{"route": "chat"}, Requester: "slack:U0123ALICE", Source: "slack"}); err != nil {
		t.Fatal(err)
	}
}

// Without a signer an unknown incident is still reported as unknown first.
func TestDecideWithoutSignerOnUnknownIncident(t *testing.T) {
	s, _ := newService(t)
	s.Signer = nil
	if _, err := s.Decide(context.Background(), "abcdef", workflows.Decision{Verdict: workflows.VerdictApprove, Approver: "bob"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("err %v, want ErrNotFound", err)
	}
}

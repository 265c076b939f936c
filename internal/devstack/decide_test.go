package devstack

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

const gateRunbook = `name: gate-only
title: One approval
description: asks one question and stops
steps:
  - id: go
    action: approval
    with:
      question: go?
    approval:
      groups: [sre]
      four_eyes: true
`

// Against the real embedded Temporal: an update sent straight through the SDK, as a program
// on the same machine can, does not count and is put on the timeline; the requester under
// another spelling is refused; the stack's own signed decision counts.
func TestOnlySignedDecisionsCount(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	stack, err := StartInDir(ctx, DirOptions{Dir: dir, Runbooks: map[string]string{"gate-only.yaml": gateRunbook},
		Config: "people:\n  alice: [cli:alice, slack:U0123ALICE]\n", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	defer stack.Stop()
	require.NotNil(t, stack.Decisions.Signer)

	svc := stack.Incidents
	started, err := svc.Start(ctx, incidents.StartRequest{Runbook: "gate-only", Requester: "alice", Source: "cli"})
	require.NoError(t, err)
	var st workflows.Status
	require.Eventually(t, func() bool {
		st, err = svc.Status(ctx, started.IncidentID)
		return err == nil && len(st.Pending) == 1
	}, time.Minute, 50*time.Millisecond)

	forged := workflows.Decision{StepID: "go", Digest: st.Pending[0].Digest, Approver: "mallory-not-in-config",
		Groups: []string{"sre"}, Verdict: workflows.VerdictApprove, Via: "slack"}
	h, err := stack.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: started.IncidentID, UpdateName: workflows.UpdateDecide,
		Args: []any{forged}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	err = h.Get(ctx, nil)
	require.Error(t, err, "a raw SDK update was accepted")
	assert.Contains(t, err.Error(), "no proof")

	_, err = svc.Decide(ctx, started.IncidentID, workflows.Decision{Approver: "slack:U0123ALICE", Via: "slack", Verdict: workflows.VerdictApprove})
	require.True(t, errors.Is(err, incidents.ErrRefused), "alice approving her own incident through Slack: %v", err)
	assert.Contains(t, err.Error(), "four eyes")

	st, err = svc.Status(ctx, started.IncidentID)
	require.NoError(t, err)
	require.Len(t, st.Pending, 1)
	assert.Empty(t, st.Pending[0].Approvals, "nothing counted")
	var refusals []string
	for _, e := range st.Timeline {
		if e.Kind == workflows.EventDecisionRefused {
			refusals = append(refusals, e.Text)
		}
	}
	require.Len(t, refusals, 2)
	assert.Contains(t, refusals[0], `"mallory-not-in-config" (unverified)`)
	assert.True(t, strings.Contains(refusals[1], "alice (slack:U0123ALICE)"), refusals[1])

	res, err := svc.Decide(ctx, started.IncidentID, workflows.Decision{Approver: "bob", Via: "api", Verdict: workflows.VerdictApprove})
	require.NoError(t, err)
	assert.Equal(t, "approved", res.Outcome)
}

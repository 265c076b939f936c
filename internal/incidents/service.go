// Package incidents is the client side of an incident: start one from a runbook, find it by
// its short ID, read its status, decide its approvals, resolve, abort, annotate, and watch
// it. The CLI, the HTTP API, ingest and Slack all go through it, so every entry point
// resolves params, names workflows and reports errors the same way.
package incidents

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/alert"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/trust"
	"github.com/quench-dev/quench/runbooks"
	"github.com/quench-dev/quench/workflows"
)

// Temporal is the part of the Temporal client this package uses; client.Client has it.
type Temporal interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
	SignalWithStartWorkflow(ctx context.Context, workflowID string, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
	SignalWorkflow(ctx context.Context, workflowID string, runID string, signalName string, arg any) error
	QueryWorkflow(ctx context.Context, workflowID string, runID string, queryType string, args ...any) (converter.EncodedValue, error)
	UpdateWorkflow(ctx context.Context, options client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error)
	ListWorkflow(ctx context.Context, request *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
	DescribeWorkflowExecution(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error)
	GetWorkflowHistory(ctx context.Context, workflowID string, runID string, isLongPoll bool, filterType enumspb.HistoryEventFilterType) client.HistoryEventIterator
}

// Service operates incidents on one namespace.
type Service struct {
	Temporal  Temporal
	Runbooks  *runbooks.Library
	Namespace string
	TaskQueue string // default workflows.TaskQueue
	// Routes, when set, refuses starts that name a route the gateway does not know.
	Routes RouteChecker
	// Gateway, when set, says what the gateway can do: a start whose runbook has a step it
	// cannot carry out is refused, and the incident's `when` conditions read the rest
	// (incident.gateway.pin_model).
	Gateway ports.CapabilityReporter
	// LookupWait bounds how long a short ID is looked for (visibility lags a start);
	// default 3 s.
	LookupWait time.Duration
	// Signer signs decisions: only a front door that authenticated the decider (quench
	// dev's or quench server's API and Slack) has one. Without it Decide refuses.
	Signer *trust.Signer
	// People maps identities to people, for the person named in a signed decision.
	People trust.People
	// Policy, when set, is the workers' incident policy (built from the same config as
	// theirs): it travels in every new incident's input, so the first workflow task does
	// not load it with a local activity. Nil: each incident loads it from its worker.
	Policy *activities.Policy
	// Revision is the interpreter revision new incidents start on (IncidentInput.Revision):
	// workflows.StartRevision only where every worker that may run them has this code (quench
	// dev's own worker). 0 keeps the command sequence older workers produce, so a starter
	// upgraded before its workers never starts an incident a later replay would not match.
	Revision int
	// Speed, when above 1, divides new incidents' waits (IncidentInput.Speed): `quench demo
	// --speed`. Never set by a server that handles real incidents.
	Speed float64

	// RememberShortIDs lets the Service remember short IDs it started or looked up
	// (refcache.go), sparing visibility lookups. Only where this Service starts every
	// incident (quench dev): among replicas another server may start an incident with the
	// same short ID, which a remembered answer would hide instead of calling it ambiguous.
	RememberShortIDs bool

	// refs remembers short IDs this Service started or looked up (refcache.go).
	refsOnce sync.Once
	refs     *refCache
}

// refCache is the short-ID memory; nil (remembering nothing) unless RememberShortIDs.
func (s *Service) refCache() *refCache {
	if !s.RememberShortIDs {
		return nil
	}
	s.refsOnce.Do(func() { s.refs = newRefCache() })
	return s.refs
}

// New returns a Service.
func New(t Temporal, lib *runbooks.Library, namespace string) *Service {
	return &Service{Temporal: t, Runbooks: lib, Namespace: namespace, TaskQueue: workflows.TaskQueue}
}

// ErrNotFound means no incident has that ID.
var ErrNotFound = errors.New("incident not found")

// StartRequest asks for a new incident (or the running one of the same alert group).
type StartRequest struct {
	Runbook   string
	Params    map[string]string
	Key       string // dedup key: the same key lands in the same incident
	Requester string // "cli:alice", "slack:U123", "alertmanager"
	Source    string // cli | slack | api | alertmanager | ...
	Alert     *alert.Alert
	Severity  string
	Service   string
	// KeyOnce: Key names one request (a signed Slack command), so it starts at most one
	// incident ever; a replay after that incident closed gets the closed one, not a new one.
	KeyOnce bool
}

// Started describes the incident a start landed in.
type Started struct {
	IncidentID string `json:"incident_id"`
	ShortID    string `json:"short_id"`
	RunID      string `json:"run_id"`
	Runbook    string `json:"runbook"`
	Title      string `json:"title"`
}

// Prepare resolves a start request into the workflow's input and start options without
// starting anything: `runbook plan` and the tests use it; Start sends it.
func (s *Service) Prepare(req StartRequest) (workflows.IncidentInput, client.StartWorkflowOptions, error) {
	if s.Runbooks == nil {
		return workflows.IncidentInput{}, client.StartWorkflowOptions{}, errors.New("no runbook library loaded")
	}
	spec, err := s.Runbooks.Get(req.Runbook)
	if err != nil {
		return workflows.IncidentInput{}, client.StartWorkflowOptions{}, Invalid(err)
	}
	params, err := runbooks.ResolveParams(spec, req.Params, req.Alert)
	if err != nil {
		return workflows.IncidentInput{}, client.StartWorkflowOptions{}, Invalid(fmt.Errorf("runbook %s: %w", spec.Name, err))
	}
	// Four-eyes compares the requester with the approvers: a look-alike name must not start.
	if strings.TrimSpace(req.Requester) != "" {
		if _, err := trust.CheckIdentity(req.Requester); err != nil {
			return workflows.IncidentInput{}, client.StartWorkflowOptions{}, Invalid(fmt.Errorf("requester: %w", err))
		}
	}
	// A severity a person chose must be one quench knows; an alert's stays as sent.
	if req.Severity != "" {
		if err := runbooks.CheckSeverity(req.Severity); err != nil {
			return workflows.IncidentInput{}, client.StartWorkflowOptions{}, Invalid(err)
		}
	}
	id, err := IncidentID(spec.Name, req)
	if err != nil {
		return workflows.IncidentInput{}, client.StartWorkflowOptions{}, err
	}
	if err := CheckGateway(s.Gateway, workflows.IncidentInput{Spec: *spec}); err != nil {
		return workflows.IncidentInput{}, client.StartWorkflowOptions{}, err
	}
	s.refCache().preparing(id)
	severity := firstNonEmpty(req.Severity, alertField(req.Alert, "severity"), spec.Severity)
	service := firstNonEmpty(req.Service, params["service"], alertField(req.Alert, "service"))
	in := workflows.IncidentInput{
		IncidentID: id,
		ShortID:    ShortID(id),
		Spec:       *spec,
		Params:     params,
		Alert:      req.Alert,
		Requester:  req.Requester,
		Source:     req.Source,
		Severity:   severity,
		Service:    service,
		Policy:     s.Policy,
		Revision:   s.Revision,
		Speed:      s.Speed,
		Gateway:    GatewayCan(s.Gateway),
	}
	opts := client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                s.taskQueue(),
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    SearchAttributes(in, workflows.StateRunning),
		// With a worker on the same client (quench dev, ingest beside a worker), the first
		// workflow task comes back on the start's answer instead of through matching. Without
		// one, or on a signal-with-start, the SDK ignores it.
		EnableEagerStart: true,
	}
	if req.KeyOnce && req.Key != "" {
		// The SDK answers a rejected duplicate with the existing run, not an error.
		opts.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	}
	return in, opts, nil
}

// Start starts an incident, or returns the running one with the same ID.
func (s *Service) Start(ctx context.Context, req StartRequest) (Started, error) {
	in, opts, err := s.Prepare(req)
	if err != nil {
		return Started{}, err
	}
	if err := CheckRoutes(ctx, s.Routes, in); err != nil {
		return Started{}, err
	}
	run, err := s.Temporal.ExecuteWorkflow(ctx, opts, workflows.IncidentWorkflowName, in)
	if err != nil {
		return Started{}, fmt.Errorf("start incident: %w", explain(err))
	}
	s.refCache().started(in.IncidentID)
	return Started{IncidentID: in.IncidentID, ShortID: in.ShortID, RunID: run.GetRunID(), Runbook: in.Spec.Name, Title: in.Spec.Title}, nil
}

// SearchAttributes are the typed search attributes an incident carries.
func SearchAttributes(in workflows.IncidentInput, state string) temporal.SearchAttributes {
	kw := func(name, v string) temporal.SearchAttributeUpdate {
		return temporal.NewSearchAttributeKeyKeyword(name).ValueSet(v)
	}
	updates := []temporal.SearchAttributeUpdate{
		kw(workflows.SearchRunbook, in.Spec.Name),
		kw(workflows.SearchStatus, state),
		kw(workflows.SearchShortID, in.ShortID),
	}
	if in.Severity != "" {
		updates = append(updates, kw(workflows.SearchSeverity, in.Severity))
	}
	if in.Service != "" {
		updates = append(updates, kw(workflows.SearchService, in.Service))
	}
	return temporal.NewSearchAttributes(updates...)
}

// IncidentID names the workflow of an incident. Alert-started incidents (and starts with a
// key) hash source and key, so a storm of one alert group lands in one workflow.
func IncidentID(runbook string, req StartRequest) (string, error) {
	switch {
	case req.Key != "":
		source := req.Source
		if req.Alert != nil {
			source = req.Alert.Source
		}
		return "inc-" + runbook + "-" + alert.IncidentHash(source, req.Key), nil
	case req.Alert != nil && req.Alert.Key != "":
		return "inc-" + runbook + "-" + alert.IncidentHash(req.Alert.Source, req.Alert.Key), nil
	default:
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("incident id: %w", err)
		}
		return "inc-" + runbook + "-" + hex.EncodeToString(b), nil
	}
}

// ShortID is the human-facing ID: the last 6 hex digits of the workflow ID.
func ShortID(incidentID string) string {
	if len(incidentID) <= 6 {
		return incidentID
	}
	return incidentID[len(incidentID)-6:]
}

// Resolve turns what a human typed (a short ID or a full workflow ID) into a workflow ID.
// Visibility is eventually consistent, so a just-started incident is looked up for a
// couple of seconds before giving up. A short ID this Service started or found lately is
// remembered (refcache.go), so `show` then `approve` asks visibility once at most.
func (s *Service) Resolve(ctx context.Context, ref string) (string, error) {
	ref, full, err := ParseRef(ref)
	if err != nil || full {
		return ref, err
	}
	if id, ok := s.refCache().get(ref); ok {
		return id, nil
	}
	wait := s.LookupWait
	if wait == 0 {
		wait = 3 * time.Second
	}
	query := fmt.Sprintf("%s = '%s'", workflows.SearchShortID, ref)
	deadline := time.Now().Add(wait)
	for {
		resp, err := s.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: s.Namespace, Query: query, PageSize: 10})
		if err != nil {
			return "", fmt.Errorf("look up incident %s: %w", ref, explain(err))
		}
		var ids []string
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		if len(ids) > 0 || !time.Now().Before(deadline) {
			id, err := PickID(ref, ids)
			if err == nil {
				s.refCache().lookedUp(ref, id)
			}
			return id, err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Status reads an incident's status (running or closed).
func (s *Service) Status(ctx context.Context, ref string) (workflows.Status, error) {
	id, err := s.Resolve(ctx, ref)
	if err != nil {
		return workflows.Status{}, err
	}
	v, err := s.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	// A query that missed the incident's sticky worker goes to the task queue, where a
	// worker busy with other tasks may not be polling just then ("no poller seen ... worker
	// may be down"). That says nothing about the incident: ask again a few times.
	for wait := 250 * time.Millisecond; err != nil && noPollerYet(err) && wait <= 2*time.Second; wait *= 2 {
		select {
		case <-ctx.Done():
			return workflows.Status{}, ctx.Err()
		case <-time.After(wait):
		}
		v, err = s.Temporal.QueryWorkflow(ctx, id, "", workflows.QueryStatus)
	}
	if err != nil {
		return workflows.Status{}, fmt.Errorf("incident %s: %w", ref, explain(err))
	}
	var st workflows.Status
	if err := v.Get(&st); err != nil {
		return workflows.Status{}, fmt.Errorf("incident %s: decode status: %w", ref, err)
	}
	return st, nil
}

// fullDigestLen is the length of a params digest (hex sha256).
const fullDigestLen = 64

// Signal sends one of the incident signals (resolve, abort, note).
func (s *Service) Signal(ctx context.Context, ref, name string, payload any) (string, error) {
	id, err := s.Resolve(ctx, ref)
	if err != nil {
		return "", err
	}
	if err := s.Temporal.SignalWorkflow(ctx, id, "", name, payload); err != nil {
		return "", fmt.Errorf("%s incident %s: %w", name, ref, explain(err))
	}
	return id, nil
}

// Summary is one row of `incident list`.
type Summary struct {
	IncidentID string `json:"incident_id"`
	ShortID    string `json:"short_id"`
	Runbook    string `json:"runbook"`
	State      string `json:"state"` // the QuenchStatus search attribute
	// Workflow is the Temporal execution status: Failed for a failed or aborted incident.
	Workflow  string     `json:"workflow,omitempty"`
	Severity  string     `json:"severity,omitempty"`
	Service   string     `json:"service,omitempty"`
	StartedAt time.Time  `json:"started_at"`
	ClosedAt  *time.Time `json:"closed_at,omitempty"`
}

// ListFilter narrows `incident list`.
type ListFilter struct {
	Open    bool // only running incidents
	Runbook string
	Limit   int
}

// List returns incidents, newest first.
func (s *Service) List(ctx context.Context, f ListFilter) ([]Summary, error) {
	clauses := []string{fmt.Sprintf("WorkflowType = '%s'", workflows.IncidentWorkflowName)}
	if f.Open {
		clauses = append(clauses, "ExecutionStatus = 'Running'")
	}
	if f.Runbook != "" {
		if !isSlug(f.Runbook) {
			return nil, Invalid(fmt.Errorf("%q is not a runbook name", f.Runbook))
		}
		clauses = append(clauses, fmt.Sprintf("%s = '%s'", workflows.SearchRunbook, f.Runbook))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	var out []Summary
	var token []byte
	seen := map[string]bool{}
	for len(out) < limit {
		resp, err := s.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: s.Namespace, Query: strings.Join(clauses, " AND "), PageSize: int32(limit), NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", explain(err))
		}
		for _, e := range resp.GetExecutions() {
			id := e.GetExecution().GetWorkflowId()
			if seen[id] { // continue-as-new leaves closed runs of the same incident
				continue
			}
			seen[id] = true
			out = append(out, summarize(e))
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// FreezeState reads a scope's freeze; a scope never frozen is simply not frozen.
func (s *Service) FreezeState(ctx context.Context, scope string) (workflows.FreezeState, error) {
	v, err := s.Temporal.QueryWorkflow(ctx, workflows.FreezeWorkflowID(scope), "", workflows.QueryFreeze)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return workflows.FreezeState{Scope: scope}, nil
		}
		return workflows.FreezeState{}, fmt.Errorf("freeze state of %s: %w", scope, explain(err))
	}
	var st workflows.FreezeState
	if err := v.Get(&st); err != nil {
		return workflows.FreezeState{}, fmt.Errorf("freeze state of %s: %w", scope, err)
	}
	return st, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

func alertField(a *alert.Alert, label string) string {
	if a == nil {
		return ""
	}
	if label == "severity" && a.Severity != "" {
		return a.Severity
	}
	return a.Labels[label]
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return s != ""
}

func isSlug(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

// noPollerYet reports Temporal's answer to a query no worker picked up in time.
func noPollerYet(err error) bool {
	return strings.Contains(err.Error(), "no poller seen for task queue recently")
}

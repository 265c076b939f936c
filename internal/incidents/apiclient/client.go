// Package apiclient is incidents.Client over quench's HTTP API: the CLI acts on incidents
// through it, so who acts is what the API's credential says (quench dev's local
// credential, or a token of a quench server), never a name the CLI sends. Errors come
// back marked as the server classified them (incidents.ErrNotFound, ErrInvalid,
// ErrConflict, ErrRefused, ErrUnavailable), so callers print the same messages as before.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/workflows"
)

// maxAnswer bounds what is read of an answer.
const maxAnswer = 8 << 20

// Client talks to one quench API as the holder of one token.
type Client struct {
	// URL is the API's base (http://127.0.0.1:8080, https://quench.example).
	URL   string
	Token string
	// ActAs names another identity to act as (--as); the API accepts it only from quench
	// dev's credential with dev.allow_as on.
	ActAs string
	HTTP  *http.Client
	// PollInterval paces Watch, which reads the status over and over (default 1 s).
	PollInterval time.Duration

	// read is the status Resolve last read to expand a short ID. `incident approve ID`
	// resolves, then decides: Decide picks the pending approval from this read instead of
	// reading the incident again (one status query fewer; the workflow still refuses a
	// digest that moved on meanwhile, as it would after a second read).
	mu   sync.Mutex
	read *workflows.Status
}

var _ incidents.Client = (*Client)(nil)

// New returns a client of the API at baseURL with token.
func New(baseURL, token string) *Client {
	return &Client{
		URL: strings.TrimRight(baseURL, "/"), Token: token,
		HTTP: &http.Client{
			Timeout: 2 * time.Minute, // a decision waits for the workflow's answer
			// A redirect could lead the token elsewhere; the API never redirects.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// apiError is an answer other than 2xx.
type apiError struct {
	Code int
	Msg  string
}

func (e *apiError) Error() string { return e.Msg }

func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := c.URL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("quench API request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return incidents.Unavailable(fmt.Errorf("cannot reach quench at %s (%v): is `quench dev` running? (it writes a new credential each start; pass --data-dir if it runs with another data dir)", c.URL, unwrapURLError(err)))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("read quench's answer to %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 == 2 {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("quench's answer to %s %s is not what this CLI expects (%v): are the CLI and the server the same version?", method, path, err)
		}
		return nil
	}
	return classify(resp, data)
}

// classify turns a refusal into an error marked with its kind.
func classify(resp *http.Response, data []byte) error {
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	if msg == "" {
		msg = resp.Status
	}
	err := &apiError{Code: resp.StatusCode, Msg: msg}
	switch resp.StatusCode {
	case http.StatusNotFound:
		return incidents.NotFound(err)
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return incidents.Invalid(err)
	case http.StatusConflict:
		return incidents.Conflict(err)
	case http.StatusForbidden:
		return incidents.Refused(err)
	case http.StatusServiceUnavailable:
		wait := resp.Header.Get("Retry-After")
		if _, convErr := strconv.Atoi(wait); convErr != nil {
			wait = "a few"
		}
		return incidents.Unavailable(fmt.Errorf("%s (retry in %s seconds)", msg, wait))
	case http.StatusUnauthorized:
		return fmt.Errorf("quench refused the credential: %s", msg)
	case http.StatusMisdirectedRequest:
		return fmt.Errorf("quench refused the address: %s", msg)
	}
	return fmt.Errorf("quench answered %s: %s", resp.Status, msg)
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func incidentPath(ref string) string { return "/api/v1/incidents/" + url.PathEscape(ref) }

// Identity asks the API who this client's token is.
func (c *Client) Identity(ctx context.Context) (string, error) {
	var who struct {
		Identity string `json:"identity"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/whoami", nil, nil, &who); err != nil {
		return "", err
	}
	return who.Identity, nil
}

// Prepare needs the runbooks where the start is resolved: the server does it.
func (c *Client) Prepare(incidents.StartRequest) (workflows.IncidentInput, client.StartWorkflowOptions, error) {
	return workflows.IncidentInput{}, client.StartWorkflowOptions{}, errors.New("preparing a start is done by the quench server; use Start")
}

// Start starts an incident through the API; the requester is the credential's identity.
func (c *Client) Start(ctx context.Context, req incidents.StartRequest) (incidents.Started, error) {
	if req.Alert != nil {
		return incidents.Started{}, errors.New("alert-started incidents go through the alert webhooks, not the API client")
	}
	body := map[string]any{"runbook": req.Runbook, "params": req.Params, "key": req.Key, "severity": req.Severity, "service": req.Service}
	if c.ActAs != "" {
		body["act_as"] = c.ActAs
	}
	var started incidents.Started
	if err := c.do(ctx, http.MethodPost, "/api/v1/incidents", nil, body, &started); err != nil {
		return incidents.Started{}, err
	}
	return started, nil
}

// Resolve expands a short ID by reading the incident; a full ID is returned as it is.
func (c *Client) Resolve(ctx context.Context, ref string) (string, error) {
	ref, full, err := incidents.ParseRef(ref)
	if err != nil || full {
		return ref, err
	}
	st, err := c.Status(ctx, ref)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	c.read = &st
	c.mu.Unlock()
	return st.IncidentID, nil
}

// justRead hands over, once, the status Resolve read for id.
func (c *Client) justRead(id string) (workflows.Status, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.read
	c.read = nil
	if st == nil || st.IncidentID != id {
		return workflows.Status{}, false
	}
	return *st, true
}

// Status reads an incident.
func (c *Client) Status(ctx context.Context, ref string) (workflows.Status, error) {
	if _, _, err := incidents.ParseRef(ref); err != nil {
		return workflows.Status{}, err
	}
	var st workflows.Status
	err := c.do(ctx, http.MethodGet, incidentPath(strings.TrimSpace(ref)), nil, nil, &st)
	return st, err
}

const fullDigestLen = 64

// Decide sends a decision; the approver is the credential's identity (or ActAs). A short
// or missing digest is expanded against what the incident waits on, as the Temporal
// client does, so `approve ID` without --digest works the same.
func (c *Client) Decide(ctx context.Context, ref string, d workflows.Decision) (workflows.DecisionResult, error) {
	id, err := c.Resolve(ctx, ref)
	if err != nil {
		return workflows.DecisionResult{}, err
	}
	if d.StepID == "" || len(d.Digest) != fullDigestLen {
		st, ok := c.justRead(id)
		if !ok {
			if st, err = c.Status(ctx, id); err != nil {
				return workflows.DecisionResult{}, err
			}
		}
		p, err := incidents.PickApproval(st, d.StepID, d.Digest)
		if err != nil {
			return workflows.DecisionResult{}, fmt.Errorf("%s refused: %w", d.Verdict, err)
		}
		d.StepID, d.Digest = p.StepID, p.Digest
	}
	body := map[string]string{"step_id": d.StepID, "digest": d.Digest, "verdict": d.Verdict, "reason": d.Reason}
	if c.ActAs != "" {
		body["act_as"] = c.ActAs
	}
	var out incidents.Decided
	if err := c.do(ctx, http.MethodPost, incidentPath(id)+"/decisions", nil, body, &out); err != nil {
		return workflows.DecisionResult{}, err
	}
	return workflows.DecisionResult{StepID: out.StepID, Outcome: out.Outcome, Remaining: out.Remaining, Undo: out.Undo}, nil
}

// Signal sends resolve, abort or note; By in the payload is ignored (the server sets it).
func (c *Client) Signal(ctx context.Context, ref, name string, payload any) (string, error) {
	id, err := c.Resolve(ctx, ref)
	if err != nil {
		return "", err
	}
	body := map[string]string{}
	var path string
	switch p := payload.(type) {
	case workflows.Resolve:
		path, body["reason"] = "/resolve", p.Reason
	case workflows.Abort:
		path, body["reason"] = "/abort", p.Reason
	case workflows.Note:
		path, body["text"] = "/notes", p.Text
	default:
		return "", fmt.Errorf("signal %s: the API has no signal for a %T", name, payload)
	}
	if c.ActAs != "" {
		body["act_as"] = c.ActAs
	}
	var out incidents.Signalled
	if err := c.do(ctx, http.MethodPost, incidentPath(id)+path, nil, body, &out); err != nil {
		return "", err
	}
	return out.IncidentID, nil
}

// List lists incidents, newest first.
func (c *Client) List(ctx context.Context, f incidents.ListFilter) ([]incidents.Summary, error) {
	q := url.Values{}
	if !f.Open {
		q.Set("all", "1")
	}
	if f.Runbook != "" {
		q.Set("runbook", f.Runbook)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var rows []incidents.Summary
	err := c.do(ctx, http.MethodGet, "/api/v1/incidents", q, nil, &rows)
	return rows, err
}

// Watch reads the incident's status every PollInterval and calls onEvent for each new
// timeline event, until it closes or ctx ends. (The Temporal client long-polls history;
// over HTTP the status is all there is.)
func (c *Client) Watch(ctx context.Context, ref string, onEvent func(workflows.Event, workflows.Status)) (workflows.Status, error) {
	id, err := c.Resolve(ctx, ref)
	if err != nil {
		return workflows.Status{}, err
	}
	every := c.PollInterval
	if every <= 0 {
		every = time.Second
	}
	emitted := 0 // absolute index of the next timeline event
	for {
		st, err := c.Status(ctx, id)
		if err != nil {
			return st, err
		}
		first := st.TimelineDropped
		emitted = max(emitted, first)
		for i := emitted - first; i < len(st.Timeline); i++ {
			onEvent(st.Timeline[i], st)
			emitted++
		}
		if st.ClosedAt != nil {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(every):
		}
	}
}

// FreezeState reads a scope's freeze.
func (c *Client) FreezeState(ctx context.Context, scope string) (workflows.FreezeState, error) {
	var st workflows.FreezeState
	err := c.do(ctx, http.MethodGet, "/api/v1/freeze/"+url.PathEscape(scope), nil, nil, &st)
	return st, err
}

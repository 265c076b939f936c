package github

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/prompts/github/githubfake"
)

func TestRateLimitsBecomeRetryDelays(t *testing.T) {
	h := newHistory(t)
	ctx := context.Background()
	window := func(a *Adapter) error { _, err := a.Changes(ctx, now.Add(-24*time.Hour), now); return err }

	h.f.Fail(githubfake.SecondaryRateLimited("GET", "/commits", 30*time.Second))
	err := window(newAdapter(t, h.f, Options{}))
	if d, ok := ports.RetryDelay(err); !ok || d != 30*time.Second || ports.IsPermanent(err) {
		t.Fatalf("secondary limit: %v (delay %s, %v); want a retry in 30s", err, d, ok)
	}

	h.f.Fail(githubfake.TooManyRequests("GET", "/commits", 45*time.Second))
	err = window(newAdapter(t, h.f, Options{}))
	if d, ok := ports.RetryDelay(err); !ok || d != 45*time.Second {
		t.Fatalf("429: %v (delay %s, %v); want a retry in 45s", err, d, ok)
	}

	reset := time.Now().Add(10 * time.Minute)
	h.f.Fail(githubfake.RateLimited("GET", "/commits", reset))
	a := newAdapter(t, h.f, Options{})
	err = window(a)
	d, ok := ports.RetryDelay(err)
	if !ok || d < 9*time.Minute || d > 11*time.Minute || !strings.Contains(err.Error(), "rate limit") {
		t.Fatalf("primary limit: %v (delay %s, %v); want a retry when the limit resets in ~10m", err, d, ok)
	}
	// The client now refuses locally until the reset, still as a retry delay.
	calls := len(h.f.Calls())
	if _, ok := ports.RetryDelay(window(a)); !ok || len(h.f.Calls()) != calls {
		t.Fatalf("after a primary limit the next call reached GitHub or lost its delay")
	}

	h.f.Fail(githubfake.Fault{Method: "GET", Path: "/commits", Status: 502})
	err = window(newAdapter(t, h.f, Options{}))
	if _, ok := ports.RetryDelay(err); ok || ports.IsPermanent(err) || err == nil {
		t.Fatalf("502: %v; want a plain retryable error", err)
	}
}

func TestPermissionErrorsNameThePermission(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		path, method, want string
		run                func(a *Adapter) error
	}{
		{"/git/trees", "POST", "contents: write", func(a *Adapter) error {
			_, err := a.Rollback(ctx, request("quench/rollback-abcdef", 24*time.Hour))
			return err
		}},
		{"/pulls", "POST", "pull_requests: write", func(a *Adapter) error {
			_, err := a.Rollback(ctx, request("quench/rollback-abcdef", 24*time.Hour))
			return err
		}},
		{"/statuses/", "POST", "statuses: write", func(a *Adapter) error {
			_, err := a.EnforceFreeze(ctx, frozenBy("inc-x"))
			return err
		}},
		{"/actions/variables", "", "variables: write", func(a *Adapter) error {
			_, err := a.EnforceFreeze(ctx, frozenBy("inc-x"))
			return err
		}},
	}
	for _, c := range cases {
		h := newHistory(t)
		h.f.Fail(githubfake.Forbidden(c.method, c.path))
		err := c.run(newAdapter(t, h.f, Options{}))
		if !ports.IsPermanent(err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("403 on %s %s: %v; want a permanent error naming %q", c.method, c.path, err, c.want)
		}
	}

	h := newHistory(t)
	a, err := New(Options{Owner: "acme", Repo: "prompts", BaseURL: h.f.URL()}, Auth{Token: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Changes(ctx, now.Add(-time.Hour), now); !ports.IsPermanent(err) || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("bad token: %v; want a permanent error about the credentials", err)
	}
}

// TestRateLimitReachesTemporalAsNextRetryDelay runs the real activity: the failure Temporal
// sees carries GitHub's delay.
func TestRateLimitReachesTemporalAsNextRetryDelay(t *testing.T) {
	h := newHistory(t)
	h.f.Fail(githubfake.SecondaryRateLimited("GET", "/commits", 40*time.Second))
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	acts := &activities.PromptActivities{Prompts: newAdapter(t, h.f, Options{})}
	env.RegisterActivity(acts.Changes)
	_, err := env.ExecuteActivity(acts.Changes, activities.StepInput{
		IncidentID: "inc-x", StepID: "changes", Params: map[string]string{"since": "24h"}, Now: now,
	})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.NonRetryable() || appErr.NextRetryDelay() != 40*time.Second {
		t.Fatalf("activity error = %v; want a retryable application error with a 40s next retry delay", err)
	}
}

package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/store"
)

// ReadyCheck is one dependency /readyz asks about: Temporal, or a store every process
// shares. Check answers within the context's deadline; its error is shown to the prober,
// so it names the dependency and never carries a secret.
type ReadyCheck struct {
	Name  string
	Check func(context.Context) error
}

// Readiness defaults.
const (
	// ReadyCacheFor: probes from several kubelets or load balancers share one answer for
	// this long, so they do not hammer Temporal.
	ReadyCacheFor = 2 * time.Second
	// ReadyTimeout bounds one round of checks.
	ReadyTimeout = 2 * time.Second
	// ReadyRetryAfter is the Retry-After of a 503, in seconds.
	ReadyRetryAfter = 5
)

// Readiness serves /readyz: 200 while every check passes, 503 with a JSON reason and
// Retry-After otherwise. /healthz stays liveness (the process serves).
type Readiness struct {
	checks   []ReadyCheck
	cacheFor time.Duration
	timeout  time.Duration
	now      func() time.Time

	mu   sync.Mutex // one round at a time; later probes take its answer
	at   time.Time
	last readyAnswer
	done bool
}

type readyAnswer struct {
	Ready  bool          `json:"ready"`
	Reason string        `json:"reason,omitempty"`
	Checks []checkResult `json:"checks"`
}

type checkResult struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// NewReadiness answers from checks, each round cached for ReadyCacheFor.
func NewReadiness(checks ...ReadyCheck) *Readiness {
	return &Readiness{checks: checks, cacheFor: ReadyCacheFor, timeout: ReadyTimeout, now: time.Now}
}

func (r *Readiness) answer(ctx context.Context) readyAnswer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done && r.now().Sub(r.at) < r.cacheFor {
		return r.last
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
	defer cancel()
	results := make([]checkResult, len(r.checks))
	var wg sync.WaitGroup
	for i, c := range r.checks {
		wg.Go(func() {
			results[i] = checkResult{Name: c.Name, OK: true}
			if err := c.Check(ctx); err != nil {
				results[i] = checkResult{Name: c.Name, Error: err.Error()}
			}
		})
	}
	wg.Wait()
	ans := readyAnswer{Ready: true, Checks: results}
	for _, res := range results {
		if !res.OK {
			ans.Ready = false
			ans.Reason = res.Name + ": " + res.Error
			break
		}
	}
	r.last, r.at, r.done = ans, r.now(), true
	return ans
}

// ServeHTTP answers a probe.
func (r *Readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ans := r.answer(req.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !ans.Ready {
		w.Header().Set("Retry-After", strconv.Itoa(ReadyRetryAfter))
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(ans)
}

// namespaceDescriber is the part of client.Client the Temporal check needs.
type namespaceDescriber interface {
	WorkflowService() workflowservice.WorkflowServiceClient
}

// TemporalReadyCheck asks the frontend about the namespace: a cheap call that fails both
// when Temporal is unreachable and when the namespace is not registered.
func TemporalReadyCheck(c namespaceDescriber, namespace string) ReadyCheck {
	return ReadyCheck{Name: "temporal", Check: func(ctx context.Context) error {
		_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
		var notFound *serviceerror.NamespaceNotFound
		switch {
		case err == nil:
			return nil
		case errors.As(err, &notFound):
			return fmt.Errorf("namespace %q is not registered: run `quench setup`", namespace)
		case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
			return fmt.Errorf("Temporal did not answer within %s", ReadyTimeout)
		}
		return fmt.Errorf("Temporal is unreachable: %w", err)
	}}
}

// StoreReadyCheck pings the store every process shares: a PostgreSQL that is down makes
// the process unready (its error names the store, never the DSN's password).
func StoreReadyCheck(db *store.DB) ReadyCheck {
	return ReadyCheck{Name: "store", Check: db.Ping}
}

func storeReadyChecks(a *Adapters) []ReadyCheck {
	if a == nil || a.Store == nil {
		return nil
	}
	return []ReadyCheck{StoreReadyCheck(a.Store)}
}

// readyChecks: Temporal first (when the service's client can describe a namespace; test
// fakes cannot), then the process's own.
func readyChecks(svc *incidents.Service, extra []ReadyCheck) []ReadyCheck {
	var checks []ReadyCheck
	if c, ok := svc.Temporal.(namespaceDescriber); ok {
		checks = append(checks, TemporalReadyCheck(c, svc.Namespace))
	}
	return append(checks, extra...)
}

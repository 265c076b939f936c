package runbooks

import (
	"math"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Failback measures the health of the provider a fail-back step returns to, before it asks
// for approval: the figure goes into the approval prompt and on the timeline, and is
// measured again while the approval waits. With AutoAfterHealthy the step also runs by
// itself once every measurement for that long said healthy; a human may still decide first.
//
//	failback:
//	  provider: "{{ .steps.failover.outputs.from }}"  # the provider to measure (template)
//	  window: 10m              # each measurement covers the last 10 minutes (default 10m)
//	  max_error_rate: 0.02     # healthy: error rate below this (default 0.05)
//	  max_latency_p95: 8s      # and p95 latency below this (optional)
//	  min_requests: 20         # fewer requests are not enough to judge (default 20)
//	  every: 1m                # measure again this often while the approval waits (default 1m)
//	  auto_after_healthy: 10m  # optional: fail back without a decision after 10 healthy minutes
type Failback struct {
	Provider         string   `json:"provider" yaml:"provider"`
	Window           Duration `json:"window,omitempty" yaml:"window,omitempty"`
	MaxErrorRate     *float64 `json:"max_error_rate,omitempty" yaml:"max_error_rate,omitempty"`
	MaxLatencyP95    Duration `json:"max_latency_p95,omitempty" yaml:"max_latency_p95,omitempty"`
	MinRequests      int      `json:"min_requests,omitempty" yaml:"min_requests,omitempty"`
	Every            Duration `json:"every,omitempty" yaml:"every,omitempty"`
	AutoAfterHealthy Duration `json:"auto_after_healthy,omitempty" yaml:"auto_after_healthy,omitempty"`
}

// Failback defaults.
const (
	DefaultFailbackWindow      = 10 * time.Minute
	DefaultFailbackErrorRate   = 0.05
	DefaultFailbackMinRequests = 20
	DefaultFailbackEvery       = time.Minute
)

// WindowOrDefault is the measurement window.
func (f Failback) WindowOrDefault() time.Duration {
	if f.Window > 0 {
		return f.Window.D()
	}
	return DefaultFailbackWindow
}

// ErrorRateOrDefault is the error rate the provider must stay below.
func (f Failback) ErrorRateOrDefault() float64 {
	if f.MaxErrorRate != nil {
		return *f.MaxErrorRate
	}
	return DefaultFailbackErrorRate
}

// MinRequestsOrDefault is the least sample that can be judged.
func (f Failback) MinRequestsOrDefault() int {
	if f.MinRequests > 0 {
		return f.MinRequests
	}
	return DefaultFailbackMinRequests
}

// EveryOrDefault is how often the provider is measured again while the approval waits.
func (f Failback) EveryOrDefault() time.Duration {
	if f.Every > 0 {
		return f.Every.D()
	}
	return DefaultFailbackEvery
}

var failbackKeys = []string{"provider", "window", "max_error_rate", "max_latency_p95", "min_requests", "every", "auto_after_healthy"}

func (d *decoder) failback(n *yaml.Node, path string) *Failback {
	f := &Failback{}
	d.fields(n, path, failbackKeys, func(e entry, p string) {
		switch e.key {
		case "provider":
			f.Provider = d.str(e.v, p)
		case "window":
			f.Window = d.duration(e.v, p)
		case "max_error_rate":
			f.MaxErrorRate = d.float(e.v, p)
		case "max_latency_p95":
			f.MaxLatencyP95 = d.duration(e.v, p)
		case "min_requests":
			f.MinRequests = d.integer(e.v, p)
		case "every":
			f.Every = d.duration(e.v, p)
		case "auto_after_healthy":
			f.AutoAfterHealthy = d.duration(e.v, p)
		}
	})
	return f
}

// failback checks a step's failback: block.
func (v *validator) failback(path string, i int) {
	st := v.s.Steps[i]
	f := st.Failback
	if st.Action != ActionGatewayRestore {
		v.add(path, "failback: measures the provider a %s returns the route to; step %q runs %s", ActionGatewayRestore, st.ID, st.Action)
	}
	if st.Approval == nil {
		v.add(path, "failback: measures the provider before asking to fail back: give the step an approval: block (add auto_after_healthy: to fail back without a decision once healthy)")
	}
	switch {
	case strings.TrimSpace(f.Provider) == "":
		v.add(path+".provider", "failback needs provider: the provider to measure, e.g. \"{{ .steps.failover.outputs.from }}\"")
	case isTemplate(f.Provider):
		v.template(path+".provider", f.Provider, i)
	}
	if f.Window < 0 {
		v.add(path+".window", "window must be positive (e.g. 10m)")
	}
	if r := f.MaxErrorRate; r != nil && (math.IsNaN(*r) || *r <= 0 || *r > 1) {
		v.add(path+".max_error_rate", "max_error_rate is a fraction above 0 and at most 1 (0.02 = 2%%)")
	}
	if f.MaxLatencyP95 < 0 {
		v.add(path+".max_latency_p95", "max_latency_p95 must be positive (e.g. 8s)")
	}
	if f.MinRequests < 0 {
		v.add(path+".min_requests", "min_requests must be 0 (the default, %d) or more", DefaultFailbackMinRequests)
	}
	if f.Every < 0 || (f.Every > 0 && f.Every.D() < 10*time.Second) {
		v.add(path+".every", "every must be at least 10s: each measurement is an activity in the incident's history")
	}
	if f.AutoAfterHealthy < 0 {
		v.add(path+".auto_after_healthy", "auto_after_healthy must be positive (e.g. 10m), or left out to always ask")
	}
	if f.AutoAfterHealthy > 0 && st.Approval != nil && st.Approval.Timeout > 0 && st.Approval.OnTimeout == OnTimeoutProceed &&
		st.Approval.Timeout <= f.AutoAfterHealthy {
		v.add(path+".auto_after_healthy", "the approval proceeds on timeout after %s, before %s of health could be seen: use on_timeout: escalate or a longer timeout", st.Approval.Timeout, f.AutoAfterHealthy)
	}
}

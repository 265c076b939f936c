// Package runbooks defines the runbook format: the typed Spec a YAML document resolves to,
// the catalog of actions a step may use, the loader and validator, and the pure helpers
// (templates, CEL conditions, digests) that both the workflow and `quench runbook plan` use.
//
// Everything here is deterministic and free of I/O except the loader, so the workflow
// package may call it from workflow code.
package runbooks

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// Spec is a fully validated runbook. An incident carries its Spec (and Digest) as workflow
// input, so editing a YAML file never changes an incident that is already running.
type Spec struct {
	Name        string   `json:"name" yaml:"name"`
	Title       string   `json:"title" yaml:"title"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	Severity    string   `json:"severity,omitempty" yaml:"severity,omitempty"` // default when the alert has none
	Channel     string   `json:"channel,omitempty" yaml:"channel,omitempty"`   // chat channel; empty = the configured default
	Triggers    Triggers `json:"triggers,omitempty" yaml:"triggers,omitempty"`
	Params      []Param  `json:"params,omitempty" yaml:"-"` // ordered as written; the loader reads the YAML map
	Steps       []Step   `json:"steps" yaml:"steps"`
	// Source is where the spec was loaded from ("builtin:provider-outage.yaml", a file path).
	Source string `json:"source,omitempty" yaml:"-"`
	// Digest is the sha256 of the canonical JSON of the spec (Digest field empty).
	Digest string `json:"digest,omitempty" yaml:"-"`
	// Actions are the catalog entries the spec was validated against (ActionsFor), saved
	// by the loader. Not part of the digest: that names the runbook as written.
	Actions Actions `json:"actions,omitempty" yaml:"-"`
}

// Triggers say which alerts start this runbook.
type Triggers struct {
	Alerts []AlertTrigger `json:"alerts,omitempty" yaml:"alerts,omitempty"`
}

// AlertTrigger matches an alert's labels. All conditions must hold.
type AlertTrigger struct {
	Match   map[string]string   `json:"match,omitempty" yaml:"match,omitempty"`       // label equals value
	MatchRE map[string]string   `json:"match_re,omitempty" yaml:"match_re,omitempty"` // label matches an anchored RE2
	MatchIn map[string][]string `json:"match_in,omitempty" yaml:"match_in,omitempty"` // label is one of the values
}

// Param is an incident parameter: given on start (k=v), taken from the alert, or defaulted.
type Param struct {
	Name        string   `json:"name" yaml:"-"`
	From        string   `json:"from,omitempty" yaml:"from,omitempty"` // labels.X | annotations.X | alert.severity | alert.key
	Default     string   `json:"default,omitempty" yaml:"default,omitempty"`
	Required    bool     `json:"required,omitempty" yaml:"required,omitempty"`
	Enum        []string `json:"enum,omitempty" yaml:"enum,omitempty"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
}

// Step is one action of the runbook.
type Step struct {
	ID       string            `json:"id" yaml:"id"`
	Title    string            `json:"title,omitempty" yaml:"title,omitempty"`
	Action   string            `json:"action" yaml:"action"`
	With     map[string]string `json:"with,omitempty" yaml:"with,omitempty"` // values are Go templates
	When     string            `json:"when,omitempty" yaml:"when,omitempty"` // CEL, over params/alert/steps/incident
	Timeout  Duration          `json:"timeout,omitempty" yaml:"timeout,omitempty"`
	Retry    *Retry            `json:"retry,omitempty" yaml:"retry,omitempty"`
	Approval *Approval         `json:"approval,omitempty" yaml:"approval,omitempty"`
	Verify   *Verify           `json:"verify,omitempty" yaml:"verify,omitempty"`
	Failback *Failback         `json:"failback,omitempty" yaml:"failback,omitempty"` // failback.go
	Undo     *Undo             `json:"undo,omitempty" yaml:"undo,omitempty"`
	OnError  string            `json:"on_error,omitempty" yaml:"on_error,omitempty"` // abort (default) | continue
	Line     int               `json:"line,omitempty" yaml:"-"`                      // line in the source YAML
}

// Retry overrides the default retry policy of a step's activity.
type Retry struct {
	MaxAttempts     int      `json:"max_attempts,omitempty" yaml:"max_attempts,omitempty"`
	InitialInterval Duration `json:"initial_interval,omitempty" yaml:"initial_interval,omitempty"`
	MaxInterval     Duration `json:"max_interval,omitempty" yaml:"max_interval,omitempty"`
	Backoff         float64  `json:"backoff,omitempty" yaml:"backoff,omitempty"`
}

// What happens when an approval times out.
const (
	OnTimeoutEscalate = "escalate" // tell the escalation group, keep waiting
	OnTimeoutProceed  = "proceed"  // run the step as if approved (recorded as such)
	OnTimeoutAbort    = "abort"    // abort the incident; undos run
)

// What happens when an approval is rejected.
const (
	OnRejectSkip  = "skip"  // the step is skipped, the runbook goes on (default)
	OnRejectAbort = "abort" // the incident is aborted; undos run
)

// Approval gates a step on human decisions bound to the step's rendered params.
type Approval struct {
	Groups    []string `json:"groups,omitempty" yaml:"groups,omitempty"`       // any member of any group may approve
	Group     string   `json:"group,omitempty" yaml:"group,omitempty"`         // shorthand for one group; the loader folds it into Groups
	Quorum    int      `json:"quorum,omitempty" yaml:"quorum,omitempty"`       // distinct approvers needed; default 1
	FourEyes  bool     `json:"four_eyes,omitempty" yaml:"four_eyes,omitempty"` // the incident's requester may not approve
	Timeout   Duration `json:"timeout,omitempty" yaml:"timeout,omitempty"`     // 0 = wait forever
	OnTimeout string   `json:"on_timeout,omitempty" yaml:"on_timeout,omitempty"`
	OnReject  string   `json:"on_reject,omitempty" yaml:"on_reject,omitempty"`
	Escalate  string   `json:"escalate,omitempty" yaml:"escalate,omitempty"` // group told on timeout; default: Groups
	Prompt    string   `json:"prompt,omitempty" yaml:"prompt,omitempty"`     // the question shown to approvers (template)
}

// Verify checks, after a step ran, that a traffic signal recovered; if not, the step's
// change is reverted (its undo runs) and the incident escalates.
type Verify struct {
	Signal string   `json:"signal" yaml:"signal"` // error_rate | latency_p95 | output_tokens | promql | model_drift (pin_model steps) | key_served (block steps)
	Query  string   `json:"query,omitempty" yaml:"query,omitempty"`
	Below  *float64 `json:"below,omitempty" yaml:"below,omitempty"`
	Above  *float64 `json:"above,omitempty" yaml:"above,omitempty"`
	Within Duration `json:"within" yaml:"within"`
	Every  Duration `json:"every,omitempty" yaml:"every,omitempty"`   // poll interval; default 30s
	Window Duration `json:"window,omitempty" yaml:"window,omitempty"` // measurement window; default 5m
	// MinRequests is how many requests that started after the change the window must hold
	// before it is judged; default 20 (1 for promql, which counts no requests).
	MinRequests int `json:"min_requests,omitempty" yaml:"min_requests,omitempty"`
	// After names a later step (the evidence snapshot): the check starts once that step
	// ended, so the evidence is taken right after the change, not after the verify's wait.
	// The measurement still counts only requests from the end of this step on.
	After string `json:"after,omitempty" yaml:"after,omitempty"`
}

// Undo says what happens to a step's registered undo when the incident closes.
type Undo struct {
	Keep     bool      `json:"keep,omitempty" yaml:"keep,omitempty"` // leave the change in place
	Approval *Approval `json:"approval,omitempty" yaml:"approval,omitempty"`
}

// Duration is a time.Duration written as "30m" in YAML and JSON.
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string {
	if d == 0 {
		return ""
	}
	return time.Duration(d).String()
}

// ParseDuration accepts Go durations plus a "d" suffix for days ("2d").
func ParseDuration(s string) (Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n := len(s); n > 1 && s[n-1] == 'd' {
		// strconv, not Sscanf: Sscanf ignores trailing junk ("1xd") and accepts NaN.
		if days, err := strconv.ParseFloat(s[:n-1], 64); err == nil {
			if !(days >= 0 && days*float64(24*time.Hour) < math.MaxInt64) {
				return 0, fmt.Errorf("duration %q is negative or too long", s)
			}
			return Duration(days * float64(24*time.Hour)), nil
		}
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (use e.g. 30s, 5m, 4h, 2d)", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return Duration(v), nil
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"5m\": %w", err)
	}
	v, err := ParseDuration(s)
	*d = v
	return err
}

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	*d = v
	return err
}

func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

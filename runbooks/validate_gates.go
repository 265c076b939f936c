package runbooks

import (
	"fmt"
	"math"
	"strings"
)

// The checks of what gates and follows a step: its retry, approval and verify.

func (v *validator) retry(path string, r *Retry, act Action, known bool) {
	if known && act.Kind != KindActivity {
		v.add(path, "retry has no effect on %s: it runs in the workflow, not as an activity", act.Name)
	}
	if r.MaxAttempts < 0 {
		v.add(path+".max_attempts", "max_attempts must be 0 (unlimited) or more")
	}
	if math.IsNaN(r.Backoff) || math.IsInf(r.Backoff, 0) || (r.Backoff != 0 && r.Backoff < 1) {
		v.add(path+".backoff", "backoff must be at least 1 (each wait is backoff times the previous)")
	}
	if r.MaxInterval > 0 && r.InitialInterval > r.MaxInterval {
		v.add(path+".max_interval", "max_interval %s is shorter than initial_interval %s", r.MaxInterval, r.InitialInterval)
	}
}

func (v *validator) approval(path string, a *Approval, stepIdx int) {
	groups := a.Groups
	if a.Group != "" {
		groups = append([]string{a.Group}, groups...)
	}
	if len(groups) == 0 {
		v.add(path, "an approval needs group: (or groups:), the people who may approve")
	}
	for i, g := range a.Groups {
		if strings.TrimSpace(g) == "" {
			v.add(fmt.Sprintf("%s.groups[%d]", path, i), "group name is empty")
		}
	}
	if a.Quorum < 0 {
		v.add(path+".quorum", "quorum must be at least 1 (distinct approvers needed)")
	}
	switch a.OnTimeout {
	case "", OnTimeoutEscalate, OnTimeoutProceed, OnTimeoutAbort:
	default:
		v.add(path+".on_timeout", "on_timeout must be escalate, proceed or abort, not %q%s", a.OnTimeout,
			didYouMean(a.OnTimeout, []string{OnTimeoutEscalate, OnTimeoutProceed, OnTimeoutAbort}))
	}
	if a.OnTimeout != "" && a.Timeout == 0 {
		v.add(path+".on_timeout", "on_timeout has no effect without timeout: (the approval waits forever)")
	}
	switch a.OnReject {
	case "", OnRejectSkip, OnRejectAbort:
	default:
		v.add(path+".on_reject", "on_reject must be skip or abort, not %q", a.OnReject)
	}
	if isTemplate(a.Prompt) {
		v.template(path+".prompt", a.Prompt, stepIdx)
	}
}

func (v *validator) verify(path string, vf *Verify, i int) {
	switch {
	case vf.Signal == "":
		v.add(path+".signal", "verify needs signal:, one of %s", strings.Join(verifySignals, ", "))
	case !containsString(verifySignals, vf.Signal):
		v.add(path+".signal", "unknown signal %q%s", vf.Signal, didYouMean(vf.Signal, verifySignals))
	case vf.Signal == SignalPromQL && strings.TrimSpace(vf.Query) == "":
		v.add(path+".query", "signal promql needs query: (a PromQL expression giving one number)")
	}
	for _, t := range []struct {
		name string
		f    *float64
	}{{"below", vf.Below}, {"above", vf.Above}} {
		if t.f != nil && (math.IsNaN(*t.f) || math.IsInf(*t.f, 0)) {
			v.add(path+"."+t.name, "must be a finite number")
		}
	}
	if vf.Below == nil && vf.Above == nil {
		v.add(path, "verify needs a threshold: below: (recovered when the signal drops under it) or above:")
	}
	if vf.Within <= 0 {
		v.add(path+".within", "verify needs within: how long the signal has to recover (e.g. 5m)")
	}
	if vf.MinRequests < 0 {
		v.add(path+".min_requests", "min_requests must be 0 (the default) or more, not %d", vf.MinRequests)
	}
	if vf.After != "" {
		v.verifyAfter(path+".after", vf.After, i)
	}
}

// verifyAfter checks verify.after: a later step reached without waiting, since the check
// that reverts a bad change must not sit behind an approval or a wait.
func (v *validator) verifyAfter(path, after string, i int) {
	j, ok := v.stepAt[after]
	switch {
	case !ok:
		v.add(path, "no step %q%s", after, didYouMean(after, v.stepIDs()))
		return
	case j <= i:
		v.add(path, "step %s does not come after this one: after: names a later step (e.g. the evidence snapshot)", after)
		return
	}
	for k := i + 1; k <= j; k++ {
		st := v.s.Steps[k]
		act, known := Catalog[st.Action]
		if st.Approval != nil || (known && act.Kind != KindActivity) || st.Verify != nil {
			v.add(path, "step %s waits (approval, wait or its own verify) before %s ends: the check would come too late; name a step before it", st.ID, after)
			return
		}
	}
}

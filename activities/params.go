package activities

import (
	"strconv"
	"strings"
	"time"

	"github.com/quench-dev/quench/runbooks"
)

// params reads a step's rendered `with:` values. The workflow has already filled defaults
// and checked types against runbooks.Catalog; the checks here are for a step started by hand
// (or by an older workflow) with params that slipped through, and say what to fix.
type params struct {
	action string
	values map[string]string
}

// paramsOf reads in's params for the named catalog action (the activity knows which one it
// is; in.Action may name the step's action when this runs as its undo).
func paramsOf(action string, in StepInput) params {
	return params{action: action, values: in.Params}
}

// catalogDefault is the catalog's default for the param, so an activity run without the
// workflow's defaulting behaves like one run through it.
func (p params) catalogDefault(name string) string {
	for _, ap := range runbooks.Catalog[p.action].Params {
		if ap.Name == name {
			return ap.Default
		}
	}
	return ""
}

func (p params) value(name string) string {
	if v, ok := p.values[name]; ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return p.catalogDefault(name)
}

func (p params) str(name string) string { return p.value(name) }

func (p params) required(name, hint string) (string, error) {
	v := p.value(name)
	if v == "" {
		return "", invalidParams(p.action, "param %q is required (%s); set it in the step's `with:`", name, hint)
	}
	return v, nil
}

func (p params) duration(name string) (time.Duration, error) {
	v := p.value(name)
	d, err := runbooks.ParseDuration(v)
	if err != nil {
		return 0, invalidParams(p.action, "param %q: %v", name, err)
	}
	return d.D(), nil
}

func (p params) positiveDuration(name string) (time.Duration, error) {
	d, err := p.duration(name)
	if err != nil {
		return 0, err
	}
	if d <= 0 {
		return 0, invalidParams(p.action, "param %q must be a positive duration such as 30m (got %q)", name, p.value(name))
	}
	return d, nil
}

func (p params) integer(name string) (int, error) {
	v := p.value(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, invalidParams(p.action, "param %q must be a whole number (got %q)", name, v)
	}
	return n, nil
}

// stepNow is the step's time; a step started without one (by hand) uses the clock.
func stepNow(in StepInput) time.Time {
	if in.Now.IsZero() {
		return time.Now().UTC()
	}
	return in.Now
}

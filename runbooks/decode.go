package runbooks

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// The keys each YAML mapping accepts. TestDecoderKnowsEveryField checks them against the yaml tags of
// the types in spec.go, so a field added there cannot be silently ignored here.
var (
	specKeys         = []string{"name", "title", "description", "severity", "channel", "triggers", "params", "steps"}
	triggersKeys     = []string{"alerts"}
	alertTriggerKeys = []string{"match", "match_re", "match_in"}
	paramKeys        = []string{"from", "default", "required", "enum", "description"}
	stepKeys         = []string{"id", "title", "action", "with", "when", "timeout", "retry", "approval", "verify", "undo", "on_error", "failback"}
	retryKeys        = []string{"max_attempts", "initial_interval", "max_interval", "backoff"}
	approvalKeys     = []string{"groups", "group", "quorum", "four_eyes", "timeout", "on_timeout", "on_reject", "escalate", "prompt"}
	verifyKeys       = []string{"signal", "query", "below", "above", "within", "every", "window", "min_requests", "after"}
	undoKeys         = []string{"keep", "approval"}
)

func (d *decoder) spec(root *yaml.Node) *Spec {
	s := &Spec{}
	if r := resolve(root); !isNull(r) && r.Kind != yaml.MappingNode {
		d.problem(r, "", "a runbook is a mapping with name:, title:, params: and steps:, not %s", describe(r))
		return s
	}
	d.fields(root, "", specKeys, func(e entry, p string) {
		switch e.key {
		case "name":
			s.Name = d.str(e.v, p)
		case "title":
			s.Title = d.str(e.v, p)
		case "description":
			s.Description = d.str(e.v, p)
		case "severity":
			s.Severity = d.str(e.v, p)
		case "channel":
			s.Channel = d.str(e.v, p)
		case "triggers":
			s.Triggers = d.triggers(e.v, p)
		case "params":
			s.Params = d.params(e.v, p)
		case "steps":
			s.Steps = d.steps(e.v, p)
		}
	})
	return s
}

func (d *decoder) triggers(n *yaml.Node, path string) Triggers {
	var t Triggers
	d.fields(n, path, triggersKeys, func(e entry, p string) {
		list := resolve(e.v)
		if isNull(list) {
			return
		}
		if list.Kind != yaml.SequenceNode {
			d.problem(list, p, "must be a list of triggers like [{match: {alertname: X}}], not %s", describe(list))
			return
		}
		for i, c := range list.Content {
			tp := fmt.Sprintf("%s[%d]", p, i)
			d.lines[tp] = resolve(c).Line
			var at AlertTrigger
			d.fields(c, tp, alertTriggerKeys, func(e entry, p string) {
				switch e.key {
				case "match":
					at.Match = d.strMap(e.v, p)
				case "match_re":
					at.MatchRE = d.strMap(e.v, p)
				case "match_in":
					at.MatchIn = d.strListMap(e.v, p)
				}
			})
			t.Alerts = append(t.Alerts, at)
		}
	})
	return t
}

// params reads the `params:` mapping into Params ordered as written.
func (d *decoder) params(n *yaml.Node, path string) []Param {
	var out []Param
	for _, e := range d.entries(n, path) {
		p := joinPath(path, e.key)
		d.lines[p] = e.k.Line
		pr := Param{Name: e.key}
		d.fields(e.v, p, paramKeys, func(e entry, p string) {
			switch e.key {
			case "from":
				pr.From = d.str(e.v, p)
			case "default":
				pr.Default = d.str(e.v, p)
			case "required":
				pr.Required = d.boolean(e.v, p)
			case "enum":
				pr.Enum = d.strList(e.v, p)
			case "description":
				pr.Description = d.str(e.v, p)
			}
		})
		out = append(out, pr)
	}
	return out
}

func (d *decoder) steps(n *yaml.Node, path string) []Step {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.problem(n, path, "must be a list of steps (- id: ...), not %s", describe(n))
		return nil
	}
	items := n.Content
	if len(items) > MaxSteps {
		d.problem(items[MaxSteps], path, "a runbook has at most %d steps, this one has %d; split it", MaxSteps, len(items))
		items = items[:MaxSteps]
	}
	out := make([]Step, 0, len(items))
	for i, c := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		st := d.step(c, p)
		st.Line = resolve(c).Line
		d.lines[p] = st.Line
		out = append(out, st)
	}
	return out
}

func (d *decoder) step(n *yaml.Node, path string) Step {
	var st Step
	d.fields(n, path, stepKeys, func(e entry, p string) {
		switch e.key {
		case "id":
			st.ID = d.str(e.v, p)
		case "title":
			st.Title = d.str(e.v, p)
		case "action":
			st.Action = d.str(e.v, p)
		case "with":
			st.With = d.with(e.v, p)
		case "when":
			st.When = d.str(e.v, p)
		case "timeout":
			st.Timeout = d.duration(e.v, p)
		case "retry":
			st.Retry = d.retry(e.v, p)
		case "approval":
			st.Approval = d.approval(e.v, p)
		case "verify":
			st.Verify = d.verify(e.v, p)
		case "undo":
			st.Undo = d.undo(e.v, p)
		case "failback":
			st.Failback = d.failback(e.v, p)
		case "on_error":
			st.OnError = d.str(e.v, p)
		}
	})
	return st
}

// with reads a step's params. A YAML list is accepted for list params and joined with ",".
func (d *decoder) with(n *yaml.Node, path string) map[string]string {
	es := d.entries(n, path)
	if len(es) == 0 {
		return nil
	}
	out := make(map[string]string, len(es))
	for _, e := range es {
		p := joinPath(path, e.key)
		v := resolve(e.v)
		d.lines[p] = e.k.Line
		if v.Kind == yaml.SequenceNode {
			out[e.key] = strings.Join(d.strList(v, p), ",")
			continue
		}
		out[e.key] = d.str(v, p)
	}
	return out
}

func (d *decoder) retry(n *yaml.Node, path string) *Retry {
	r := &Retry{}
	d.fields(n, path, retryKeys, func(e entry, p string) {
		switch e.key {
		case "max_attempts":
			r.MaxAttempts = d.integer(e.v, p)
		case "initial_interval":
			r.InitialInterval = d.duration(e.v, p)
		case "max_interval":
			r.MaxInterval = d.duration(e.v, p)
		case "backoff":
			if f := d.float(e.v, p); f != nil {
				r.Backoff = *f
			}
		}
	})
	return r
}

func (d *decoder) approval(n *yaml.Node, path string) *Approval {
	a := &Approval{}
	d.fields(n, path, approvalKeys, func(e entry, p string) {
		switch e.key {
		case "groups":
			a.Groups = d.strList(e.v, p)
		case "group":
			a.Group = d.str(e.v, p)
		case "quorum":
			a.Quorum = d.integer(e.v, p)
			if a.Quorum < 1 {
				// Caught here because 0 would otherwise be taken as "not given" (default 1).
				d.problem(resolve(e.v), p, "quorum must be at least 1 (distinct approvers needed)")
				a.Quorum = 1
			}
		case "four_eyes":
			a.FourEyes = d.boolean(e.v, p)
		case "timeout":
			a.Timeout = d.duration(e.v, p)
		case "on_timeout":
			a.OnTimeout = d.str(e.v, p)
		case "on_reject":
			a.OnReject = d.str(e.v, p)
		case "escalate":
			a.Escalate = d.str(e.v, p)
		case "prompt":
			a.Prompt = d.str(e.v, p)
		}
	})
	return a
}

func (d *decoder) verify(n *yaml.Node, path string) *Verify {
	v := &Verify{}
	d.fields(n, path, verifyKeys, func(e entry, p string) {
		switch e.key {
		case "signal":
			v.Signal = d.str(e.v, p)
		case "query":
			v.Query = d.str(e.v, p)
		case "below":
			v.Below = d.float(e.v, p)
		case "above":
			v.Above = d.float(e.v, p)
		case "within":
			v.Within = d.duration(e.v, p)
		case "every":
			v.Every = d.duration(e.v, p)
		case "window":
			v.Window = d.duration(e.v, p)
		case "min_requests":
			v.MinRequests = d.integer(e.v, p)
		case "after":
			v.After = d.str(e.v, p)
		}
	})
	return v
}

func (d *decoder) undo(n *yaml.Node, path string) *Undo {
	u := &Undo{}
	d.fields(n, path, undoKeys, func(e entry, p string) {
		switch e.key {
		case "keep":
			u.Keep = d.boolean(e.v, p)
		case "approval":
			u.Approval = d.approval(e.v, p)
		}
	})
	return u
}

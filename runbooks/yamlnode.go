package runbooks

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// decoder turns the YAML node tree into a Spec by hand rather than with yaml's reflection,
// so that it can reject unknown keys and report every problem with its line and path.
type decoder struct {
	problems []Problem
	lines    lineIndex // path -> line of its key, for the validator's messages
	// merged counts mappings expanded through merge keys; aliases let a small file ask for
	// exponentially many (a mapping merging itself many times), so the total is capped.
	merged int
}

const maxMerges = 10_000

// MaxSteps bounds a runbook's length; every step adds events to the incident's history.
const MaxSteps = 100

type entry struct {
	key  string
	k, v *yaml.Node
}

func (d *decoder) problem(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	d.problems = append(d.problems, Problem{Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// resolve follows aliases (*name) to the anchored node.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 64; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	default:
		return "an alias"
	}
}

// entries returns a mapping's key/value pairs with merge keys (<<: *base) expanded;
// explicit keys win over merged ones. A null node is an empty mapping.
func (d *decoder) entries(n *yaml.Node, path string) []entry {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.problem(n, path, "must be a mapping (key: value), not %s", describe(n))
		return nil
	}
	var out []entry
	d.collect(n, path, &out, map[string]bool{}, 0)
	return out
}

func (d *decoder) collect(n *yaml.Node, path string, out *[]entry, seen map[string]bool, depth int) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.problem(k, path, "keys must be plain words, not %s", describe(k))
			continue
		}
		if k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if seen[k.Value] {
			if depth == 0 {
				d.problem(k, joinPath(path, k.Value), "key %q appears twice in this mapping; keep one", k.Value)
			}
			continue
		}
		seen[k.Value] = true
		*out = append(*out, entry{key: k.Value, k: k, v: v})
	}
	for _, m := range merges {
		m = resolve(m)
		if depth >= 8 {
			d.problem(m, path, "merges (<<) nested more than 8 deep")
			return
		}
		if d.merged >= maxMerges {
			d.problem(m, path, "more than %d merges (<<); is a mapping merging itself?", maxMerges)
			return
		}
		var sources []*yaml.Node
		switch m.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{m}
		case yaml.SequenceNode:
			for _, c := range m.Content {
				sources = append(sources, resolve(c))
			}
		}
		for _, src := range sources {
			if src == nil || src.Kind != yaml.MappingNode {
				d.problem(m, path, "<< must merge a mapping or a list of mappings")
				continue
			}
			d.merged++
			if src == n || d.merged > maxMerges {
				continue // merging itself adds nothing; over budget is reported above
			}
			d.collect(src, path, out, seen, depth+1)
		}
	}
}

// fields walks a mapping whose keys must be among known, calling set for each known key
// and reporting the others with the closest known key.
func (d *decoder) fields(n *yaml.Node, path string, known []string, set func(e entry, p string)) {
	for _, e := range d.entries(n, path) {
		p := joinPath(path, e.key)
		if !containsString(known, e.key) {
			d.problem(e.k, p, "unknown key %q%s", e.key, didYouMean(e.key, known))
			continue
		}
		d.lines[p] = e.k.Line
		set(e, p)
	}
}

func (d *decoder) str(n *yaml.Node, p string) string {
	n = resolve(n)
	if isNull(n) {
		return ""
	}
	if n.Kind != yaml.ScalarNode {
		d.problem(n, p, "must be a single value, not %s", describe(n))
		return ""
	}
	return n.Value
}

func (d *decoder) boolean(n *yaml.Node, p string) bool {
	n = resolve(n)
	if isNull(n) {
		return false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.problem(n, p, "must be true or false, not %s", describe(n))
		return false
	}
	v, _ := strconv.ParseBool(strings.ToLower(n.Value))
	return v
}

func (d *decoder) integer(n *yaml.Node, p string) int {
	s := d.str(n, p)
	if s == "" {
		return 0
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		d.problem(resolve(n), p, "must be a whole number, not %q", s)
	}
	return v
}

func (d *decoder) float(n *yaml.Node, p string) *float64 {
	s := d.str(n, p)
	if s == "" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.problem(resolve(n), p, "must be a finite number, not %q", s)
		return nil
	}
	return &v
}

func (d *decoder) duration(n *yaml.Node, p string) Duration {
	s := d.str(n, p)
	v, err := ParseDuration(s)
	if err != nil {
		d.problem(resolve(n), p, "%v", err)
	}
	return v
}

func (d *decoder) strList(n *yaml.Node, p string) []string {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.problem(n, p, "must be a list like [a, b], not %s", describe(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		out = append(out, d.str(c, fmt.Sprintf("%s[%d]", p, i)))
	}
	return out
}

func (d *decoder) strMap(n *yaml.Node, p string) map[string]string {
	es := d.entries(n, p)
	if len(es) == 0 {
		return nil
	}
	out := make(map[string]string, len(es))
	for _, e := range es {
		kp := joinPath(p, e.key)
		d.lines[kp] = e.k.Line
		out[e.key] = d.str(e.v, kp)
	}
	return out
}

func (d *decoder) strListMap(n *yaml.Node, p string) map[string][]string {
	es := d.entries(n, p)
	if len(es) == 0 {
		return nil
	}
	out := make(map[string][]string, len(es))
	for _, e := range es {
		kp := joinPath(p, e.key)
		d.lines[kp] = e.k.Line
		out[e.key] = d.strList(e.v, kp)
	}
	return out
}

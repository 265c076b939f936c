package runbooks

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
)

// MaxRenderedBytes caps what one template may produce; params are short strings, so a
// larger result is a runaway loop in the template.
const MaxRenderedBytes = 64 << 10

// templateFuncs are the functions templates may call besides text/template's built-ins.
// All are pure.
var templateFuncs = template.FuncMap{
	// default returns def when v is empty: {{ .alert.labels.route | default "chat" }}.
	"default": func(def, v any) any {
		if toString(v) == "" {
			return def
		}
		return v
	},
	"lower": func(v any) string { return strings.ToLower(toString(v)) },
	"upper": func(v any) string { return strings.ToUpper(toString(v)) },
	"trim":  func(v any) string { return strings.TrimSpace(toString(v)) },
	// join joins a list with sep: {{ .steps.changes.outputs.commits | join ", " }}.
	"join": func(sep string, v any) string {
		switch list := v.(type) {
		case []any:
			parts := make([]string, len(list))
			for i, e := range list {
				parts[i] = toString(e)
			}
			return strings.Join(parts, sep)
		case []string:
			return strings.Join(list, sep)
		default:
			return toString(v)
		}
	},
	// str prints any value, nil as "". Every action's output goes through it (see
	// parseTemplate), so a missing step output renders as "" and never as "<no value>".
	"str": toString,
}

func toString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		// JSON numbers: 3 prints as "3", not "3e+00".
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// isTemplate reports whether a value needs rendering; others are literals, type-checked
// when the runbook loads.
func isTemplate(s string) bool { return strings.Contains(s, "{{") }

// Parsed templates are cached by text: the workflow renders the same few strings on every
// step and replay. The cache is bounded; a full cache is dropped wholesale.
var templateCache = struct {
	sync.Mutex
	m map[string]*template.Template
}{m: map[string]*template.Template{}}

const maxCachedTemplates = 1024

func cachedTemplate(text string) (*template.Template, error) {
	templateCache.Lock()
	t, ok := templateCache.m[text]
	templateCache.Unlock()
	if ok {
		return t, nil
	}
	t, err := parseTemplate(text)
	if err != nil {
		return nil, err
	}
	templateCache.Lock()
	if len(templateCache.m) >= maxCachedTemplates {
		templateCache.m = map[string]*template.Template{}
	}
	templateCache.m[text] = t
	templateCache.Unlock()
	return t, nil
}

var templateErrRE = regexp.MustCompile(`^template: [^:]*:(\d+):(?:\d+:)? ?`)

// parseTemplate parses text and pipes the result of every printing action through str.
// A parsed template is never modified afterwards, so it may be executed concurrently.
func parseTemplate(text string) (*template.Template, error) {
	t, err := template.New("").Funcs(templateFuncs).Option("missingkey=zero").Parse(text)
	if err != nil {
		return nil, errors.New(templateErrRE.ReplaceAllString(err.Error(), "line $1: "))
	}
	for _, tt := range t.Templates() {
		if tt.Tree == nil {
			continue
		}
		if rangesOverNumber(tt.Tree.Root) {
			// {{ range 1000000000 }} would stall the workflow task that renders it.
			return nil, errors.New("range over a number is not allowed; range over a list")
		}
		stringifyActions(tt.Tree.Root)
	}
	return t, nil
}

func stringifyActions(list *parse.ListNode) {
	if list == nil {
		return
	}
	for _, n := range list.Nodes {
		switch n := n.(type) {
		case *parse.ActionNode:
			if n.Pipe != nil && len(n.Pipe.Decl) == 0 && len(n.Pipe.Cmds) > 0 {
				n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{
					NodeType: parse.NodeCommand,
					Pos:      n.Pos,
					Args:     []parse.Node{parse.NewIdentifier("str").SetPos(n.Pos)},
				})
			}
		case *parse.IfNode:
			stringifyActions(n.List)
			stringifyActions(n.ElseList)
		case *parse.RangeNode:
			stringifyActions(n.List)
			stringifyActions(n.ElseList)
		case *parse.WithNode:
			stringifyActions(n.List)
			stringifyActions(n.ElseList)
		}
	}
}

func rangesOverNumber(list *parse.ListNode) bool {
	if list == nil {
		return false
	}
	for _, n := range list.Nodes {
		var branch *parse.BranchNode
		switch n := n.(type) {
		case *parse.RangeNode:
			if n.Pipe != nil {
				for _, cmd := range n.Pipe.Cmds {
					for _, arg := range cmd.Args {
						if _, ok := arg.(*parse.NumberNode); ok {
							return true
						}
					}
				}
			}
			branch = &n.BranchNode
		case *parse.IfNode:
			branch = &n.BranchNode
		case *parse.WithNode:
			branch = &n.BranchNode
		}
		if branch != nil && (rangesOverNumber(branch.List) || rangesOverNumber(branch.ElseList)) {
			return true
		}
	}
	return false
}

// RenderString renders one template over the scope. Text without "{{" is returned as is.
func RenderString(tmpl string, s Scope) (string, error) {
	if !isTemplate(tmpl) {
		return tmpl, nil
	}
	t, err := cachedTemplate(tmpl)
	if err != nil {
		return "", fmt.Errorf("template %q: %w", tmpl, err)
	}
	var w limitedBuilder
	if err := t.Execute(&w, s.data()); err != nil {
		var te template.ExecError
		if errors.As(err, &te) {
			err = errors.New(strings.TrimPrefix(te.Err.Error(), "template: "))
		}
		return "", fmt.Errorf("render %q: %w", tmpl, err)
	}
	return w.String(), nil
}

type limitedBuilder struct{ strings.Builder }

func (w *limitedBuilder) Write(p []byte) (int, error) {
	if w.Len()+len(p) > MaxRenderedBytes {
		return 0, fmt.Errorf("the result is longer than %d bytes; is a range running away?", MaxRenderedBytes)
	}
	return w.Builder.Write(p)
}

// templateRefs lists the data paths a template reads from the root, e.g.
// ["steps","changes","outputs","count"] for .steps.changes.outputs.count. Paths inside
// range/with blocks (where dot is not the root) are only seen through $.
func templateRefs(t *template.Template) [][]string {
	var refs [][]string
	var walk func(n parse.Node, rootDot bool)
	walk = func(n parse.Node, rootDot bool) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return
			}
			for _, c := range n.Nodes {
				walk(c, rootDot)
			}
		case *parse.ActionNode:
			walk(n.Pipe, rootDot)
		case *parse.TemplateNode:
			walk(n.Pipe, rootDot)
		case *parse.PipeNode:
			if n == nil {
				return
			}
			for _, c := range n.Cmds {
				walk(c, rootDot)
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a, rootDot)
			}
		case *parse.ChainNode:
			walk(n.Node, rootDot)
		case *parse.FieldNode:
			if rootDot {
				refs = append(refs, n.Ident)
			}
		case *parse.VariableNode:
			if len(n.Ident) > 1 && n.Ident[0] == "$" {
				refs = append(refs, n.Ident[1:])
			}
		case *parse.IfNode:
			walk(n.Pipe, rootDot)
			walk(n.List, rootDot)
			walk(n.ElseList, rootDot)
		case *parse.RangeNode:
			walk(n.Pipe, rootDot)
			walk(n.List, false)
			walk(n.ElseList, rootDot)
		case *parse.WithNode:
			walk(n.Pipe, rootDot)
			walk(n.List, false)
			walk(n.ElseList, rootDot)
		}
	}
	if t.Tree != nil {
		walk(t.Tree.Root, true)
	}
	return refs
}

// stepOutputRefs returns the "steps.X.outputs.K" (or "steps.X.state") paths a template
// reads, sorted; used by Plan to show which params wait for earlier steps.
func stepOutputRefs(tmpl string) []string {
	if !isTemplate(tmpl) {
		return nil
	}
	t, err := cachedTemplate(tmpl)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	for _, r := range templateRefs(t) {
		if len(r) >= 2 && r[0] == "steps" {
			seen[strings.Join(r, ".")] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

package runbooks

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxSpecBytes is the largest runbook file Parse accepts. Real runbooks are a few KiB; the
// limit keeps a wrong file (a log, a binary) from eating memory.
const MaxSpecBytes = 1 << 20

// Problem is one thing wrong with a runbook, located in its source.
type Problem struct {
	Line int    `json:"line,omitempty"` // 1-based line in the YAML; 0 when unknown
	Path string `json:"path,omitempty"` // e.g. "steps[2].with.route"; empty for the whole document
	Msg  string `json:"msg"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

// LoadError lists every problem found in one runbook source.
type LoadError struct {
	Source   string    `json:"source"`
	Problems []Problem `json:"problems"`
}

// Error prints one problem per line as "source:line: path: msg", the shape editors jump to.
func (e *LoadError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Source)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": " + p.String())
	}
	return b.String()
}

// Parse reads one runbook document, validates it (see Validate) and returns the resolved
// Spec with Source and Digest set. On any problem it returns a *LoadError listing all of
// them, each with its line.
//
// Parse fills the documented defaults, so the workflow sees explicit values: approval
// quorum 1, on_reject skip, on_timeout escalate (when the approval has a timeout), step
// on_error abort; approval.group is folded into approval.groups.
func Parse(data []byte, source string) (*Spec, error) {
	fail := func(ps ...Problem) (*Spec, error) {
		return nil, &LoadError{Source: source, Problems: ps}
	}
	if len(data) > MaxSpecBytes {
		return fail(Problem{Msg: fmt.Sprintf("file is %d bytes; a runbook may be at most %d (1 MiB): is this the right file?", len(data), MaxSpecBytes)})
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return fail(Problem{Msg: "the file is empty; a runbook needs at least name: and steps:"})
		}
		// The streaming decoder loses the line of some syntax errors that Unmarshal of the
		// same text reports; prefer the message with a line.
		var probe yaml.Node
		if err2 := yaml.Unmarshal(data, &probe); err2 != nil && yamlLineRE.MatchString(err2.Error()) {
			err = err2
		}
		return fail(yamlSyntaxProblem(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		line := extra.Line
		if len(extra.Content) > 0 {
			line = extra.Content[0].Line
		}
		return fail(Problem{Line: line, Msg: "more than one YAML document (---); put one runbook per file"})
	} else if !errors.Is(err, io.EOF) {
		return fail(yamlSyntaxProblem(err))
	}

	d := &decoder{lines: lineIndex{}}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	spec := d.spec(root)
	spec.Source = source
	normalize(spec)
	problems := append(d.problems, validate(spec, d.lines)...)
	if len(problems) > 0 {
		return fail(sortProblems(problems)...)
	}
	spec.Actions = ActionsFor(spec)
	spec.Digest = spec.ComputeDigest()
	return spec, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlSyntaxProblem(err error) Problem {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{Line: line, Msg: "YAML syntax: " + m[2]}
	}
	return Problem{Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

// sortProblems orders problems by line (stable, so problems of one line keep the order
// they were found in) and drops exact duplicates.
func sortProblems(ps []Problem) []Problem {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	out := ps[:0]
	seen := map[Problem]bool{}
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// normalize fills the defaults the spec documents, so consumers never guess.
func normalize(s *Spec) {
	fill := func(a *Approval) {
		if a == nil {
			return
		}
		if a.Group != "" {
			if !containsString(a.Groups, a.Group) {
				a.Groups = append([]string{a.Group}, a.Groups...)
			}
			a.Group = ""
		}
		if a.Quorum == 0 {
			a.Quorum = 1
		}
		if a.OnReject == "" {
			a.OnReject = OnRejectSkip
		}
		if a.OnTimeout == "" && a.Timeout > 0 {
			a.OnTimeout = OnTimeoutEscalate
		}
	}
	for i := range s.Steps {
		st := &s.Steps[i]
		if st.OnError == "" {
			st.OnError = OnErrorAbort
		}
		fill(st.Approval)
		if st.Undo != nil {
			fill(st.Undo.Approval)
		}
	}
}

// ComputeDigest returns the sha256 (hex) of the spec's canonical JSON with Digest, Source
// and step lines cleared: it identifies what the runbook does, not where or on which line
// it was written, so moving a file or editing a comment keeps the digest. It returns ""
// for a spec JSON cannot encode (a NaN threshold), which Validate rejects.
func (s *Spec) ComputeDigest() string {
	c := *s
	c.Digest, c.Source, c.Actions = "", "", nil
	c.Steps = append([]Step(nil), s.Steps...)
	for i := range c.Steps {
		c.Steps[i].Line = 0
	}
	b, err := json.Marshal(c)
	if err != nil {
		// Only a NaN or infinite threshold fails to encode, and Validate rejects those.
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

package cmdutil

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"gopkg.in/yaml.v3"
)

// Output formats.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatYAML  = "yaml"
)

// CheckFormat validates -o.
func CheckFormat(f string) error {
	switch f {
	case FormatTable, FormatJSON, FormatYAML:
		return nil
	}
	return FlagErrorf("unknown output format %q: use table, json or yaml", f)
}

// WriteData writes v as JSON (indented, stable field order from the struct) or YAML.
func WriteData(w io.Writer, format string, v any) error {
	switch format {
	case FormatYAML:
		// Through JSON so YAML keys match the JSON names scripts already use.
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var generic any
		if err := yaml.Unmarshal(b, &generic); err != nil {
			return err
		}
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		return enc.Encode(generic)
	default:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
}

// Table writes aligned columns.
type Table struct {
	tw *tabwriter.Writer
}

// NewTable starts a table with a header row.
func NewTable(w io.Writer, header ...string) *Table {
	t := &Table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.Row(header...)
	return t
}

// Row adds one row.
func (t *Table) Row(cells ...string) {
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

// Flush writes the table.
func (t *Table) Flush() error { return t.tw.Flush() }

// FlagError is a usage mistake: exit code 2 and the usage hint.
type FlagError struct{ msg string }

func (e *FlagError) Error() string { return e.msg }

// FlagErrorf makes a FlagError.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{msg: fmt.Sprintf(format, args...)}
}

// ExitError carries a specific exit code (e.g. `freeze check` exits 1 while frozen).
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// ParseKeyValues turns ["a=b", "c=d"] into a map, rejecting malformed pairs.
func ParseKeyValues(args []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, FlagErrorf("%q is not key=value", a)
		}
		if _, dup := out[k]; dup {
			return nil, FlagErrorf("param %s given twice", k)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

// WriteCompactJSON writes v as one JSON line (for streams of events).
func WriteCompactJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// FormatParams renders params as sorted "k=v" pairs on one line.
func FormatParams(p map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+p[k])
	}
	return strings.Join(parts, " ")
}

// Dash shows an empty table cell as "-".
func Dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

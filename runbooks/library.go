package runbooks

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/quench-dev/quench/internal/alert"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// Library is the set of runbooks quench knows: the built-ins plus the user's directory.
// It is read-only once loaded and safe for concurrent use; do not modify the specs it
// returns.
type Library struct {
	specs     map[string]*Spec
	overrides []Override
}

// Override records a user runbook that replaces a built-in of the same name.
type Override struct {
	Name    string `json:"name"`
	Builtin string `json:"builtin"` // e.g. builtin:provider-outage.yaml
	By      string `json:"by"`      // the user's file
}

// LoadLibrary loads the built-in runbooks and every *.yaml / *.yml file directly in dir
// (dir may be "": built-ins only). A user runbook named like a built-in replaces it (see
// Overrides). Problems of all files are reported together, each as a *LoadError inside the
// joined error; the runbooks that did load are still returned with it.
func LoadLibrary(dir string) (*Library, error) {
	lib := &Library{specs: map[string]*Spec{}}
	var errs []error

	names, err := fs.Glob(builtinFS, "builtin/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("built-in runbooks: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		data, err := builtinFS.ReadFile(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("built-in %s: %w", name, err))
			continue
		}
		spec, err := Parse(data, "builtin:"+path.Base(name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		lib.specs[spec.Name] = spec
	}

	if dir != "" {
		user, userErrs := loadDir(dir)
		errs = append(errs, userErrs...)
		for _, spec := range user {
			if old, ok := lib.specs[spec.Name]; ok {
				lib.overrides = append(lib.overrides, Override{Name: spec.Name, Builtin: old.Source, By: spec.Source})
			}
			lib.specs[spec.Name] = spec
		}
	}
	return lib, errors.Join(errs...)
}

// loadDir parses the runbook files of one directory (not its subdirectories), sorted by
// file name. Two files defining the same runbook name are an error.
func loadDir(dir string) ([]*Spec, []error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, []error{fmt.Errorf("runbooks dir: %w (check --runbooks-dir)", err)}
	}
	var specs []*Spec
	var errs []error
	bySource := map[string]string{} // runbook name -> file
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		file := filepath.Join(dir, e.Name())
		data, err := readLimited(file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		spec, err := Parse(data, file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if first, dup := bySource[spec.Name]; dup {
			errs = append(errs, &LoadError{Source: file, Problems: []Problem{{Line: lineOfName(data), Path: "name",
				Msg: fmt.Sprintf("runbook %q is already defined in %s; rename one of them", spec.Name, first)}}})
			continue
		}
		bySource[spec.Name] = file
		specs = append(specs, spec)
	}
	return specs, errs
}

// readLimited reads a file but never more than MaxSpecBytes+1 bytes, so a huge file is
// rejected by Parse's size check without being read whole.
func readLimited(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("read runbook: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read runbook %s: %w", file, err)
	}
	return data, nil
}

func lineOfName(data []byte) int {
	for i, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "name:") {
			return i + 1
		}
	}
	return 0
}

// Get returns the runbook of that name.
func (l *Library) Get(name string) (*Spec, error) {
	if s, ok := l.specs[name]; ok {
		return s, nil
	}
	known := sortedKeys(l.specs)
	return nil, fmt.Errorf("unknown runbook %q; known: %s%s", name, strings.Join(known, ", "), didYouMeanOnly(name, known))
}

// List returns all runbooks sorted by name.
func (l *Library) List() []*Spec {
	out := make([]*Spec, 0, len(l.specs))
	for _, name := range sortedKeys(l.specs) {
		out = append(out, l.specs[name])
	}
	return out
}

// Match returns the runbooks whose triggers match the alert, sorted by name.
func (l *Library) Match(a alert.Alert) []*Spec {
	var out []*Spec
	for _, s := range l.List() {
		if s.MatchesAlert(a) {
			out = append(out, s)
		}
	}
	return out
}

// Overrides lists the built-ins replaced by user runbooks, sorted by name.
func (l *Library) Overrides() []Override {
	out := append([]Override(nil), l.overrides...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

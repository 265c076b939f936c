package runbooks

import (
	"io/fs"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the loader: it must return a spec or a *LoadError,
// never panic, and an accepted spec must validate and carry its digest.
func FuzzParse(f *testing.F) {
	names, _ := fs.Glob(builtinFS, "builtin/*.yaml")
	for _, n := range names {
		data, err := builtinFS.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(header + "  - id: a\n    action: notify\n    when: steps.changes.outputs.count > 0\n    with: {text: \"{{ .steps.changes.outputs.count }}\"}\n"))
	f.Add([]byte("a: &a [*a]\nsteps: *a\n"))
	f.Add([]byte("name: t\nsteps:\n  - &s {id: a, action: wait.resolved}\n  - <<: *s\n    id: b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if spec != nil {
				t.Fatal("spec returned with an error")
			}
			if _, ok := err.(*LoadError); !ok {
				t.Fatalf("error of type %T", err)
			}
			_ = err.Error()
			return
		}
		if ps := Validate(spec); len(ps) != 0 {
			t.Fatalf("accepted spec fails Validate: %v", ps)
		}
		if spec.Digest != spec.ComputeDigest() {
			t.Fatal("digest mismatch")
		}
		// Planning an accepted runbook may fail on params, but must not panic.
		_, _ = Plan(spec, nil, nil)
	})
}

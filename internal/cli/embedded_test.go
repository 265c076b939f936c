package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
)

// dev, demo and bench hand the whole command line, exactly as given, to quench-embedded,
// help and completion requests included; its exit code is quench's.
func TestDelegatesHandOverTheWholeCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		command string
	}{
		{[]string{"dev"}, "dev"},
		{[]string{"--config", "q.yaml", "dev", "--data-dir", "d", "--temporal-port", "0"}, "dev"},
		{[]string{"dev", "--help"}, "dev"},
		{[]string{"help", "dev"}, "dev"},
		{[]string{"demo", "--temporal-address", "10.0.0.1:7233"}, "demo"}, // quench-embedded refuses it
		{[]string{"bench", "latency", "--trials", "3"}, "bench"},
		{[]string{"bench", "--help"}, "bench"},
		{[]string{"__complete", "dev", "--da"}, "dev"},
	} {
		var gotCmd string
		var gotArgs []string
		hand := func(command string, args []string) error {
			gotCmd, gotArgs = command, args
			return &cmdutil.ExitError{Code: 7}
		}
		ios, _, _, _ := cmdutil.Test()
		code := Run(context.Background(), &cmdutil.Factory{IO: ios}, delegates(tc.args, hand), tc.args)
		if gotCmd != tc.command || !slices.Equal(gotArgs, tc.args) {
			t.Errorf("quench %s handed over %q %q; want %q and the command line as given", strings.Join(tc.args, " "), gotCmd, gotArgs, tc.command)
		}
		if tc.args[0] != "help" && tc.args[0] != "__complete" && code != 7 {
			t.Errorf("quench %s: exit %d, want quench-embedded's 7", strings.Join(tc.args, " "), code)
		}
	}
}

// The other commands run in quench itself; `quench --help` lists dev, demo and bench.
func TestOtherCommandsStayInQuench(t *testing.T) {
	handed := false
	hand := func(string, []string) error { handed = true; return nil }
	for _, args := range [][]string{{"--help"}, {"incident", "--help"}, {"worker", "--help"}, {"runbook", "list", "--help"}} {
		ios, _, out, _ := cmdutil.Test()
		if code := Run(context.Background(), &cmdutil.Factory{IO: ios}, delegates(args, hand), args); code != ExitOK || handed {
			t.Fatalf("quench %s: exit %d, handed over: %v", strings.Join(args, " "), code, handed)
		}
		if args[0] == "--help" {
			for _, d := range delegated {
				if !strings.Contains(out.String(), d.short) {
					t.Errorf("quench --help lacks %s: %q\n%s", d.use, d.short, out)
				}
			}
		}
	}
}

// Without quench-embedded, quench dev fails saying how to install it; a failure to run it
// is an error (exit 1) that names it.
func TestDelegateSaysWhatIsMissing(t *testing.T) {
	hand := func(string, []string) error { return errors.New("quench dev runs in quench-embedded ... go install") }
	ios, _, _, errOut := cmdutil.Test()
	args := []string{"dev"}
	if code := Run(context.Background(), &cmdutil.Factory{IO: ios}, delegates(args, hand), args); code != ExitError ||
		!strings.Contains(errOut.String(), "go install") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func writeExecutable(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// sourceTree makes a directory that looks like quench's checkout (or another module's).
func sourceTree(t *testing.T, module string) string {
	t.Helper()
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("// a comment\nmodule "+module+" // trailing\n\ngo 1.26.8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeExecutable(t, filepath.Join(root, "cmd", EmbeddedBinary, "main.go"))
	if err := os.MkdirAll(filepath.Join(root, "internal", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestFindEmbedded(t *testing.T) {
	if embeddedName() != EmbeddedBinary {
		t.Skip("the fixtures are Unix executables")
	}
	noPath := func(string) (string, error) { return "", errors.New("not found") }
	goOnly := func(name string) (string, error) {
		if name == "go" {
			return "/usr/local/go/bin/go", nil
		}
		return "", errors.New("not found")
	}
	sys := func(exe string, lookPath func(string) (string, error), wd string) system {
		return system{executable: func() (string, error) { return exe, nil }, lookPath: lookPath, getwd: func() (string, error) { return wd, nil }}
	}
	quenchTree := sourceTree(t, modulePath)
	inTree := filepath.Join(quenchTree, "internal", "x")
	otherTree := sourceTree(t, "example.com/other")

	// Beside this quench, as installed or as the e2e tests build it; a non-executable file
	// of that name is not it.
	bin := t.TempDir()
	writeExecutable(t, filepath.Join(bin, "quench"))
	if err := os.WriteFile(filepath.Join(bin, EmbeddedBinary), []byte("not a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := findEmbedded(sys(filepath.Join(bin, "quench"), noPath, t.TempDir()), "dev")
	if err == nil {
		t.Errorf("took a non-executable file: %+v", got)
	}
	if err := os.Chmod(filepath.Join(bin, EmbeddedBinary), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err = findEmbedded(sys(filepath.Join(bin, "quench"), goOnly, inTree), "dev")
	if err != nil || got.path != filepath.Join(bin, EmbeddedBinary) || !slices.Equal(got.argv, []string{got.path}) || got.note != "" {
		t.Errorf("beside quench: %+v, %v", got, err)
	}

	// A symlinked quench: beside the link's target.
	links := t.TempDir()
	if err := os.Symlink(filepath.Join(bin, "quench"), filepath.Join(links, "quench")); err != nil {
		t.Fatal(err)
	}
	got, err = findEmbedded(sys(filepath.Join(links, "quench"), noPath, t.TempDir()), "dev")
	if err != nil || got.path != filepath.Join(bin, EmbeddedBinary) {
		t.Errorf("symlinked quench: %+v, %v", got, err)
	}

	// On PATH, from anywhere but a source tree.
	lone := t.TempDir()
	onPath := func(name string) (string, error) { return "/opt/quench/bin/" + name, nil }
	got, err = findEmbedded(sys(filepath.Join(lone, "quench"), onPath, otherTree), "demo")
	if err != nil || got.path != "/opt/quench/bin/"+EmbeddedBinary {
		t.Errorf("on PATH: %+v, %v", got, err)
	}
	// In the source tree, a quench built somewhere still prefers PATH...
	got, err = findEmbedded(sys(filepath.Join(lone, "quench"), onPath, inTree), "dev")
	if err != nil || got.path != "/opt/quench/bin/"+EmbeddedBinary {
		t.Errorf("built quench in the source tree, one on PATH: %+v, %v", got, err)
	}
	// ...but `go run ./cmd/quench` runs the tree's own, not an older one installed.
	goRunExe := filepath.Join(t.TempDir(), "go-build1234", "b001", "exe", "quench")
	wantArgv := []string{"/usr/local/go/bin/go", "run", filepath.Join(quenchTree, "cmd", EmbeddedBinary)}
	got, err = findEmbedded(sys(goRunExe, func(name string) (string, error) {
		if name == "go" {
			return "/usr/local/go/bin/go", nil
		}
		return "/opt/quench/bin/" + name, nil
	}, inTree), "dev")
	if err != nil || got.path != wantArgv[0] || !slices.Equal(got.argv, wantArgv) || !strings.Contains(got.note, "source tree") {
		t.Errorf("go run quench in the source tree: %+v, %v; want argv %q", got, err, wantArgv)
	}
	// Nothing installed: the source tree, however quench was built.
	got, err = findEmbedded(sys(filepath.Join(lone, "quench"), goOnly, inTree), "dev")
	if err != nil || !slices.Equal(got.argv, wantArgv) {
		t.Errorf("source tree only: %+v, %v", got, err)
	}

	// Nowhere: say how to install it.
	for name, s := range map[string]system{
		"another module": sys(filepath.Join(lone, "quench"), goOnly, otherTree),
		"no go.mod":      sys(filepath.Join(lone, "quench"), goOnly, "/"),
		"no go":          sys(filepath.Join(lone, "quench"), noPath, inTree),
	} {
		_, err := findEmbedded(s, "dev")
		if err == nil {
			t.Errorf("%s: found one", name)
			continue
		}
		for _, want := range []string{"quench dev runs in quench-embedded", "go install github.com/quench-dev/quench/cmd/quench-embedded@latest", "next to quench"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %v\nwant it to say %q", name, err, want)
			}
		}
		if name == "no go" && !strings.Contains(err.Error(), "go on PATH") {
			t.Errorf("no go: %v; want it to say go is missing", err)
		}
	}
}

func TestDeclaredModule(t *testing.T) {
	for in, want := range map[string]string{
		"module github.com/quench-dev/quench\n":                  modulePath,
		"// x\nmodule \"github.com/quench-dev/quench\" // y\n":   modulePath,
		"module github.com/quench-dev/quench/v2\n":               "github.com/quench-dev/quench/v2",
		"modulex github.com/quench-dev/quench\n":                 "",
		"go 1.26\n":                                              "",
		"\tmodule   github.com/quench-dev/quench  \ngo 1.26.8\n": modulePath,
	} {
		if got := declaredModule([]byte(in)); got != want {
			t.Errorf("declaredModule(%q) = %q, want %q", in, got, want)
		}
	}
}

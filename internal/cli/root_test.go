package cli

import (
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	io, _, stdout, _ := cmdutil.Test()
	root := NewCmdRoot(&cmdutil.Factory{IO: io})
	root.SetArgs(args)
	err := root.Execute()
	return stdout.String(), err
}

// dev and demo run their own Temporal server: they neither offer --temporal-address nor
// ignore it silently; commands that talk to a cluster still offer it.
func TestEmbeddedCommandsDoNotTakeTemporalAddress(t *testing.T) {
	for _, name := range []string{"dev", "demo"} {
		help, err := run(t, name, "--help")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(help, "--temporal-address") {
			t.Errorf("quench %s --help offers --temporal-address:\n%s", name, help)
		}
		if !strings.Contains(help, "--namespace") {
			t.Errorf("quench %s --help lost the other global flags:\n%s", name, help)
		}
		_, err = run(t, name, "--temporal-address", "10.0.0.1:7233")
		var flagErr *cmdutil.FlagError
		if !errors.As(err, &flagErr) || !strings.Contains(err.Error(), "does not take --temporal-address") {
			t.Errorf("quench %s --temporal-address: %v; want a usage error saying it does not take the flag", name, err)
		}
	}
	for _, args := range [][]string{{"worker", "--help"}, {"incident", "list", "--help"}} {
		help, err := run(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(help, "--temporal-address") {
			t.Errorf("quench %s lost --temporal-address:\n%s", strings.Join(args, " "), help)
		}
	}
}

// Command packages share code through non-command packages (cmdutil, app, devstack, ...),
// never by importing each other, so each command can change without dragging another.
func TestCommandPackagesDoNotImportEachOther(t *testing.T) {
	// Known and being moved out in issue 10 (the postmortem loader goes to internal/postmortem).
	allowed := map[string]bool{"incident -> evidence": true}
	const prefix = "github.com/quench-dev/quench/internal/cli/"
	dirs, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "cmdutil" {
			continue
		}
		files, err := filepath.Glob(filepath.Join(d.Name(), "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path := strings.Trim(imp.Path.Value, `"`)
				other, ok := strings.CutPrefix(path, prefix)
				if !ok || other == "cmdutil" || other == d.Name() || allowed[d.Name()+" -> "+other] {
					continue
				}
				t.Errorf("%s imports the command package %s: move what they share to a non-command package", file, path)
			}
		}
	}
}

package cli

import (
	"context"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/incidents/apiclient"
	"github.com/quench-dev/quench/internal/incidents/incidentsfake"
	"github.com/quench-dev/quench/runbooks"
	"github.com/quench-dev/quench/workflows"
)

// TestExitCodes drives whole command lines through Run, as the binary does, over the fake.
func TestExitCodes(t *testing.T) {
	lib, err := runbooks.LoadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		frozen bool
		code   int
		stdout string
		stderr []string
	}{
		{name: "mistyped incident subcommand", args: []string{"incident", "strat", "provider-outage"}, code: ExitUsage,
			stderr: []string{`unknown command "strat" for "quench incident"`, "Did you mean this?\n\tstart"}},
		{name: "mistyped runbook subcommand", args: []string{"runbook", "shwo", "x"}, code: ExitUsage, stderr: []string{`unknown command "shwo"`, "\tshow"}},
		{name: "mistyped freeze subcommand", args: []string{"freeze", "chekc"}, code: ExitUsage, stderr: []string{`unknown command "chekc"`, "\tcheck"}},
		{name: "mistyped top level", args: []string{"incidnet"}, code: ExitUsage, stderr: []string{`unknown command "incidnet"`}},
		{name: "a group alone prints its help", args: []string{"incident"}, code: ExitOK, stdout: "Start and operate incidents"},
		{name: "bad severity", args: []string{"incident", "start", "provider-outage", "--severity", "bogus"}, code: ExitUsage, stderr: []string{"critical, warning, info"}},
		{name: "bad output format", args: []string{"incident", "list", "-o", "xml"}, code: ExitUsage, stderr: []string{"output format"}},
		{name: "missing argument", args: []string{"incident", "show"}, code: ExitUsage, stderr: []string{"accepts 1 arg"}},
		{name: "unknown incident", args: []string{"incident", "show", "abcdef"}, code: ExitError, stderr: []string{"error: incident not found: no incident with ID abcdef"}},
		{name: "unknown route", args: []string{"incident", "start", "provider-outage", "route=nosuchroute"}, code: ExitError, stderr: []string{"known routes: chat"}},
		{name: "start", args: []string{"incident", "start", "provider-outage", "route=chat", "-o", "json"}, code: ExitOK, stdout: `"runbook": "provider-outage"`},
		{name: "freeze check frozen", args: []string{"freeze", "check"}, frozen: true, code: 3, stderr: []string{"FROZEN"}},
		{name: "freeze check json frozen", args: []string{"freeze", "check", "-o", "json"}, frozen: true, code: 3, stdout: `"frozen": true`},
		{name: "freeze check clear", args: []string{"freeze", "check"}, code: ExitOK, stdout: "not frozen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := incidentsfake.New(lib)
			fake.Routes = incidents.StaticRoutes{"chat"}
			if tc.frozen {
				fake.SetFreeze(workflows.FreezeState{Scope: "prompts", Frozen: true, Holds: []workflows.Hold{{Holder: "inc-x-1", Until: time.Now().Add(time.Hour)}}})
			}
			ios, _, out, errOut := cmdutil.Test()
			f := &cmdutil.Factory{
				IO:              ios,
				IncidentsClient: func() (incidents.Client, error) { return fake, nil },
				Incidents:       func() (*incidents.Service, error) { return nil, errors.New("no Temporal in this test") },
				Runbooks:        func() (*runbooks.Library, error) { return lib, nil },
				Actor:           func() (cmdutil.Actor, error) { return cmdutil.Actor{Client: fake, Identity: "cli:alice"}, nil },
			}
			code := Run(context.Background(), f, nil, tc.args)
			if code != tc.code {
				t.Fatalf("quench %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(tc.args, " "), code, tc.code, out, errOut)
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, out)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(errOut.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
		})
	}
}

// Command packages share code through non-command packages (cmdutil, app, devstack, ...),
// never by importing each other, so each command can change without dragging another.
func TestCommandPackagesDoNotImportEachOther(t *testing.T) {
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
				if !ok || other == "cmdutil" || other == d.Name() {
					continue
				}
				t.Errorf("%s imports the command package %s: move what they share to a non-command package", file, path)
			}
		}
	}
}

// TestActingCommandsNeedACredential runs the production factory: a command that acts
// finds no credential in the data dir and says how to get one; --as against a quench dev
// that does not allow it is a usage error; reads do not need the credential.
func TestActingCommandsNeedACredential(t *testing.T) {
	t.Setenv("QUENCH_CONFIG", "")
	dir := t.TempDir()
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"--data-dir", dir, "incident", "approve", "abcdef"}, ExitError, "no credential to act with"},
		{[]string{"--data-dir", dir, "incident", "start", "provider-outage"}, ExitError, "quench dev writes one to " + filepath.Join(dir, "cli-credential")},
		{[]string{"--data-dir", dir, "incident", "note", "abcdef", "hi"}, ExitError, "no credential"},
	} {
		ios, _, _, errOut := cmdutil.Test()
		f := cmdutil.New()
		f.IO = ios
		if code := Run(context.Background(), f, nil, tc.args); code != tc.code || !strings.Contains(errOut.String(), tc.stderr) {
			t.Errorf("quench %s: exit %d, stderr %q; want %d with %q", strings.Join(tc.args, " "), code, errOut, tc.code, tc.stderr)
		}
	}
	if _, err := apiclient.WriteCredential(dir, apiclient.Credential{URL: "http://127.0.0.1:1", Token: "t", Identity: "cli:alice"}); err != nil {
		t.Fatal(err)
	}
	ios, _, _, errOut := cmdutil.Test()
	f := cmdutil.New()
	f.IO = ios
	if code := Run(context.Background(), f, nil, []string{"--data-dir", dir, "incident", "approve", "abcdef", "--as", "bob"}); code != ExitUsage ||
		!strings.Contains(errOut.String(), "--as is for development only") {
		t.Errorf("--as without dev.allow_as: exit %d, stderr %q", code, errOut)
	}
}

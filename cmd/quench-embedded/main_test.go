package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli"
	"github.com/quench-dev/quench/internal/cli/cmdutil"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	io, _, stdout, _ := cmdutil.Test()
	root := cli.NewCmdRoot(&cmdutil.Factory{IO: io}, embedded)
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

// The light quench lists the same commands as quench-embedded, and its stand-ins for
// dev, demo and bench are named and described as the real ones: `quench --help` reads
// the same from both binaries.
func TestLightQuenchListsTheSameCommands(t *testing.T) {
	io, _, _, _ := cmdutil.Test()
	heavy := cli.NewCmdRoot(&cmdutil.Factory{IO: io}, embedded)
	light := cli.NewCmdRoot(&cmdutil.Factory{IO: io}, cli.Delegates(nil))
	lightCmds := map[string]*cobra.Command{}
	for _, c := range light.Commands() {
		lightCmds[c.Name()] = c
	}
	for _, h := range heavy.Commands() {
		l, ok := lightCmds[h.Name()]
		if !ok {
			t.Errorf("quench lacks the command %q of quench-embedded", h.Name())
			continue
		}
		if l.Use != h.Use || l.Short != h.Short {
			t.Errorf("quench %s presents itself as %q: %q; quench-embedded as %q: %q (update delegated in internal/cli/embedded.go)",
				h.Name(), l.Use, l.Short, h.Use, h.Short)
		}
		delete(lightCmds, h.Name())
	}
	for name := range lightCmds {
		if name != "help" && name != "completion" {
			t.Errorf("quench has a command %q that quench-embedded lacks", name)
		}
	}
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// forbidden are what the light quench must not link: the embedded Temporal server and
// what wraps it. Their package init alone costs every command tens of milliseconds.
var forbidden = []string{
	"go.temporal.io/server",
	"github.com/quench-dev/quench/internal/devserver",
	"github.com/quench-dev/quench/internal/devstack",
}

// The light quench does not link the Temporal server: every command except dev, demo and
// bench starts without its package init. A failure names the chain of imports that brought
// it in.
func TestLightBinaryDoesNotLinkTheServer(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test asks `go list` for the binary's dependencies: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	imports := map[string][]string{}
	var root string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		imports[f[0]] = f[1:]
		root = f[0] // -deps lists the package itself last
	}
	if root != "github.com/quench-dev/quench/cmd/quench" {
		t.Fatalf("go list -deps ended with %q, want cmd/quench", root)
	}
	// Breadth first from the binary: the shortest chain to each package.
	via := map[string]string{root: ""}
	queue := []string{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range imports[p] {
			if _, seen := via[imp]; !seen {
				via[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	for p := range via {
		for _, bad := range forbidden {
			if p != bad && !strings.HasPrefix(p, bad+"/") {
				continue
			}
			chain := []string{p}
			for q := via[p]; q != ""; q = via[q] {
				chain = append([]string{q}, chain...)
			}
			t.Errorf("the light quench links %s (only quench-embedded may: move the command that needs it to cmd/quench-embedded's commands):\n  %s",
				p, strings.Join(chain, "\n    imports "))
			break
		}
	}
}

// quench hands dev to the quench-embedded beside it by replacing its own process: the
// same pid, the whole command line as given, and its exit code.
func TestDevReplacesTheProcessWithQuenchEmbedded(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("on Windows quench runs quench-embedded as a child; the unit tests of internal/cli cover the rest")
	}
	dir := t.TempDir()
	quench := filepath.Join(dir, "quench")
	if out, err := exec.Command("go", "build", "-o", quench, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	script := "#!/bin/sh\necho \"$$ $*\"\nexit 7\n"
	if err := os.WriteFile(filepath.Join(dir, "quench-embedded"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", "my config.yaml", "dev", "--data-dir", "d", "--help"}
	cmd := exec.Command(quench, args...)
	out, err := cmd.Output()
	exitErr, ok := err.(*exec.ExitError)
	if !ok || exitErr.ExitCode() != 7 {
		t.Fatalf("quench %s: %v (output %q); want quench-embedded's exit code 7", strings.Join(args, " "), err, out)
	}
	pid, rest, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if pid != strconv.Itoa(cmd.Process.Pid) {
		t.Errorf("quench-embedded ran as pid %s, quench was %d: the process was not replaced", pid, cmd.Process.Pid)
	}
	if rest != strings.Join(args, " ") {
		t.Errorf("quench-embedded got %q, want the command line as given: %q", rest, strings.Join(args, " "))
	}
}

package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
)

// EmbeddedBinary is the quench binary that links the embedded Temporal server: it has every
// command, and is the only one with a working dev, demo and bench.
const EmbeddedBinary = "quench-embedded"

// modulePath is quench's module, to recognise its source tree.
const modulePath = "github.com/quench-dev/quench"

// delegated are the commands quench hands to quench-embedded, named and described as
// quench-embedded has them (cmd/quench-embedded's tests check that they agree).
var delegated = []struct{ use, short string }{
	{"bench", "Measure quench under load (reports figures; not a test)"},
	{"demo", "See a whole incident in about a minute: fault, alert, failover, approval, postmortem"},
	{"dev", "Run everything in one process: embedded Temporal (SQLite), Web UI, worker and HTTP server"},
}

// Delegates are quench's dev, demo and bench: each hands the whole command line, args
// exactly as the process got them (global flags, --help and completion requests
// included), to quench-embedded, which replaces this process. Linking the server into
// every quench would cost every command its start-up (three times the Temporal call).
func Delegates(args []string) Commands {
	return delegates(args, handOver)
}

// delegates builds the delegating commands; hand runs the command line elsewhere and
// returns only when it could not (on Unix the process is replaced).
func delegates(args []string, hand func(command string, args []string) error) Commands {
	return func(f *cmdutil.Factory) []*cobra.Command {
		var cmds []*cobra.Command
		for _, d := range delegated {
			name := d.use
			run := func() error { return hand(name, args) }
			cmd := &cobra.Command{
				Use:   d.use,
				Short: d.short,
				// Flags, --help included, are quench-embedded's to parse.
				DisableFlagParsing: true,
				RunE:               func(*cobra.Command, []string) error { return run() },
				ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
					if err := run(); err != nil && err.Error() != "" {
						cobra.CompErrorln(err.Error())
					}
					return nil, cobra.ShellCompDirectiveError
				},
			}
			// `quench help dev` too: the help is quench-embedded's.
			cmd.SetHelpFunc(func(c *cobra.Command, _ []string) {
				if err := run(); err != nil {
					fmt.Fprintf(c.ErrOrStderr(), "quench %s: %s\n\nerror: %v\n", name, c.Short, err)
				}
			})
			cmds = append(cmds, cmd)
		}
		return cmds
	}
}

// handOver runs the command line with quench-embedded: found next to this binary, on PATH,
// or built from the source tree this runs in (`go run ./cmd/quench dev`).
func handOver(command string, args []string) error {
	t, err := findEmbedded(hostSystem(), command)
	if err != nil {
		return err
	}
	if t.note != "" {
		fmt.Fprintln(os.Stderr, t.note)
	}
	return execEmbedded(t.path, append(t.argv, args...))
}

// target is how to run quench-embedded: the executable, and the argv before the command
// line (argv[0], or `go run DIR`).
type target struct {
	path string
	argv []string
	note string // said on stderr before handing over ("" nothing)
}

// system is what findEmbedded asks of the machine (tests give their own).
type system struct {
	executable func() (string, error)
	lookPath   func(string) (string, error)
	getwd      func() (string, error)
}

func hostSystem() system {
	return system{executable: os.Executable, lookPath: exec.LookPath, getwd: os.Getwd}
}

func embeddedName() string {
	if runtime.GOOS == "windows" {
		return EmbeddedBinary + ".exe"
	}
	return EmbeddedBinary
}

// findEmbedded looks for quench-embedded: next to this executable (as installed, or as
// built by the e2e tests), else on PATH, else in the quench source tree around the working
// directory through `go run`, which caches the linked binary. A quench itself run with `go
// run` (the README's `go run ./cmd/quench dev`) prefers the source tree to PATH: an older
// quench-embedded installed on PATH must not stand in for the code being run.
func findEmbedded(sys system, command string) (target, error) {
	exe, exeErr := sys.executable()
	if exeErr == nil {
		dirs := []string{filepath.Dir(exe)}
		if real, err := filepath.EvalSymlinks(exe); err == nil && filepath.Dir(real) != dirs[0] {
			dirs = append(dirs, filepath.Dir(real)) // a symlinked quench: also beside its target
		}
		for _, dir := range dirs {
			if p := filepath.Join(dir, embeddedName()); isExecutable(p) {
				return target{path: p, argv: []string{p}}, nil
			}
		}
	}
	goRun, goRunErr := sourceTreeTarget(sys)
	if goRunErr == nil && exeErr == nil && builtByGoRun(exe) {
		return goRun, nil
	}
	if p, err := sys.lookPath(EmbeddedBinary); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		return target{path: p, argv: []string{p}}, nil
	}
	if goRunErr == nil {
		return goRun, nil
	}
	where := "next to this quench"
	if exeErr == nil {
		where += " (" + filepath.Dir(exe) + ")"
	}
	return target{}, fmt.Errorf("quench %s runs in %s, the quench binary with the embedded Temporal server, and there is none %s, on PATH, or %v. "+
		"Install it with `go install %s/cmd/%s@latest` (both binaries: `go install %s/cmd/...@latest`), or put it next to quench",
		command, EmbeddedBinary, where, goRunErr, modulePath, EmbeddedBinary, modulePath)
}

// sourceTreeTarget is `go run <module root>/cmd/quench-embedded` when the working directory
// is in quench's source tree and go is on PATH.
func sourceTreeTarget(sys system) (target, error) {
	wd, err := sys.getwd()
	if err != nil {
		return target{}, fmt.Errorf("no source tree to build it from (working directory: %v)", err)
	}
	root, ok := moduleRoot(wd)
	if !ok {
		return target{}, fmt.Errorf("a quench source tree (a go.mod of module %s) at or above %s to build it from", modulePath, wd)
	}
	pkg := filepath.Join(root, "cmd", EmbeddedBinary)
	if !isFile(filepath.Join(pkg, "main.go")) {
		return target{}, fmt.Errorf("a %s in the source tree at %s (this checkout predates it)", filepath.Join("cmd", EmbeddedBinary), root)
	}
	goBin, err := sys.lookPath("go")
	if err != nil {
		return target{}, fmt.Errorf("go on PATH to build it from the source tree at %s", root)
	}
	return target{path: goBin, argv: []string{goBin, "run", pkg},
		note: fmt.Sprintf("quench: running %s from the source tree (go run %s; built once, then cached)", EmbeddedBinary, pkg)}, nil
}

// moduleRoot is the directory of the go.mod nearest at or above dir, when it is quench's.
func moduleRoot(dir string) (string, bool) {
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			return dir, declaredModule(data) == modulePath
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// declaredModule is the path on a go.mod's module line ("" none).
func declaredModule(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			rest, _, _ = strings.Cut(rest, "//")
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// builtByGoRun: go run links into <tmp>/go-build.../b001/exe/<name>.
func builtByGoRun(exe string) bool {
	dir := filepath.Dir(exe)
	if filepath.Base(dir) != "exe" {
		return false
	}
	for d := filepath.Dir(dir); d != filepath.Dir(d); d = filepath.Dir(d) {
		if strings.HasPrefix(filepath.Base(d), "go-build") {
			return true
		}
	}
	return false
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && (runtime.GOOS == "windows" || fi.Mode().Perm()&0o111 != 0)
}

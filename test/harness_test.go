package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/cli/dev"
	"github.com/quench-dev/quench/internal/devstack"
	"github.com/quench-dev/quench/internal/incidents/apiclient"
	"github.com/quench-dev/quench/internal/syncbuf"
)

// quenchBin is the quench binary built once by TestMain, with quench-embedded beside it:
// `quench dev` hands over to it there, as an installed pair does.
var quenchBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "quench-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	quenchBin = filepath.Join(dir, "quench")
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "../cmd/quench", "../cmd/quench-embedded")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building quench and quench-embedded for the end-to-end tests failed:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// devProcess is a `quench dev` child process.
type devProcess struct {
	t        testing.TB
	cmd      *exec.Cmd
	logs     *syncbuf.Buffer
	done     chan struct{}
	waitErr  error
	temporal string // host:port
	http     string // host:port
	dataDir  string
	// token is the CLI credential quench dev wrote: the API takes it as cli:<OS user>.
	token string
}

// devConfig is how a test runs `quench dev`.
type devConfig struct {
	DataDir string
	Args    []string // extra flags (--prompts-repo, --traffic-log, ...)
	// Sample keeps quench dev's sample (traffic log, prompts repository) on; off by
	// default so a test sees only the targets it configures.
	Sample bool
}

func newDevConfig(t testing.TB, args ...string) devConfig {
	return devConfig{DataDir: t.TempDir(), Args: args}
}

// startDev starts `quench dev` on ports it picks itself (port 0) and waits for its ready
// line (or its exit), then reads the addresses it got from the data dir. A port chosen
// here and handed over could be taken by another process before the child binds it.
func startDev(t testing.TB, cfg devConfig) *devProcess {
	t.Helper()
	// The embedded Temporal server still picks its internal ports by probing: on the rare
	// collision with another process it exits saying so, and a second start gets others.
	for attempt := 1; ; attempt++ {
		p, err := tryStartDev(t, cfg)
		if err == nil {
			return p
		}
		if attempt == 3 || !strings.Contains(p.logs.String(), "address already in use") {
			t.Fatal(err)
		}
		t.Logf("quench dev lost a port race (attempt %d), starting it again:\n%s", attempt, p.logs.String())
	}
}

// allowAs makes sure quench dev runs with dev.allow_as: true, so a test can play several
// people with the CLI's --as: in the config a test passes with --config, or in one of its
// own. Nothing outside development turns it on.
func allowAs(t testing.TB, args []string) []string {
	t.Helper()
	for i, a := range args {
		if a == "--config" && i+1 < len(args) {
			data, err := os.ReadFile(args[i+1])
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), "allow_as:") {
				if strings.Contains(string(data), "\ndev:") || strings.HasPrefix(string(data), "dev:") {
					t.Fatalf("%s has a dev: section: add allow_as: true to it", args[i+1])
				}
				writeFile(t, args[i+1], string(data)+"\ndev:\n  allow_as: true\n")
			}
			return args
		}
	}
	path := filepath.Join(t.TempDir(), "quench.yaml")
	writeFile(t, path, "dev:\n  allow_as: true\n")
	return append([]string{"--config", path}, args...)
}

func tryStartDev(t testing.TB, cfg devConfig) (*devProcess, error) {
	args := append([]string{"dev", "--data-dir", cfg.DataDir, "--temporal-port", "0", "--no-ui", "--http", "127.0.0.1:0"}, allowAs(t, cfg.Args)...)
	if !cfg.Sample {
		args = append(args, "--sample=false")
	}
	cmd := exec.Command(quenchBin, args...)
	cmd.Env = append(os.Environ(), "QUENCH_CONFIG=")
	cmd.Dir = cfg.DataDir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &devProcess{t: t, cmd: cmd, logs: &syncbuf.Buffer{}, done: make(chan struct{}), dataDir: cfg.DataDir}
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		// Ready once the whole start-up summary is in: it follows the ready line and ends
		// with "Pid:", and tests read what it says.
		readyLine, signalled := false, false
		for sc.Scan() {
			p.logs.Write([]byte(sc.Text() + "\n"))
			readyLine = readyLine || strings.HasPrefix(sc.Text(), "quench dev is ready")
			if readyLine && !signalled && strings.HasPrefix(sc.Text(), "Pid:") {
				signalled = true
				close(ready)
			}
		}
	}()
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("quench dev output:\n%s", p.logs.String())
		}
	})
	select {
	case <-ready:
	case <-p.done:
		return p, fmt.Errorf("quench dev exited before it was ready: %v\n%s", p.waitErr, p.logs.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("quench dev was not ready within 2 minutes:\n%s", p.logs.String())
	}
	// Written before the ready line, so it is this process's, not a killed one's.
	data, err := os.ReadFile(filepath.Join(cfg.DataDir, dev.AddressFile))
	if err != nil {
		t.Fatalf("quench dev is ready but wrote no addresses: %v", err)
	}
	var addrs devstack.Addresses
	if err := json.Unmarshal(data, &addrs); err != nil || addrs.Temporal == "" || addrs.HTTP == "" {
		t.Fatalf("quench dev's %s = %s (%v); want its Temporal and HTTP addresses", dev.AddressFile, data, err)
	}
	p.temporal, p.http = addrs.Temporal, addrs.HTTP
	cred, err := apiclient.ReadCredential(cfg.DataDir)
	if err != nil || cred.URL != "http://"+addrs.HTTP {
		t.Fatalf("quench dev is ready but its CLI credential is %+v (%v); want one for http://%s", cred, err, addrs.HTTP)
	}
	p.token = cred.Token
	return p, nil
}

// Kill sends SIGKILL, as a crash would, and waits for the process to be gone.
func (p *devProcess) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits for a graceful exit.
func (p *devProcess) Stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.waitErr
	case <-time.After(30 * time.Second):
		p.Kill()
		return fmt.Errorf("quench dev did not stop within 30s of SIGTERM")
	}
}

// cliResult is one run of the quench CLI.
type cliResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// quench runs the CLI against the dev server: reads go to its Temporal, actions through
// its API with the credential in its data dir.
func (p *devProcess) quench(t *testing.T, args ...string) cliResult {
	t.Helper()
	return runQuench(t, append([]string{"--temporal-address", p.temporal, "--data-dir", p.dataDir}, args...)...)
}

func runQuench(t *testing.T, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, quenchBin, args...)
	cmd.Env = append(os.Environ(), "QUENCH_CONFIG=")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	res := cliResult{Stdout: out.String(), Stderr: errOut.String()}
	if exitErr, ok := err.(*exec.ExitError); ok {
		res.ExitCode = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("quench %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// mustQuench runs the CLI and fails the test unless it exits 0.
func (p *devProcess) mustQuench(t *testing.T, args ...string) string {
	t.Helper()
	res := p.quench(t, args...)
	if res.ExitCode != 0 {
		t.Fatalf("quench %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.ExitCode, res.Stdout, res.Stderr)
	}
	return res.Stdout
}

// decodeJSON decodes a CLI's -o json output.
func decodeJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

// watcher follows `quench incident watch ID -o json` and lets a test wait for an event.
type watcher struct {
	events chan map[string]any
	cancel context.CancelFunc
}

func (p *devProcess) watch(t *testing.T, id string) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, quenchBin, "--temporal-address", p.temporal, "incident", "watch", id, "-o", "json")
	cmd.Env = append(os.Environ(), "QUENCH_CONFIG=")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &watcher{events: make(chan map[string]any, 1000), cancel: cancel}
	go func() {
		defer close(w.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e map[string]any
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				w.events <- e
			}
		}
		_ = cmd.Wait()
	}()
	t.Cleanup(cancel)
	return w
}

// waitFor blocks until an event of kind (and step, if given) arrives.
func (w *watcher) waitFor(t *testing.T, kind, step string) map[string]any {
	t.Helper()
	timeout := time.After(3 * time.Minute)
	for {
		select {
		case e, ok := <-w.events:
			if !ok {
				t.Fatalf("watch ended before event %s/%s", kind, step)
			}
			if e["kind"] == kind && (step == "" || e["step_id"] == step) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event for step %q within 3 minutes", kind, step)
		}
	}
}

func (w *watcher) stop() { w.cancel() }

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

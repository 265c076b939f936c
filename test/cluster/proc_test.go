package cluster

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is a child process of the suite (Temporal, a quench worker or server) whose output
// goes to a file in the cluster's log dir, kept when a test fails.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

func startProc(t testing.TB, logDir, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "=== %s %s\n", bin, strings.Join(args, " "))
	p := &proc{name: name, cmd: exec.Command(bin, args...), logPath: logPath, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

// kill is kill -9, as a crash or an OOM kill would be, and waits until the process is gone.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) log() string {
	data, _ := os.ReadFile(p.logPath)
	return string(data)
}

// waitFor polls cond until it holds, failing the test with what it waited for when the
// deadline passes or when one of the watched processes exits.
func waitFor(t testing.TB, what string, within time.Duration, cond func() (bool, error), watch ...*proc) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		for _, p := range watch {
			if p.exited() {
				t.Fatalf("waiting for %s: %s exited (%v); its log:\n%s", what, p.name, p.err, tail(p.log(), 4000))
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %s (last error: %v)", what, within, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// lowPorts picks n free loopback ports below 32768: Temporal's PostgreSQL schema stores
// membership ports as SMALLINT, and the kernel's ephemeral range (what port 0 gives) starts
// at 32768. A port found free here could be taken before the child binds it; the child then
// exits saying so, and the caller starts again on others.
func lowPorts(t testing.TB, n int) []int {
	t.Helper()
	seen := map[int]bool{}
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 10000 {
			t.Fatalf("no %d free ports below 32768 on 127.0.0.1", n)
		}
		p := 20000 + int(time.Now().UnixNano()%12000)
		if seen[p] {
			continue
		}
		seen[p] = true
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		ln.Close()
		out = append(out, p)
	}
	return out
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

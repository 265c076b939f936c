package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/cli/dev"
	"github.com/quench-dev/quench/internal/syncbuf"
	"github.com/quench-dev/quench/workflows"
)

// TestREADMERunsAsWritten runs the README's quick start and its "What an incident looks
// like" transcript, command by command as the README has them, against the real binaries
// in a fresh directory, and checks what they print against what the README shows. It reads
// the commands from README.md, so it fails when the README drifts from quench.
//
// What differs from a person's terminal, and only this: `quench dev` gets port 0 flags
// (tests run side by side) and the CLI finds Temporal through TEMPORAL_ADDRESS; the
// binaries are the ones TestMain built with the README's `go build` (checked to be that
// command), linked into the directory as ./quench; a read command (show, list, evidence
// show) is run again until its output matches, as a person reading it would wait for
// quench to get there.
func TestREADMERunsAsWritten(t *testing.T) {
	if p, r, err := openPTY(); err != nil {
		t.Skip(err)
	} else {
		p.Close()
		r.Close()
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	quick := readmeSection(t, string(readme), "## Quick start")
	incident := readmeSection(t, string(readme), "## What an incident looks like")

	dir := t.TempDir()
	for _, name := range []string{"quench", "quench-embedded"} {
		if err := os.Symlink(filepath.Join(filepath.Dir(quenchBin), name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	r := &readmeRun{t: t, dir: dir, readme: string(readme)}

	// Quick start: `go run ./cmd/quench dev`, then the commands of the other terminal.
	blocks := codeBlocks(quick, "sh")
	if len(blocks) < 2 {
		t.Fatalf("the quick start has %d sh blocks, want the dev block and the other terminal's", len(blocks))
	}
	devLine := ""
	for _, l := range commandLines(blocks[0]) {
		if i := strings.Index(l, " #"); i >= 0 {
			l = strings.TrimSpace(l[:i])
		}
		switch {
		case strings.HasPrefix(l, "go run ./cmd/quench dev"):
			devLine = l
		case l == "./scripts/test":
		default:
			t.Fatalf("quick start line %q: this test does not know how to run it", l)
		}
	}
	if devLine == "" {
		t.Fatal("the quick start does not start quench dev with `go run ./cmd/quench dev`")
	}
	r.startDev(strings.Fields(strings.TrimPrefix(devLine, "go run ./cmd/quench dev")))
	other := blocks[1]
	if !strings.Contains(quick[:strings.Index(quick, other)], "Then, in another terminal:") {
		t.Fatal("the second sh block of the quick start is not the other terminal's")
	}
	var id, resolveOut string
	for _, l := range commandLines(other) {
		comment := ""
		if i := strings.Index(l, " #"); i >= 0 {
			l, comment = strings.TrimSpace(l[:i]), strings.TrimSpace(l[i+2:])
		}
		args := shellWords(t, strings.ReplaceAll(l, "<ID>", id))
		switch {
		case args[0] == "go":
			// TestMain built exactly these packages side by side; the directory links them.
			if l != "go build -o . ./cmd/quench ./cmd/quench-embedded" {
				t.Fatalf("the quick start builds with %q; TestMain builds ./cmd/quench and ./cmd/quench-embedded side by side", l)
			}
		case len(args) > 2 && args[1] == "incident" && args[2] == "watch":
			r.watchUntil(args, "verify", "passed:", comment)
		default:
			out := r.run(args, false)
			if len(args) > 2 && args[2] == "start" {
				m := regexp.MustCompile(`Started incident ([0-9a-f]{6}) `).FindStringSubmatch(out)
				if m == nil {
					t.Fatalf("%s printed no incident ID:\n%s", l, out)
				}
				id = m[1]
			}
			if len(args) > 2 && args[2] == "resolve" {
				if !strings.Contains(out, "waits for approval of step failback") {
					t.Fatalf("%s (%s):\n%s", l, comment, out)
				}
				resolveOut = out
			}
		}
	}
	// "the incident closes": resolved, the evidence captured, the verify passed, nothing
	// failed or escalated.
	st := r.status(id)
	for deadline := time.Now().Add(time.Minute); st.ClosedAt == nil && time.Now().Before(deadline); st = r.status(id) {
		time.Sleep(250 * time.Millisecond) // the fail back runs after the approval's answer
	}
	if st.ClosedAt == nil || st.State != workflows.StateResolved {
		t.Fatalf("after the quick start incident %s is %s (closed %v); want resolved", id, st.State, st.ClosedAt)
	}
	for _, s := range st.Steps {
		if s.State != workflows.StepDone {
			t.Errorf("quick start step %s is %s (%s): every step should run on the sample", s.ID, s.State, s.Summary)
		}
	}
	verified := false
	var verifyLines []string
	for _, e := range st.Timeline {
		switch {
		case e.Kind == workflows.EventEscalated || e.Kind == workflows.EventStepFailed:
			t.Errorf("quick start timeline has %s: %s", e.Kind, e.Text)
		case e.Kind == workflows.EventVerify:
			// The fail back's health figure is a verify line too; the fail over's is the one.
			verified = verified || e.Data["result"] == "passed"
			verifyLines = append(verifyLines, e.Text)
		}
	}
	if !verified {
		t.Errorf("the fail over's verify did not pass on the sample's traffic: %q", verifyLines)
	}

	// The quick start's resolve is what the README's second transcript shows.
	transcripts := codeBlocks(incident, "text")
	if len(transcripts) != 2 {
		t.Fatalf("%q has %d text blocks, want the transcript and the resolve that stays open", "What an incident looks like", len(transcripts))
	}
	stays := parseTranscript(t, transcripts[1])
	if len(stays) != 1 || !strings.HasPrefix(stays[0].command, "quench incident resolve ") {
		t.Fatalf("the second transcript should be one resolve: %+v", stays)
	}
	if miss := matchOutput(stays[0].output, resolveOut, strings.TrimPrefix(stays[0].command, "quench incident resolve "), id); miss != "" {
		t.Fatalf("the quick start's resolve printed\n%s\nnot what the README shows:\n%s\n(%s)", resolveOut, strings.Join(stays[0].output, "\n"), miss)
	}

	// What an incident looks like: restart quench dev with the README's quench.yaml.
	yamls := codeBlocks(incident, "yaml")
	if len(yamls) != 1 || !strings.Contains(incident, "put\nthis in `./quench.yaml` and restart `quench dev`") {
		t.Fatalf("the section should give one quench.yaml to restart quench dev with; has %d yaml blocks", len(yamls))
	}
	r.stopDev()
	writeFile(t, filepath.Join(dir, "quench.yaml"), yamls[0])
	r.startDev(strings.Fields(strings.TrimPrefix(devLine, "go run ./cmd/quench dev")))
	r.transcript(transcripts[0])
	r.stopDev()
	r.checkLogs()
}

// readmeRun is one directory where the README's commands run, with its quench dev.
type readmeRun struct {
	t        *testing.T
	readme   string
	dir      string
	temporal string
	dev      *exec.Cmd
	devLogs  *syncbuf.Buffer
	devDone  chan error
	allLogs  strings.Builder
}

func (r *readmeRun) startDev(extra []string) {
	t := r.t
	t.Helper()
	args := append([]string{"dev"}, extra...)
	args = append(args, "--temporal-port", "0", "--ui-port", "0", "--http", "127.0.0.1:0")
	cmd := exec.Command(filepath.Join(r.dir, "quench"), args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "QUENCH_CONFIG=")
	r.devLogs = &syncbuf.Buffer{}
	cmd.Stderr = r.devLogs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		closed := false
		for sc.Scan() {
			r.devLogs.Write([]byte(sc.Text() + "\n"))
			if !closed && strings.HasPrefix(sc.Text(), "Pid:") {
				closed = true
				close(ready)
			}
		}
	}()
	r.dev, r.devDone = cmd, make(chan error, 1)
	go func() { r.devDone <- cmd.Wait() }()
	select {
	case <-ready:
	case err := <-r.devDone:
		t.Fatalf("quench dev exited before it was ready (%v):\n%s", err, r.devLogs.String())
	case <-time.After(2 * time.Minute):
		r.dev.Process.Kill()
		t.Fatalf("quench dev not ready within 2 minutes:\n%s", r.devLogs.String())
	}
	t.Cleanup(func() {
		if r.dev != nil {
			r.dev.Process.Kill()
		}
	})
	if !strings.Contains(r.devLogs.String(), "Sample:     traffic log and prompts repository in quench-data/sample") {
		t.Fatalf("quench dev with no flags does not use its sample:\n%s", r.devLogs.String())
	}
	data, err := os.ReadFile(filepath.Join(r.dir, "quench-data", dev.AddressFile))
	if err != nil {
		t.Fatal(err)
	}
	var addrs struct{ Temporal string }
	if err := json.Unmarshal(data, &addrs); err != nil {
		t.Fatal(err)
	}
	r.temporal = addrs.Temporal
}

func (r *readmeRun) stopDev() {
	r.t.Helper()
	// What it logs while it stops (the embedded server's canceled writes) is not the
	// README's commands: only the logs up to Ctrl-C are checked.
	r.allLogs.WriteString(r.devLogs.String())
	r.dev.Process.Signal(syscall.SIGINT)
	select {
	case err := <-r.devDone:
		if err != nil {
			r.t.Fatalf("quench dev stopped with %v:\n%s", err, r.devLogs.String())
		}
	case <-time.After(time.Minute):
		r.dev.Process.Kill()
		r.t.Fatalf("quench dev did not stop on Ctrl-C:\n%s", r.devLogs.String())
	}
	r.dev = nil
}

// checkLogs: nothing in the quick start is an error. "Not configured" never happens with
// the sample, and nothing else should fail.
func (r *readmeRun) checkLogs() {
	r.t.Helper()
	for _, l := range strings.Split(r.allLogs.String(), "\n") {
		if strings.Contains(l, "level=ERROR") {
			r.t.Errorf("quench dev logged an error during the README's commands: %s", l)
		}
	}
}

// command makes the exec.Cmd of a README command line: ./quench and quench are the
// directory's link to the built binary.
func (r *readmeRun) command(ctx context.Context, args []string) *exec.Cmd {
	name := args[0]
	if name != "quench" && name != "./quench" {
		r.t.Fatalf("README command %q does not run quench", strings.Join(args, " "))
	}
	cmd := exec.CommandContext(ctx, filepath.Join(r.dir, "quench"), args[1:]...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "QUENCH_CONFIG=", "TEMPORAL_ADDRESS="+r.temporal)
	return cmd
}

// run runs a README command; on a terminal (the output a person sees) when tty.
func (r *readmeRun) run(args []string, tty bool) string {
	r.t.Helper()
	out, err := r.tryRun(args, tty)
	if err != nil {
		r.t.Fatalf("%s: %v\n%s\nquench dev:\n%s", strings.Join(args, " "), err, out, r.devLogs.String())
	}
	return out
}

func (r *readmeRun) tryRun(args []string, tty bool) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := r.command(ctx, args)
	if !tty {
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	primary, replica, err := openPTY()
	if err != nil {
		r.t.Fatal(err)
	}
	defer primary.Close()
	cmd.Stdout, cmd.Stderr = replica, replica
	if err := cmd.Start(); err != nil {
		replica.Close()
		r.t.Fatal(err)
	}
	replica.Close() // the child has it; EOF (EIO) on the primary once it exits
	var buf strings.Builder
	io.Copy(&buf, primary) // ends with EIO when the child closes the terminal
	err = cmd.Wait()
	out := strings.ReplaceAll(buf.String(), "\r\n", "\n")
	return regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(out, ""), err
}

// watchUntil follows the timeline until a line has every word of until, then stops it
// with Ctrl-C, which must leave with exit 0.
func (r *readmeRun) watchUntil(args []string, until1, until2, why string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := r.command(ctx, args)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var seen strings.Builder
	found := false
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), until1) && strings.Contains(sc.Text(), until2) {
			found = true
			cmd.Process.Signal(syscall.SIGINT)
			break
		}
	}
	io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		r.t.Fatalf("%s (%s) ended with %v before or after Ctrl-C:\n%s%s", strings.Join(args, " "), why, err, seen.String(), stderr.String())
	}
	if !found {
		r.t.Fatalf("%s ended without showing %s %s:\n%s", strings.Join(args, " "), until1, until2, seen.String())
	}
}

func (r *readmeRun) status(id string) workflows.Status {
	r.t.Helper()
	out := r.run([]string{"quench", "incident", "show", id, "-o", "json"}, false)
	var st workflows.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		r.t.Fatalf("show -o json: %v\n%s", err, out)
	}
	return st
}

// transcript runs a "$ command" / output transcript: each command as written (the README's
// example ID replaced by the real one), its output matched against what follows it.
func (r *readmeRun) transcript(block string) {
	t := r.t
	t.Helper()
	steps := parseTranscript(t, block)
	section := readmeSection(t, r.readme, "## What an incident looks like")
	exampleID, realID := "", ""
	for _, s := range steps {
		line := s.command
		if exampleID != "" {
			line = strings.ReplaceAll(line, exampleID, realID)
		}
		args := shellWords(t, line)
		read := len(args) > 2 && (args[2] == "show" || args[2] == "list")
		deadline := time.Now().Add(3 * time.Minute)
		for {
			out, err := r.tryRun(args, true)
			if exampleID == "" && len(args) > 2 && args[2] == "start" {
				exampleID, realID = idsOf(t, s.output, out)
			}
			mismatch := matchOutput(s.output, out, exampleID, realID)
			if err == nil && mismatch == "" {
				break
			}
			if err == nil && len(args) > 2 && args[2] == "resolve" && r.stillClosing(section, out, exampleID, realID) {
				break
			}
			if !read || time.Now().After(deadline) {
				t.Fatalf("$ %s\nexit: %v\n%s\n--- the README shows:\n%s\n--- first difference: %s", line, err, out,
					strings.Join(s.output, "\n"), mismatch)
			}
			// A read shows the incident as it is now: read again until it got where
			// the README shows it (a person reads it seconds later).
			time.Sleep(250 * time.Millisecond)
		}
	}
}

// stillClosing: resolve answered before the incident's undos finished, which the README
// names as the other answer; the incident must then close by itself.
func (r *readmeRun) stillClosing(section, out, exampleID, realID string) bool {
	r.t.Helper()
	m := regexp.MustCompile("it says `(Marked incident [0-9a-f]{6} resolved; it is still closing[^`]*)`").FindStringSubmatch(strings.Join(strings.Fields(section), " "))
	if m == nil || matchOutput([]string{m[1], "..."}, out, exampleID, realID) != "" {
		return false
	}
	st := r.status(realID)
	for deadline := time.Now().Add(time.Minute); st.ClosedAt == nil && time.Now().Before(deadline); st = r.status(realID) {
		time.Sleep(250 * time.Millisecond)
	}
	return st.ClosedAt != nil && st.State == workflows.StateResolved
}

type transcriptStep struct {
	command string
	output  []string
}

func parseTranscript(t *testing.T, block string) []transcriptStep {
	t.Helper()
	var steps []transcriptStep
	for _, l := range strings.Split(block, "\n") {
		if cmd, ok := strings.CutPrefix(l, "$ "); ok {
			if i := strings.Index(cmd, " #"); i >= 0 {
				cmd = cmd[:i]
			}
			steps = append(steps, transcriptStep{command: strings.TrimSpace(cmd)})
			continue
		}
		if len(steps) == 0 {
			t.Fatalf("transcript line %q comes before any command", l)
		}
		steps[len(steps)-1].output = append(steps[len(steps)-1].output, l)
	}
	for i := range steps {
		o := steps[i].output
		for len(o) > 0 && strings.TrimSpace(o[len(o)-1]) == "" {
			o = o[:len(o)-1]
		}
		steps[i].output = o
	}
	if len(steps) == 0 {
		t.Fatal("the transcript has no commands")
	}
	return steps
}

// idsOf takes the example's incident ID and the real one from a start's outputs.
func idsOf(t *testing.T, readme []string, out string) (example, real string) {
	t.Helper()
	re := regexp.MustCompile(`Started incident ([0-9a-f]{6}) `)
	m := re.FindStringSubmatch(strings.Join(readme, "\n"))
	n := re.FindStringSubmatch(out)
	if m == nil || n == nil {
		t.Fatalf("no incident ID in the start's output (README %v, real %q)", readme, out)
	}
	return m[1], n[1]
}

var hexRun = regexp.MustCompile(`\b[0-9a-f]{7,64}\b`)

// matchOutput checks the README's lines against the real output, in order: "..." skips
// any lines, a line ending in "..." matches the start of one, runs of spaces compare equal,
// and hexadecimal runs of 7 or more (commits, digests) match any. It returns the first
// README line it could not match ("" when all match).
func matchOutput(want []string, out, exampleID, realID string) string {
	got := strings.Split(strings.TrimRight(out, "\n"), "\n")
	norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	lineRE := func(w string) *regexp.Regexp {
		w = norm(w)
		prefix := strings.HasSuffix(w, "...")
		w = strings.TrimSpace(strings.TrimSuffix(w, "..."))
		if exampleID != "" {
			w = strings.ReplaceAll(w, exampleID, "\x00")
		}
		var b strings.Builder
		b.WriteString("^")
		last := 0
		for _, m := range hexRun.FindAllStringIndex(w, -1) {
			b.WriteString(regexp.QuoteMeta(w[last:m[0]]))
			b.WriteString(`[0-9a-f]{7,64}`)
			last = m[1]
		}
		b.WriteString(regexp.QuoteMeta(w[last:]))
		pat := strings.ReplaceAll(b.String(), "\x00", regexp.QuoteMeta(realID))
		if !prefix {
			pat += "$"
		}
		return regexp.MustCompile(pat)
	}
	var match func(wi, gi int, free bool) (bool, string)
	match = func(wi, gi int, free bool) (bool, string) {
		if wi == len(want) {
			return free || gi == len(got), "end of output: more lines than the README shows"
		}
		if strings.TrimSpace(want[wi]) == "..." {
			return match(wi+1, gi, true)
		}
		re := lineRE(want[wi])
		for g := gi; g < len(got); g++ {
			if re.MatchString(norm(got[g])) {
				if ok, why := match(wi+1, g+1, false); ok {
					return true, ""
				} else if !free {
					return false, why
				}
			} else if !free {
				return false, fmt.Sprintf("%q (got %q)", want[wi], got[g])
			}
		}
		return false, fmt.Sprintf("%q not found", want[wi])
	}
	if ok, why := match(0, 0, false); !ok {
		return why
	}
	return ""
}

// readmeSection is the README from heading to the next heading of the same level.
func readmeSection(t *testing.T, readme, heading string) string {
	t.Helper()
	i := strings.Index(readme, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q section", heading)
	}
	rest := readme[i+len(heading)+2:]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// codeBlocks are the bodies of the section's fenced blocks of a language.
func codeBlocks(section, lang string) []string {
	re := regexp.MustCompile("(?s)\n```" + lang + "\n(.*?)\n```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(section, -1) {
		out = append(out, m[1]+"\n")
	}
	return out
}

// commandLines are a sh block's non-empty lines.
func commandLines(block string) []string {
	var out []string
	for _, l := range strings.Split(block, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// shellWords splits a command line as sh would for the README's simple commands: words,
// "double quoted" words; nothing else (no variables, no pipes).
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, c := range line {
		switch {
		case c == '"':
			quoted, inWord = !quoted, true
		case !quoted && (c == ' ' || c == '\t'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case !quoted && strings.ContainsRune("$|&;<>`'\\", c):
			t.Fatalf("README command %q uses shell syntax this test does not run", line)
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("README command %q has an unclosed quote", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		t.Fatal(errors.New("empty README command"))
	}
	return words
}

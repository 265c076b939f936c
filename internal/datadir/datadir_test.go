//go:build unix

package datadir

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The helper process: TestMain runs it instead of the tests when this variable names a
// data dir. It takes the lock, says so and holds it until its stdin closes or it is killed.
const helperEnv = "QUENCH_DATADIR_TEST_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		l, err := Acquire(dir, "quench dev")
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func inUse(t *testing.T, err error) *InUseError {
	t.Helper()
	var e *InUseError
	require.ErrorAs(t, err, &e)
	return e
}

func TestSecondExclusiveHolderIsRefusedWithTheHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := Acquire(dir, "quench dev")
	require.NoError(t, err)
	info, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), info.Mode().Perm(), "a new data dir is the user's only")
	record, err := os.ReadFile(filepath.Join(dir, LockFile))
	require.NoError(t, err)

	_, err = Acquire(dir, "quench demo")
	e := inUse(t, err)
	require.NotNil(t, e.Holder)
	assert.Equal(t, os.Getpid(), e.Holder.PID)
	assert.Equal(t, "quench dev", e.Holder.Command)
	assert.Contains(t, err.Error(), "data dir "+dir+" is in use by quench dev (pid "+strconv.Itoa(os.Getpid())+", running since ")
	assert.Contains(t, err.Error(), "quench demo cannot use it at the same time; stop that process or pass another --data-dir")
	after, err := os.ReadFile(filepath.Join(dir, LockFile))
	require.NoError(t, err)
	assert.Equal(t, string(record), string(after), "a refused contender must not touch the holder's record")

	_, err = AcquireShared(dir, "quench worker")
	assert.Equal(t, os.Getpid(), inUse(t, err).Holder.PID, "a worker cannot share a dev's data dir")

	first.Release()
	first.Release() // a second Release is a no-op
	after, err = os.ReadFile(filepath.Join(dir, LockFile))
	require.NoError(t, err)
	assert.Empty(t, after, "a released lock leaves no record naming a process that is gone")
	again, err := Acquire(dir, "quench dev")
	require.NoError(t, err)
	assert.True(t, again.Covers(dir))
	assert.False(t, again.Covers(t.TempDir()))
	again.Release()
}

func TestWorkersShareButExcludeDev(t *testing.T) {
	dir := t.TempDir()
	w1, err := AcquireShared(dir, "quench worker")
	require.NoError(t, err)
	w2, err := AcquireShared(dir, "quench server")
	require.NoError(t, err)

	_, err = Acquire(dir, "quench dev")
	e := inUse(t, err)
	assert.Nil(t, e.Holder, "shared holders record nothing")
	assert.Contains(t, err.Error(), "in use by another quench process (a quench worker or quench server sharing it")

	w1.Release()
	_, err = Acquire(dir, "quench dev")
	inUse(t, err) // w2 still holds it
	w2.Release()
	dev, err := Acquire(dir, "quench dev")
	require.NoError(t, err)
	dev.Release()
}

// A killed quench dev leaves its record behind. Whoever holds the lock next must not be
// reported as that dead process, and a forged record is not printed raw.
func TestStaleOrForgedRecordIsNotTrusted(t *testing.T) {
	dir := t.TempDir()
	gone := exec.Command(os.Args[0], "-test.run=^$")
	require.NoError(t, gone.Run())
	path := filepath.Join(dir, LockFile)
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `{"pid":%d,"command":"quench dev","since":"2026-01-01T00:00:00Z"}`+"\n", gone.Process.Pid), 0o600))
	h, err := os.Open(path)
	require.NoError(t, err)
	assert.Nil(t, readHolder(h), "the recorded process has exited")
	h.Close()

	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `{"pid":%d,"command":"x\u001b[2Jy","since":"2026-01-01T00:00:00Z"}`+"\n", os.Getpid()), 0o600))
	h, err = os.Open(path)
	require.NoError(t, err)
	got := readHolder(h)
	h.Close()
	require.NotNil(t, got)
	assert.Equal(t, "x[2Jy", got.Command, "control characters are dropped")

	for _, bad := range []string{"", "{not json\n", `{"pid":-1}` + "\n", `{"pid":99999999999}` + "\n"} {
		require.NoError(t, os.WriteFile(path, []byte(bad), 0o600))
		h, err = os.Open(path)
		require.NoError(t, err)
		assert.Nil(t, readHolder(h), "%q", bad)
		h.Close()
	}

	// A shared holder erases a stale record (no exclusive holder can exist while it holds).
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `{"pid":%d,"command":"quench dev"}`+"\n", gone.Process.Pid), 0o600))
	w, err := AcquireShared(dir, "quench worker")
	require.NoError(t, err)
	defer w.Release()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Empty(t, data)
}

// A second process is refused, with the holder's pid; and a SIGKILLed holder leaves the
// data dir free (the kernel drops the lock with the process).
func TestAnotherProcessHoldsItUntilKilled(t *testing.T) {
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), helperEnv+"="+dir)
	stdin, err := child.StdinPipe()
	require.NoError(t, err)
	stdout, err := child.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, child.Start())
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "locked", strings.TrimSpace(line))

	_, err = Acquire(dir, "quench dev")
	e := inUse(t, err)
	require.NotNil(t, e.Holder)
	assert.Equal(t, child.Process.Pid, e.Holder.PID)
	assert.False(t, e.Holder.Since.IsZero(), "the holder records when it started")

	require.NoError(t, child.Process.Kill())
	err = child.Wait()
	require.True(t, err != nil && !errors.Is(err, exec.ErrNotFound), "the child was killed")
	l, err := Acquire(dir, "quench dev")
	require.NoError(t, err, "a killed holder must not leave the data dir locked")
	l.Release()
}

func TestNoDataDir(t *testing.T) {
	_, err := Acquire("", "quench dev")
	require.ErrorContains(t, err, "no data dir given")
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err = Acquire(file, "quench dev")
	require.ErrorContains(t, err, "cannot create data dir")
}

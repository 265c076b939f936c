// Package datadir guards a quench data dir against two processes that would both write it.
// `quench dev` (and demo, bench and the test stacks) take it exclusively: it holds the
// embedded Temporal database, and opening the routing table reconciles and rewrites it, so
// the lock comes before anything in the directory is opened. `quench worker` and `quench
// server` share it with each other (they coordinate through per-file locks) but never with
// a `quench dev`.
//
// Whoever writes into a data dir takes the lock first and keeps it until it stops.
package datadir

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// LockFile is the lock's file in the data dir. It also records who holds it exclusively.
const LockFile = "quench.lock"

// Holder is what an exclusive holder records in the lock file, for the refusal message of
// whoever comes next. Only what identifies the process: never its arguments, which may
// carry paths or tokens.
type Holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"` // e.g. "quench dev"
	Since   time.Time `json:"since"`   // when it took the lock, i.e. when it started
}

func (h Holder) String() string {
	return fmt.Sprintf("%s (pid %d, running since %s)", h.Command, h.PID, h.Since.UTC().Format(time.RFC3339))
}

// InUseError is the refusal: another process holds the lock.
type InUseError struct {
	Dir string
	// Holder is the recorded exclusive holder when it is still running; nil when the lock
	// is shared by workers or servers (they record nothing) or the record is unreadable.
	Holder *Holder
	// Wanted is the command that was refused.
	Wanted string
}

func (e *InUseError) Error() string {
	who := "another quench process (a quench worker or quench server sharing it, or a quench dev that is still starting)"
	if e.Holder != nil {
		who = e.Holder.String()
	}
	return fmt.Sprintf("data dir %s is in use by %s: %s cannot use it at the same time; stop that process or pass another --data-dir (nothing in the data dir was changed)",
		e.Dir, who, e.Wanted)
}

// Lock is a held lock on a data dir.
type Lock struct {
	dir       string // absolute
	f         *os.File
	exclusive bool
}

// Acquire takes the data dir exclusively for command (e.g. "quench dev"), creating the
// directory (0700) when missing, without waiting: a held lock is an *InUseError that names
// the holder. The caller Releases it when it stops.
func Acquire(dir, command string) (*Lock, error) { return acquire(dir, command, true) }

// AcquireShared takes the data dir for a process that may share it with others of its
// kind (quench worker, quench server) but not with an exclusive holder.
func AcquireShared(dir, command string) (*Lock, error) { return acquire(dir, command, false) }

func acquire(dir, command string, exclusive bool) (*Lock, error) {
	if dir == "" {
		return nil, errors.New("no data dir given: set --data-dir or data_dir in quench.yaml")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create data dir %s: %w: choose another --data-dir or fix its permissions", abs, err)
	}
	path := filepath.Join(abs, LockFile)
	// Never truncated on open: the holder's record must survive a refused contender.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data dir %s is not writable: %w: choose another --data-dir or fix its permissions", abs, err)
	}
	held, err := tryLock(f, exclusive)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cannot lock %s: %w", path, err)
	}
	if !held {
		inUse := &InUseError{Dir: abs, Wanted: command, Holder: readHolder(f)}
		_ = f.Close()
		return nil, inUse
	}
	l := &Lock{dir: abs, f: f, exclusive: exclusive}
	if !exclusive {
		// No exclusive holder can exist now, so any record is a killed one's: erase it
		// rather than let a later refusal name a process that is gone (or a reused pid).
		_ = f.Truncate(0)
		return l, nil
	}
	if err := l.record(Holder{PID: os.Getpid(), Command: command, Since: time.Now().UTC()}); err != nil {
		l.Release()
		return nil, fmt.Errorf("cannot write %s: %w: check the data dir is writable", path, err)
	}
	return l, nil
}

// record replaces the lock file's content with h, one JSON line.
func (l *Lock) record(h Holder) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := l.f.Truncate(0); err != nil {
		return err
	}
	if _, err := l.f.WriteAt(append(data, '\n'), 0); err != nil {
		return err
	}
	return l.f.Sync()
}

// maxPID is the largest pid Linux hands out; a larger one in the file is not a record.
const maxPID = 1 << 22

// readHolder reads the recorded exclusive holder; nil when there is none, it is unreadable
// (a holder may be writing it right now) or that process is gone (a killed quench dev
// leaves its record, and the lock is then held by someone who records nothing).
func readHolder(f *os.File) *Holder {
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return nil
	}
	var h Holder
	if json.Unmarshal([]byte(strings.TrimSpace(line)), &h) != nil || h.PID <= 0 || h.PID > maxPID || !alive(h.PID) {
		return nil
	}
	h.Command = sanitize(h.Command)
	return &h
}

// sanitize keeps a recorded command printable and short: the file is in a directory other
// users may be able to write, and its content ends up in an error message.
func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 64 {
		s = s[:64]
	}
	if s == "" {
		return "a quench process"
	}
	return s
}

// Dir is the locked directory, absolute.
func (l *Lock) Dir() string { return l.dir }

// Covers reports whether the lock is on dir (compared as absolute, cleaned paths).
func (l *Lock) Covers(dir string) bool {
	abs, err := filepath.Abs(dir)
	return err == nil && l != nil && l.f != nil && abs == l.dir
}

// Release gives the lock up. An exclusive holder first erases its record, so the next
// refusal does not name a process that has gone. Safe to call more than once.
func (l *Lock) Release() {
	if l == nil || l.f == nil {
		return
	}
	if l.exclusive {
		_ = l.f.Truncate(0)
	}
	unlock(l.f)
	_ = l.f.Close()
	l.f = nil
}

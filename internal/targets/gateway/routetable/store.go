package routetable

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/quench-dev/quench/internal/targets/filestate"
	"io/fs"
	"os"
	"time"
)

// current returns the state, reloading it when another process changed the file. A state
// is never changed once published (apply works on a fresh load and swaps it in), so callers
// may read it without the lock.
func (t *Table) current() (*state, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if stampOf(t.path) == t.stamp {
		return t.st, nil
	}
	st, err := t.load()
	if err != nil {
		return nil, err
	}
	if st != nil {
		t.st = st
	}
	return t.st, nil
}

// fileStamp identifies a version of the file cheaply: every write replaces the file, so a
// change of size or (nanosecond) mtime means another writer.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}
}

// load reads the file; nil state means there is none yet.
func (t *Table) load() (*state, error) {
	stamp := stampOf(t.path)
	data, err := os.ReadFile(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read routing table: %w", err)
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("routing table %s is not valid JSON (%v): fix it or move it away to start from the configured routes", t.path, err)
	}
	if st.Routes == nil {
		st.Routes = map[string]*Route{}
	}
	for name, r := range st.Routes {
		if r == nil {
			return nil, fmt.Errorf("routing table %s: route %q is null: fix it or move the file away", t.path, name)
		}
		r.Route = name
	}
	if st.Saved == nil {
		st.Saved = map[string]map[string]saved{}
	}
	if st.Ops == nil {
		st.Ops = map[string]opRecord{}
	}
	if st.Generation == "" {
		st.Generation = newGeneration()
	}
	t.stamp = stamp
	return &st, nil
}

func (t *Table) store(st *state) error {
	if st.Saved == nil {
		st.Saved = map[string]map[string]saved{}
	}
	if st.Ops == nil {
		st.Ops = map[string]opRecord{}
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode routing table: %w", err)
	}
	if err := filestate.WriteAtomic(t.path, append(data, '\n'), 0o644); err != nil {
		return err
	}
	t.stamp = stampOf(t.path)
	return nil
}

func newGeneration() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

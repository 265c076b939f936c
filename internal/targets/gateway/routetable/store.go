package routetable

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
	if err := writeAtomic(t.path, append(data, '\n')); err != nil {
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

// writeAtomic replaces path with data so readers see the old or the whole new file, and the
// new one survives a crash: temp file, fsync, rename, fsync of the directory.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // best effort: not every platform can sync a directory
		d.Close()
	}
	return nil
}

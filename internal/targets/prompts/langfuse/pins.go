package langfuse

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/quench-dev/quench/internal/targets/filestate"
)

// pin is the version a freeze keeps a prompt's label on.
type pin struct {
	Version int       `json:"version"`
	At      time.Time `json:"at"`
}

// pinState is the pins file: scope → prompt → pin.
type pinState map[string]map[string]pin

// pinStore keeps the pins in the data dir, locked across processes: the freeze workflow's
// enforcement (worker) and the webhook (server) both update them.
type pinStore struct {
	path, lockPath string
	mu             *sync.Mutex
}

func newPinStore(dir string) (pinStore, error) {
	if dir == "" {
		return pinStore{}, fmt.Errorf("the Langfuse prompts target needs the data dir for its pins")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return pinStore{}, fmt.Errorf("create %s: %w (check --data-dir is writable)", dir, err)
	}
	p := filepath.Join(dir, PinsFile)
	return pinStore{path: p, lockPath: p + ".lock", mu: &sync.Mutex{}}, nil
}

func (s pinStore) load() (pinState, error) {
	st := pinState{}
	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return st, nil
	case err != nil:
		return nil, fmt.Errorf("read Langfuse pins: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("Langfuse pins %s are not valid JSON (%v): fix the file or move it away (the pins are taken again at the next freeze)", s.path, err)
	}
	return st, nil
}

// update runs fn on the pins under the lock and writes them back when fn succeeds.
func (s pinStore) update(fn func(pinState) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := filestate.Lock(s.lockPath)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := s.load()
	if err != nil {
		return err
	}
	if err := fn(st); err != nil {
		return err
	}
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return filestate.WriteAtomic(s.path, append(data, '\n'), 0o644)
}

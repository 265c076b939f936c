// Package evidence keeps evidence bundles, immutable once written, each with its sha256 so
// workflow history only needs the reference. Two stores speak the same contract (names,
// size cap, immutability, digest verified on read, error texts): the directory store
// (Store, for `quench dev` and the default SQLite store kind) and the SQL store (DB, in
// the PostgreSQL store every replica reaches).
package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/filestate"
)

// Store is the directory store: bundles under <data-dir>/evidence/<incident>/<name>.json,
// each with a sha256 digest beside it (<name>.json.sha256, in `sha256sum -c` format), so a
// responder can check a bundle with standard tools. It is safe for concurrent use in one process;
// bundles are immutable, so concurrent writers of the same bytes agree.
type Store struct {
	root     string
	maxBytes int64
	mu       sync.Mutex
}

// Open returns the store rooted at dir (usually <data-dir>/evidence), creating it.
func Open(dir string, opts ...Option) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("evidence store %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("create the evidence store directory: %w (check --data-dir is writable)", err)
	}
	return &Store{root: abs, maxBytes: optionsOf(opts).maxBytes}, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

func (s *Store) paths(incident, name string) (data, digest string, err error) {
	if err := checkName("incident", incident); err != nil {
		return "", "", err
	}
	if err := checkName("name", name); err != nil {
		return "", "", err
	}
	data = filepath.Join(s.root, incident, name+".json")
	return data, data + ".sha256", nil
}

// Put stores data as incident/name. Writing the same bytes again returns the same ref;
// other bytes under an existing name are refused, because evidence must not change after
// it was referenced.
func (s *Store) Put(ctx context.Context, incident, name string, data []byte) (ports.EvidenceRef, error) {
	if err := ctx.Err(); err != nil {
		return ports.EvidenceRef{}, err
	}
	dataPath, digestPath, err := s.paths(incident, name)
	if err != nil {
		return ports.EvidenceRef{}, err
	}
	if err := checkSize(incident, name, len(data), s.maxBytes); err != nil {
		return ports.EvidenceRef{}, err
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])

	s.mu.Lock()
	defer s.mu.Unlock()
	existing, err := os.ReadFile(dataPath)
	switch {
	case err == nil:
		old := sha256.Sum256(existing)
		if old != sum {
			return ports.EvidenceRef{}, ports.Permanentf(
				"evidence %s already exists with other content (sha256 %s, new %s); evidence is immutable: use another name",
				dataPath, hex.EncodeToString(old[:]), digest)
		}
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(dataPath), 0o750); err != nil {
			return ports.EvidenceRef{}, fmt.Errorf("create evidence directory: %w", err)
		}
		if err := filestate.WriteAtomic(dataPath, data, 0o640); err != nil {
			return ports.EvidenceRef{}, err
		}
	default:
		return ports.EvidenceRef{}, fmt.Errorf("read existing evidence %s: %w", dataPath, err)
	}
	// Written after the bundle (and rewritten when missing), so a crash between the two
	// writes is repaired by the retry.
	digestLine := []byte(digest + "  " + filepath.Base(dataPath) + "\n")
	if current, err := os.ReadFile(digestPath); err != nil || !bytes.Equal(current, digestLine) {
		if err := filestate.WriteAtomic(digestPath, digestLine, 0o640); err != nil {
			return ports.EvidenceRef{}, err
		}
	}
	return s.ref(name, dataPath, digest, int64(len(data))), nil
}

func (s *Store) ref(name, path, digest string, size int64) ports.EvidenceRef {
	return ports.EvidenceRef{
		Name:   name,
		URI:    (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String(),
		SHA256: digest,
		Bytes:  size,
	}
}

// Get returns the bundle incident/name with its digest verified; ok is false when there is
// none.
func (s *Store) Get(ctx context.Context, incident, name string) (ports.EvidenceRef, []byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return ports.EvidenceRef{}, nil, false, err
	}
	dataPath, _, err := s.paths(incident, name)
	if err != nil {
		return ports.EvidenceRef{}, nil, false, err
	}
	if _, err := os.Stat(dataPath); errors.Is(err, fs.ErrNotExist) {
		return ports.EvidenceRef{}, nil, false, nil
	}
	data, digest, err := s.readVerified(dataPath)
	if err != nil {
		return ports.EvidenceRef{}, nil, false, err
	}
	return s.ref(name, dataPath, digest, int64(len(data))), data, true, nil
}

// Read returns the bundle at uri (a file:// URI inside the store) after checking it
// against its recorded digest.
func (s *Store) Read(ctx context.Context, uri string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := s.pathOf(uri)
	if err != nil {
		return nil, err
	}
	data, _, err := s.readVerified(path)
	return data, err
}

// ReadRef reads ref.URI and also checks the content against ref.SHA256, the digest the
// incident recorded: a bundle replaced on disk together with its digest file is caught too.
func (s *Store) ReadRef(ctx context.Context, ref ports.EvidenceRef) ([]byte, error) {
	data, err := s.Read(ctx, ref.URI)
	if err != nil {
		return nil, err
	}
	return data, checkRecorded(ref, data)
}

func (s *Store) pathOf(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "file" || u.Path == "" {
		return "", ports.Permanentf("evidence URI %q is not a file:// URI of this store (%s)", uri, s.root)
	}
	path := filepath.Clean(filepath.FromSlash(u.Path))
	rel, err := filepath.Rel(s.root, path)
	if err != nil || rel == "." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || rel == ".." {
		return "", ports.Permanentf("evidence URI %q is outside this store (%s)", uri, s.root)
	}
	return path, nil
}

func (s *Store) readVerified(path string) ([]byte, string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", ports.Permanentf("evidence %s does not exist (was the data dir moved or cleaned?)", path)
		}
		return nil, "", fmt.Errorf("open evidence: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, s.maxBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("read evidence %s: %w", path, err)
	}
	if int64(len(data)) > s.maxBytes {
		return nil, "", ports.Permanentf("evidence %s is over the store's limit of %s", path, humanBytes(s.maxBytes))
	}
	line, err := os.ReadFile(path + ".sha256")
	if err != nil {
		return nil, "", fmt.Errorf("read the digest of %s: %w (the bundle cannot be verified)", path, err)
	}
	want, _, _ := strings.Cut(strings.TrimSpace(string(line)), " ")
	sum := sha256.Sum256(data)
	got := hex.EncodeToString(sum[:])
	if got != want {
		return nil, "", ports.Permanentf("evidence %s does not match its digest (sha256 %s, recorded %s): the file was changed or damaged", path, got, want)
	}
	return data, got, nil
}

var _ ports.EvidenceStore = (*Store)(nil)

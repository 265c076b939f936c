package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/ports"
)

func open(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "evidence"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPutWritesBundleAndDigestFile(t *testing.T) {
	s := open(t)
	data := []byte(`{"headline":{"requests":3}}`)
	ref, err := s.Put(context.Background(), "inc-a-1234", "evidence", data)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if ref.SHA256 != hex.EncodeToString(sum[:]) || ref.Bytes != int64(len(data)) || ref.Name != "evidence" {
		t.Fatalf("ref = %+v", ref)
	}
	u, err := url.Parse(ref.URI)
	if err != nil || u.Scheme != "file" {
		t.Fatalf("uri %q is not a file URI: %v", ref.URI, err)
	}
	wantPath := filepath.Join(s.Root(), "inc-a-1234", "evidence.json")
	if u.Path != filepath.ToSlash(wantPath) {
		t.Fatalf("uri path = %s, want %s", u.Path, wantPath)
	}
	onDisk, err := os.ReadFile(wantPath)
	if err != nil || string(onDisk) != string(data) {
		t.Fatalf("bundle on disk = %q, %v", onDisk, err)
	}
	digestLine, err := os.ReadFile(wantPath + ".sha256")
	if err != nil {
		t.Fatal(err)
	}
	if want := ref.SHA256 + "  evidence.json\n"; string(digestLine) != want {
		t.Fatalf("digest file = %q, want %q (sha256sum -c format)", digestLine, want)
	}
	// No temp files left behind.
	entries, _ := os.ReadDir(filepath.Dir(wantPath))
	if len(entries) != 2 {
		t.Fatalf("incident dir has %d entries, want bundle + digest", len(entries))
	}
}

func TestPutIsIdempotentAndImmutable(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	first, err := s.Put(ctx, "inc", "snap", []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Put(ctx, "inc", "snap", []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatalf("second put = %+v, want %+v", again, first)
	}
	_, err = s.Put(ctx, "inc", "snap", []byte("two"))
	if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "immutable") {
		t.Fatalf("overwrite err = %v, want a permanent 'immutable' error", err)
	}
	data, err := s.Read(ctx, first.URI)
	if err != nil || string(data) != "one" {
		t.Fatalf("after refused overwrite read %q, %v", data, err)
	}
}

func TestPutRepairsMissingDigestFile(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	ref, err := s.Put(ctx, "inc", "snap", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Root(), "inc", "snap.json.sha256")
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(ctx, ref.URI); err == nil {
		t.Fatal("read without a digest file succeeded")
	}
	if _, err := s.Put(ctx, "inc", "snap", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(ctx, ref.URI); err != nil {
		t.Fatalf("read after repair: %v", err)
	}
}

func TestMaxBytes(t *testing.T) {
	s := open(t, WithMaxBytes(8))
	_, err := s.Put(context.Background(), "inc", "big", []byte("123456789"))
	if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "over the store's limit") {
		t.Fatalf("err = %v, want a permanent size error", err)
	}
	if _, err := s.Put(context.Background(), "inc", "fits", []byte("12345678")); err != nil {
		t.Fatalf("8 bytes with an 8 byte limit: %v", err)
	}
}

func TestReadDetectsTampering(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	ref, err := s.Put(ctx, "inc", "snap", []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Root(), "inc", "snap.json"), []byte(`{"a":2}`), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(ctx, ref.URI); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
		t.Fatalf("read of a changed bundle: %v", err)
	}
	if _, _, _, err := s.Get(ctx, "inc", "snap"); err == nil {
		t.Fatal("get of a changed bundle succeeded")
	}
}

func TestReadRefChecksRecordedDigest(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	ref, err := s.Put(ctx, "inc", "snap", []byte("orig"))
	if err != nil {
		t.Fatal(err)
	}
	if data, err := s.ReadRef(ctx, ref); err != nil || string(data) != "orig" {
		t.Fatalf("ReadRef = %q, %v", data, err)
	}
	// Replace bundle and digest file together: only the recorded digest notices.
	dir := filepath.Join(s.Root(), "inc")
	sum := sha256.Sum256([]byte("forged"))
	os.WriteFile(filepath.Join(dir, "snap.json"), []byte("forged"), 0o640)
	os.WriteFile(filepath.Join(dir, "snap.json.sha256"), []byte(hex.EncodeToString(sum[:])+"  snap.json\n"), 0o640)
	if _, err := s.ReadRef(ctx, ref); err == nil || !strings.Contains(err.Error(), "changed after capture") {
		t.Fatalf("ReadRef of a forged bundle: %v", err)
	}
}

func TestGet(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if _, _, ok, err := s.Get(ctx, "inc", "none"); ok || err != nil {
		t.Fatalf("get of a missing bundle: ok=%v err=%v", ok, err)
	}
	put, err := s.Put(ctx, "inc", "snap", []byte("data"))
	if err != nil {
		t.Fatal(err)
	}
	ref, data, ok, err := s.Get(ctx, "inc", "snap")
	if err != nil || !ok || string(data) != "data" || ref != put {
		t.Fatalf("get = %+v %q %v %v, want %+v", ref, data, ok, err, put)
	}
}

func TestRejectsUnsafeNamesAndForeignURIs(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	for _, c := range []struct{ incident, name string }{
		{"../etc", "x"}, {"inc", "../../x"}, {"inc/sub", "x"}, {"", "x"}, {"inc", ""}, {".hidden", "x"}, {"inc", "a..b"},
	} {
		if _, err := s.Put(ctx, c.incident, c.name, []byte("x")); err == nil || !ports.IsPermanent(err) {
			t.Errorf("Put(%q, %q) err = %v, want a permanent error", c.incident, c.name, err)
		}
	}
	outside := filepath.Join(t.TempDir(), "secret.json")
	os.WriteFile(outside, []byte("secret"), 0o600)
	for _, uri := range []string{"file://" + filepath.ToSlash(outside), "https://example.com/x.json", "file://" + filepath.ToSlash(s.Root()) + "/../x.json", "::"} {
		if _, err := s.Read(ctx, uri); err == nil {
			t.Errorf("Read(%q) succeeded, want refusal", uri)
		}
	}
}

package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/evidence"
	"github.com/quench-dev/quench/internal/incidents/incidentsfake"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
)

const bundleBytes = `{"schema":"quench.evidence/v1","headline":{"requests":3}}`

// evidenceAPI serves the API over a fake incident that recorded one bundle, kept in a
// real directory store (reader replaces it when set).
func evidenceAPI(t *testing.T, reader EvidenceReader) (http.Handler, ports.EvidenceRef, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "evidence")
	st, err := evidence.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := st.Put(context.Background(), incID, "evidence", []byte(bundleBytes))
	if err != nil {
		t.Fatal(err)
	}
	fake := incidentsfake.New(nil)
	inc := waitingIncident()
	inc.Evidence = []ports.EvidenceRef{ref}
	fake.Add(inc)
	opts := options(fake, false, &logs{})
	opts.Evidence = st
	if reader != nil {
		opts.Evidence = reader
	}
	return New(opts), ref, dir
}

func get(h http.Handler, path string, headers map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+devToken)
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	h.(*root).lines.wait()
	return rec
}

func TestEvidenceListAndBundle(t *testing.T) {
	h, ref, _ := evidenceAPI(t, nil)
	list := get(h, "/api/v1/incidents/1a2b3c/evidence", nil)
	var refs []ports.EvidenceRef
	if list.Code != 200 || json.Unmarshal(list.Body.Bytes(), &refs) != nil || len(refs) != 1 || refs[0] != ref {
		t.Fatalf("list: %d %s, want [%+v]", list.Code, list.Body, ref)
	}
	for _, path := range []string{"/api/v1/incidents/1a2b3c/evidence/evidence", "/api/v1/incidents/" + incID + "/evidence/evidence"} {
		rec := get(h, path, map[string]string{"Authorization": "Bearer " + botToken})
		if rec.Code != 200 || rec.Body.String() != bundleBytes {
			t.Fatalf("GET %s: %d %q", path, rec.Code, rec.Body)
		}
		sum := sha256.Sum256([]byte(bundleBytes))
		if got := rec.Header().Get(SHA256Header); got != hex.EncodeToString(sum[:]) || got != ref.SHA256 {
			t.Fatalf("digest header %q, want %s", got, ref.SHA256)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("content type %q", ct)
		}
	}
}

func TestEvidenceRefusals(t *testing.T) {
	h, _, dir := evidenceAPI(t, nil)
	for _, c := range []struct {
		name, path string
		headers    map[string]string
		code       int
		want       string
	}{
		{"list without a token", "/api/v1/incidents/1a2b3c/evidence", map[string]string{"Authorization": ""}, 401, "missing bearer token"},
		{"bundle without a token", "/api/v1/incidents/1a2b3c/evidence/evidence", map[string]string{"Authorization": ""}, 401, "missing bearer token"},
		{"bundle with an unknown token", "/api/v1/incidents/1a2b3c/evidence/evidence", map[string]string{"Authorization": "Bearer nope"}, 401, "unknown bearer token"},
		{"bundle for another Host", "/api/v1/incidents/1a2b3c/evidence/evidence", map[string]string{"Host": "evil.example"}, 421, ""},
		{"list of an unknown incident", "/api/v1/incidents/inc-nope-1/evidence", nil, 404, "no incident"},
		{"bundle of an unknown incident", "/api/v1/incidents/ffffff/evidence/evidence", nil, 404, "no incident"},
		{"unknown bundle", "/api/v1/incidents/1a2b3c/evidence/other", nil, 404, "has no evidence bundle other"},
		{"bad bundle name", "/api/v1/incidents/1a2b3c/evidence/a..b", nil, 400, "not an evidence bundle name"},
		{"hidden bundle name", "/api/v1/incidents/1a2b3c/evidence/.sha256", nil, 400, "not an evidence bundle name"},
		{"bad incident ID", "/api/v1/incidents/..%2Fetc/evidence/evidence", nil, 400, ""},
		{"bad incident ID in list", "/api/v1/incidents/UPPER/evidence", nil, 400, "is not an incident ID"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, c.path, nil)
			req.Header.Set("Authorization", "Bearer "+devToken)
			for k, v := range c.headers {
				switch {
				case k == "Host":
					req.Host = v
				case v == "":
					req.Header.Del(k)
				default:
					req.Header.Set(k, v)
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			h.(*root).lines.wait()
			if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.want) {
				t.Fatalf("%d %s, want %d with %q", rec.Code, rec.Body, c.code, c.want)
			}
			if strings.Contains(rec.Body.String(), "headline") {
				t.Fatal("a refused request got the bundle")
			}
		})
	}

	// A bundle changed on disk is not served.
	if err := os.WriteFile(filepath.Join(dir, incID, "evidence.json"), []byte(`{"forged":true}`), 0o640); err != nil {
		t.Fatal(err)
	}
	rec := get(h, "/api/v1/incidents/1a2b3c/evidence/evidence", nil)
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "does not match its digest") || strings.Contains(rec.Body.String(), "forged") {
		t.Fatalf("tampered bundle: %d %s", rec.Code, rec.Body)
	}
}

type downStore struct{}

func (downStore) Get(context.Context, string, string) (ports.EvidenceRef, []byte, bool, error) {
	return ports.EvidenceRef{}, nil, false, &store.UnavailableError{Store: "PostgreSQL quench@db:5432/quench", Err: errors.New("connection refused")}
}

func TestEvidenceStoreDownIs503(t *testing.T) {
	h, _, _ := evidenceAPI(t, downStore{})
	rec := get(h, "/api/v1/incidents/1a2b3c/evidence/evidence", nil)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "PostgreSQL quench@db:5432/quench") {
		t.Fatalf("store down: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

package apiclient_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/api"
	"github.com/quench-dev/quench/internal/incidents/apiclient"
)

func TestEvidenceChecksTheDigestItWasSent(t *testing.T) {
	if apiclient.SHA256Header != api.SHA256Header {
		t.Fatalf("client reads %s, API sends %s", apiclient.SHA256Header, api.SHA256Header)
	}
	const body = `{"headline":{}}`
	digest := "" // set per case
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, `{"error":"no"}`, http.StatusUnauthorized)
			return
		}
		if !strings.HasSuffix(r.URL.Path, "/evidence/evidence") {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"incident 1a2b3c has no evidence bundle other"}`))
			return
		}
		w.Header().Set(api.SHA256Header, digest)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	c := apiclient.New(srv.URL, token)
	ctx := context.Background()

	digest = "64a5f3b2c4a3d1a0e8b7e0c56e1b3d2e6c8a4f0c1a9b3d7e5f2a4c6b8d0e1f3a"
	if _, _, _, err := c.Evidence(ctx, incID, "evidence"); err == nil || !strings.Contains(err.Error(), "damaged on the way") {
		t.Fatalf("a wrong digest header: %v", err)
	}
	sum := sha256.Sum256([]byte(body))
	digest = hex.EncodeToString(sum[:])
	ref, data, ok, err := c.Evidence(ctx, incID, "evidence")
	if err != nil || !ok || string(data) != body || ref.SHA256 != digest || ref.Name != "evidence" {
		t.Fatalf("the right digest: %+v %q %v %v", ref, data, ok, err)
	}
	if _, _, ok, err := c.Evidence(ctx, incID, "other"); ok || err != nil {
		t.Fatalf("a 404 is not-found, not an error: ok=%v err=%v", ok, err)
	}
}

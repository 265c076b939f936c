package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/quench-dev/quench/internal/evidence"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/strictjson"
)

// EvidenceReader is what the API reads bundles through: the evidence store of the
// process (a directory in quench dev, PostgreSQL for replicas), digest checked.
type EvidenceReader interface {
	Get(ctx context.Context, incident, name string) (ref ports.EvidenceRef, data []byte, ok bool, err error)
}

// Evidence answers' headers.
const (
	// SHA256Header carries a bundle's sha256 (hex), as the store verified it; the client
	// compares it with the bytes and with the digest the incident recorded.
	SHA256Header = "X-Quench-Evidence-Sha256"
	// StoreRetryAfter is the Retry-After of a 503 when the store is unavailable.
	StoreRetryAfter = 5
)

// evidenceList answers GET /api/v1/incidents/{id}/evidence: the bundles the incident
// recorded (name, reference, sha256, size), the digests a reader checks bundles against.
func (h *handler) evidenceList(w http.ResponseWriter, r *http.Request, _ caller) {
	ref, ok := h.incidentRef(w, r)
	if !ok {
		return
	}
	st, err := h.opts.Incidents.Status(r.Context(), ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	refs := st.Evidence
	if refs == nil {
		refs = []ports.EvidenceRef{}
	}
	writeJSON(w, http.StatusOK, refs)
}

// evidenceBundle answers GET /api/v1/incidents/{id}/evidence/{name}: the bundle's bytes
// as stored, after the store checked them against its digest, with that digest in
// SHA256Header.
func (h *handler) evidenceBundle(w http.ResponseWriter, r *http.Request, _ caller) {
	ref, ok := h.incidentRef(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	if err := evidence.CheckName("name", name); err != nil {
		h.refuse(w, r, http.StatusBadRequest, fmt.Sprintf("%q is not an evidence bundle name: use the name GET /api/v1/incidents/{id}/evidence lists (letters, digits, '.', '_', '-')", strictjson.ShortForMsg(name)))
		return
	}
	if h.opts.Evidence == nil {
		h.refuse(w, r, http.StatusNotFound, "this quench has no evidence store")
		return
	}
	// The status says the incident exists and gives its full ID (the store keys on it).
	st, err := h.opts.Incidents.Status(r.Context(), ref)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	_, data, found, err := h.opts.Evidence.Get(r.Context(), st.IncidentID, name)
	switch {
	case store.IsUnavailable(err):
		w.Header().Set("Retry-After", strconv.Itoa(StoreRetryAfter))
		h.opts.Logger.Warn("api: the evidence store is unavailable", "incident", st.IncidentID, "bundle", name, "err", err)
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("quench cannot read evidence right now: retry in %d s (%v)", StoreRetryAfter, err))
		return
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return
	case err != nil:
		// A bundle that fails its digest check is never served.
		h.opts.Logger.Error("api: reading evidence failed", "incident", st.IncidentID, "bundle", name, "err", err)
		writeError(w, http.StatusInternalServerError, "quench could not read this bundle: "+err.Error())
		return
	case !found:
		h.refuse(w, r, http.StatusNotFound, fmt.Sprintf("incident %s has no evidence bundle %s in the evidence store (see GET /api/v1/incidents/%s/evidence)", st.ShortID, name, st.ShortID))
		return
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set(SHA256Header, digest)
	w.Header().Set("ETag", `"`+digest+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

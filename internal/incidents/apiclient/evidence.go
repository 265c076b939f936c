package apiclient

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/ports"
)

// SHA256Header is the header the API sends a bundle's sha256 in (api.SHA256Header).
const SHA256Header = "X-Quench-Evidence-Sha256"

// maxBundle bounds a bundle read from the API: the evidence stores cap bundles at 4 MiB.
const maxBundle = 16 << 20

// EvidenceList lists the bundles the incident recorded, with the digests they must have.
func (c *Client) EvidenceList(ctx context.Context, ref string) ([]ports.EvidenceRef, error) {
	if _, _, err := incidents.ParseRef(ref); err != nil {
		return nil, err
	}
	var refs []ports.EvidenceRef
	err := c.do(ctx, http.MethodGet, incidentPath(strings.TrimSpace(ref))+"/evidence", nil, nil, &refs)
	return refs, err
}

// Evidence reads the bundle name of the incident through the API, which reads it from the
// evidence store of the server (whichever process captured it). ok is false when the
// incident or the bundle is not there. The bytes are checked against the digest the server
// sends; the caller checks them against the one the incident recorded.
func (c *Client) Evidence(ctx context.Context, incident, name string) (ports.EvidenceRef, []byte, bool, error) {
	path := incidentPath(incident) + "/evidence/" + url.PathEscape(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+path, nil)
	if err != nil {
		return ports.EvidenceRef{}, nil, false, fmt.Errorf("quench API request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ports.EvidenceRef{}, nil, false, ctx.Err()
		}
		return ports.EvidenceRef{}, nil, false, incidents.Unavailable(fmt.Errorf("cannot reach quench at %s (%v): is `quench dev` running? (it writes a new credential each start; pass --data-dir if it runs with another data dir)", c.URL, unwrapURLError(err)))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBundle+1))
	if err != nil {
		return ports.EvidenceRef{}, nil, false, fmt.Errorf("read evidence %s of %s from quench: %w", name, incident, err)
	}
	if resp.StatusCode != http.StatusOK {
		err := classify(resp, data)
		if errors.Is(err, incidents.ErrNotFound) {
			return ports.EvidenceRef{}, nil, false, nil
		}
		return ports.EvidenceRef{}, nil, false, err
	}
	if len(data) > maxBundle {
		return ports.EvidenceRef{}, nil, false, fmt.Errorf("evidence %s of %s from quench is over %d bytes: not a bundle this CLI reads", name, incident, maxBundle)
	}
	sum := sha256.Sum256(data)
	got := hex.EncodeToString(sum[:])
	if want := resp.Header.Get(SHA256Header); want != got {
		return ports.EvidenceRef{}, nil, false, fmt.Errorf("evidence %s of %s arrived with sha256 %s but quench sent %q: the answer was damaged on the way; try again", name, incident, got, want)
	}
	ref := ports.EvidenceRef{Name: name, URI: c.URL + path, SHA256: got, Bytes: int64(len(data))}
	return ref, data, true, nil
}

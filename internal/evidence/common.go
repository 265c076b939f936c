package evidence

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/quench-dev/quench/internal/ports"
)

// DefaultMaxBytes caps one bundle: workflow payloads stay small because only references go
// to history, but a runaway bundle would still fill the disk and be useless to read.
const DefaultMaxBytes = 4 << 20

// Option configures a store.
type Option func(*options)

type options struct{ maxBytes int64 }

// WithMaxBytes sets the largest bundle the store accepts.
func WithMaxBytes(n int64) Option { return func(o *options) { o.maxBytes = n } }

func optionsOf(opts []Option) options {
	o := options{maxBytes: DefaultMaxBytes}
	for _, fn := range opts {
		fn(&o)
	}
	return o
}

// Names become path components of the directory store and of URIs, so both stores
// restrict them to a safe alphabet. Compiled on first use: every quench command links this
// package, few check a name, and {0,199} is not free to compile.
var validName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$`) })

// CheckName says whether name is a valid incident ID or bundle name (kind says which, for
// the message); the error is permanent.
func CheckName(kind, name string) error { return checkName(kind, name) }

func checkName(kind, name string) error {
	if !validName().MatchString(name) || strings.Contains(name, "..") {
		return ports.Permanentf("evidence %s %q is not a valid name: use letters, digits, '.', '_' and '-' (no '..'), starting with a letter or digit", kind, name)
	}
	return nil
}

func checkSize(incident, name string, n int, maxBytes int64) error {
	if int64(n) > maxBytes {
		return ports.Permanentf(
			"evidence bundle %s/%s is %s, over the store's limit of %s; capture less (a shorter window, fewer samples)",
			incident, name, humanBytes(int64(n)), humanBytes(maxBytes))
	}
	return nil
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// checkRecorded compares data with the digest the incident recorded: a bundle replaced
// together with its stored digest is caught too.
func checkRecorded(ref ports.EvidenceRef, data []byte) error {
	if got := digestOf(data); got != ref.SHA256 {
		return fmt.Errorf("evidence %s has sha256 %s but the incident recorded %s: the bundle was changed after capture", ref.URI, got, ref.SHA256)
	}
	return nil
}

// URIScheme is the scheme of the SQL store's references: quench:evidence/<incident>/<name>.
// It names the bundle, not a place, so any process reaching the store (or the API) resolves
// it.
const URIScheme = "quench"

// StoreURI is the reference of incident/name in the SQL store.
func StoreURI(incident, name string) string {
	return URIScheme + ":evidence/" + incident + "/" + name
}

// ParseURI returns the incident and bundle name a reference points at: a quench:evidence/
// URI, or a file:// URI of a directory store (…/<incident>/<name>.json), as incidents
// recorded before the SQL store did.
func ParseURI(uri string) (incident, name string, err error) {
	u, perr := url.Parse(uri)
	var parts []string
	switch {
	case perr != nil:
	case u.Scheme == URIScheme && strings.HasPrefix(u.Opaque, "evidence/"):
		parts = strings.Split(strings.TrimPrefix(u.Opaque, "evidence/"), "/")
	case u.Scheme == "file" && strings.HasSuffix(u.Path, ".json"):
		all := strings.Split(strings.TrimSuffix(u.Path, ".json"), "/")
		if len(all) >= 2 {
			parts = all[len(all)-2:]
		}
	}
	if len(parts) != 2 || checkName("incident", parts[0]) != nil || checkName("name", parts[1]) != nil {
		return "", "", ports.Permanentf("evidence URI %q is neither a %s:evidence/<incident>/<name> nor a file:// URI of an evidence store", uri, URIScheme)
	}
	return parts[0], parts[1], nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/traffic/redact"
)

// DefaultMaxBundleBytes caps an encoded bundle, well under the evidence store's 4 MiB limit:
// samples are dropped first, then the least busy groups, and the manifest says what was cut.
const DefaultMaxBundleBytes = 1 << 20

// Request is one LLM request in the log's terms (OpenTelemetry GenAI names). Other traffic
// sources (Langfuse observations) convert what they read into Requests and build the same
// bundle with a Builder.
type Request struct {
	Time          time.Time
	Provider      string
	RequestModel  string
	ResponseModel string // "" = RequestModel
	FinishReasons []string
	InputTokens   *float64
	OutputTokens  *float64
	Operation     string
	DurationMs    *float64
	ErrorType     string // "" = succeeded; 429, 5xx, timeout, ...
	Route         string
	PromptName    string
	PromptVersion string
	CostUSD       *float64
	AgentKey      string
	Input         string // raw text: redacted and hashed in samples, never stored as is
	Output        string
}

func (r Request) toRecord() Record {
	rec := Record{
		Time: r.Time, Provider: r.Provider, RequestModel: r.RequestModel, ResponseModel: r.ResponseModel,
		FinishReasons: r.FinishReasons, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens,
		Operation: r.Operation, DurationMs: r.DurationMs, ErrorType: looseString(r.ErrorType), Route: r.Route,
		PromptName: r.PromptName, PromptVersion: looseString(r.PromptVersion), CostUSD: r.CostUSD,
		AgentKey: r.AgentKey, Input: r.Input, Output: r.Output,
	}
	if rec.Provider == "" {
		rec.Provider = "unknown"
	}
	if rec.ResponseModel == "" {
		rec.ResponseModel = rec.RequestModel
	}
	return rec
}

// Builder turns the requests of a snapshot's two windows into an evidence bundle: the
// aggregates per provider / model / prompt version, what changed most, redacted and capped
// samples, and the manifest's counts and digest. Feed it with Add, then call Build.
type Builder struct {
	req      ports.SnapshotRequest
	now      time.Time
	incFrom  time.Time
	baseFrom time.Time
	maxBytes int

	groups      map[groupKey]*pair
	agents      *agentCounter
	models      *modelCounter
	samples     *sampler
	digest      hash.Hash
	otherRoutes int
	outside     int
}

// NewBuilder starts a bundle for req's windows: incident [Now-Window, Now] against
// baseline [Now-Window-Baseline, Now-Window].
func NewBuilder(req ports.SnapshotRequest) (*Builder, error) {
	if req.Window <= 0 || req.Baseline <= 0 {
		return nil, ports.Permanentf("window and baseline must be positive durations (got %s and %s)", req.Window, req.Baseline)
	}
	now := req.Now.UTC()
	incFrom := now.Add(-req.Window)
	return &Builder{
		req: req, now: now, incFrom: incFrom, baseFrom: incFrom.Add(-req.Baseline),
		maxBytes: DefaultMaxBundleBytes,
		groups:   map[groupKey]*pair{},
		agents:   newAgentCounter(),
		models:   newModelCounter(),
		samples:  newSampler(min(max(req.Samples, 0), maxSamples)),
		digest:   sha256.New(),
	}, nil
}

// SetMaxBytes changes the encoded bundle's cap (tests; a source with a smaller store).
func (b *Builder) SetMaxBytes(n int) { b.maxBytes = n }

// Incident and Baseline are the builder's windows.
func (b *Builder) Incident() Span { return Span{From: b.incFrom, To: b.now} }

// Baseline is the window the incident is compared with.
func (b *Builder) Baseline() Span { return Span{From: b.baseFrom, To: b.incFrom} }

// Add counts r when it falls in either window and on the requested route, and reports
// whether it did. raw is the source's own bytes for r (a log line, an API object): every
// counted raw goes into the manifest's digest, so the numbers can be traced to their input.
func (b *Builder) Add(r Request, raw []byte) bool {
	rec := r.toRecord()
	return b.AddRecord(&rec, raw)
}

// AddRecord is Add for a source that already holds a Record (the JSONL log).
func (b *Builder) AddRecord(r *Record, raw []byte) bool {
	if r.Time.Before(b.baseFrom) || r.Time.After(b.now) {
		b.outside++
		return false
	}
	if b.req.Route != "" && r.Route != b.req.Route {
		b.otherRoutes++
		return false
	}
	b.digest.Write(raw)
	b.digest.Write([]byte{'\n'})
	k := groupKey{Provider: r.Provider, ResponseModel: r.ResponseModel, PromptName: r.PromptName, PromptVersion: string(r.PromptVersion)}
	g, ok := b.groups[k]
	if !ok {
		g = &pair{}
		b.groups[k] = g
	}
	if r.Time.Before(b.incFrom) {
		g.base.add(r)
		b.agents.add(r, false)
		b.models.add(r, false)
		return true
	}
	g.inc.add(r)
	b.agents.add(r, true)
	b.models.add(r, true)
	b.samples.offer(r)
	return true
}

// Build assembles the bundle. m carries the source's part of the manifest (Source,
// counts read, Digests, Notes); the builder fills the windows, route, totals, caps and
// LinesSHA256 (the digest of every counted raw input, in the order added).
func (b *Builder) Build(m Manifest) (ports.TrafficSnapshot, error) {
	bundle := Bundle{Schema: Schema}
	total := view(b.groups, func(groupKey) string { return "all" })["all"]
	if total == nil {
		total = &pair{}
	}
	bundle.Totals.Incident, bundle.Totals.Baseline = total.inc.stats(), total.base.stats()
	bundle.Groups = groupList(b.groups)
	// Rates compare per minute of traffic actually covered: a log younger than the
	// baseline window must not read as a quiet baseline.
	covered := b.agents.coveredBaseline(b.incFrom, b.req.Baseline)
	bundle.Changes = RankChanges(append(whatChanged(b.groups, b.req.Window, covered), b.agents.changes(b.req.Window, covered)...))
	bundle.Agents = b.agents.list(b.req.Window, covered)
	if bundle.Changes == nil {
		bundle.Changes = []Change{}
	}
	bundle.Samples = b.samples.result()
	m.Window, m.Baseline, m.Route = b.Incident(), b.Baseline(), b.req.Route
	if covered < b.req.Baseline {
		m.BaselineCoveredMinutes = round(covered.Minutes(), 2)
	}
	m.OtherRoutes += b.otherRoutes
	m.Incident, m.BaselineN = total.inc.requests, total.base.requests
	m.GroupsTotal, m.GroupsKept = len(b.groups), len(bundle.Groups)
	m.SamplesCap, m.SamplesKept = b.samples.cap, len(bundle.Samples)
	m.LinesSHA256 = hex.EncodeToString(b.digest.Sum(nil))
	bundle.Manifest = m
	if m.Redaction == "" {
		bundle.redacted = true
		bundle.noteRedaction()
	}
	bundle.Headline = ports.TrafficHeadline{
		Requests: total.inc.requests, BaselineRequests: total.base.requests,
		ErrorRate: bundle.Totals.Incident.ErrorRate, BaselineErrorRate: bundle.Totals.Baseline.ErrorRate,
		TopChange: topChange(bundle.Changes, total),
	}
	h := &bundle.Headline
	h.RequestModel, h.BaselineResponseModel, h.ResponseModel = b.models.headline(b.req.RequestModel)
	data, err := EncodeCapped(&bundle, b.maxBytes)
	if err != nil {
		return ports.TrafficSnapshot{}, err
	}
	return ports.TrafficSnapshot{Bundle: data, Headline: bundle.Headline}, nil
}

// RedactionNote says what redaction did to the samples' text, and no more: the redactor
// masks the shapes it has rules for; text in no shape it knows stays as written.
func RedactionNote(samples int, masked map[string]int) string {
	if samples == 0 {
		return "no request text kept: the bundle has no samples"
	}
	what := "nothing"
	if len(masked) > 0 {
		parts := make([]string, 0, len(masked))
		for _, k := range redact.Kinds(masked) {
			parts = append(parts, fmt.Sprintf("%d %s", masked[k], k))
		}
		what = strings.Join(parts, ", ")
	}
	return fmt.Sprintf("the input/output of the %d samples went through quench's redactor, which masks only the secret and "+
		"personal-data shapes it has rules for (a secret in no known shape stays as written); it masked %s; "+
		"the sha256 of each raw text is kept", samples, what)
}

// EncodeCapped encodes b, dropping samples (newest kept) and then the least busy groups
// until it fits in maxBytes; the manifest records each cut. A bundle that cannot fit even
// with neither is refused.
func EncodeCapped(b *Bundle, maxBytes int) ([]byte, error) {
	encode := func() ([]byte, error) {
		data, err := json.MarshalIndent(b, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encode traffic bundle: %w", err)
		}
		return data, nil
	}
	data, err := encode()
	if err != nil || maxBytes <= 0 || len(data) <= maxBytes {
		return data, err
	}
	if len(b.Series) > 0 {
		b.Series = nil
		b.Manifest.Notes = append(b.Manifest.Notes, "series dropped to keep the bundle under its size cap")
		if data, err = encode(); err != nil || len(data) <= maxBytes {
			return data, err
		}
	}
	origSamples, origGroups := len(b.Samples), len(b.Groups)
	for len(data) > maxBytes && (len(b.Samples) > 0 || len(b.Groups) > 0) {
		if len(b.Samples) > 0 {
			b.Samples = b.Samples[len(b.Samples)/2:] // keep the newer half
			if len(b.Samples) == 1 {
				b.Samples = b.Samples[:0]
			}
		} else {
			b.Groups = b.Groups[:len(b.Groups)/2]
		}
		b.Manifest.SamplesKept, b.Manifest.GroupsKept = len(b.Samples), len(b.Groups)
		if b.redacted {
			b.noteRedaction() // count only what the samples kept hold
		}
		b.Manifest.Truncated = fmt.Sprintf("bundle over %d bytes: kept %d of %d samples and %d of %d groups",
			maxBytes, len(b.Samples), origSamples, len(b.Groups), origGroups)
		if data, err = encode(); err != nil {
			return nil, err
		}
	}
	if len(data) > maxBytes {
		return nil, ports.Permanentf("traffic bundle is %d bytes even without samples and groups, over the cap of %d", len(data), maxBytes)
	}
	return data, nil
}

package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// Record is one LLM request as a JSONL line carries it, with OpenTelemetry GenAI attribute
// names; the builder counts Records (other sources convert theirs from a Request).
type Record struct {
	Time          time.Time   `json:"time"`
	Provider      string      `json:"gen_ai.provider.name"`
	RequestModel  string      `json:"gen_ai.request.model"`
	ResponseModel string      `json:"gen_ai.response.model"`
	FinishReasons stringList  `json:"gen_ai.response.finish_reasons"`
	InputTokens   *float64    `json:"gen_ai.usage.input_tokens"`
	OutputTokens  *float64    `json:"gen_ai.usage.output_tokens"`
	Operation     string      `json:"gen_ai.operation.name"`
	DurationMs    *float64    `json:"duration_ms"`
	ErrorType     looseString `json:"error.type"`
	Route         string      `json:"route"`
	PromptName    string      `json:"prompt.name"`
	PromptVersion looseString `json:"prompt.version"`
	CostUSD       *float64    `json:"cost_usd"`
	AgentKey      string      `json:"agent.key"`
	Input         string      `json:"input"`
	Output        string      `json:"output"`
}

// ErrNoTime: the line has no "time" and cannot be placed in a window.
var ErrNoTime = errors.New("no time")

// ParseRecord decodes one JSONL line, filling the provider and response model the way
// emitters leave them out.
func ParseRecord(line []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return Record{}, err
	}
	if r.Time.IsZero() {
		return Record{}, ErrNoTime
	}
	if r.Provider == "" {
		r.Provider = "unknown"
	}
	if r.ResponseModel == "" {
		r.ResponseModel = r.RequestModel // providers omit it on errors
	}
	return r, nil
}

// failed reports whether the request failed; error.type "" (or absent) means it succeeded.
func (r *Record) failed() bool { return r.ErrorType != "" }

// prompt names the prompt version as "name@version" ("" when the request has no prompt).
func (r *Record) prompt() string {
	switch {
	case r.PromptName == "" && r.PromptVersion == "":
		return ""
	case r.PromptVersion == "":
		return r.PromptName
	default:
		return r.PromptName + "@" + string(r.PromptVersion)
	}
}

// stringList accepts ["stop"] and, from loose emitters, "stop".
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*s = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = stringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// looseString accepts a string or a number (prompt.version: 7, error.type: 429).
type looseString string

func (s *looseString) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*s = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = looseString(v)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	if _, err := strconv.ParseFloat(string(n), 64); err != nil {
		return err
	}
	*s = looseString(n)
	return nil
}

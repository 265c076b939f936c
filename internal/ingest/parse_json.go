package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/quench-dev/quench/internal/strictjson"
)

// The parsers read payloads through a strict JSON layer rather than json.Unmarshal into
// structs, because encoding/json is lenient in ways that matter at a trust boundary:
//   - a duplicate key silently keeps the last value, so {"status":"firing","status":"resolved"}
//     means one thing to us and possibly another to a proxy or log pipeline that keeps the
//     first; here it is refused (checkStrictJSON);
//   - struct fields match keys case-insensitively ("Status" and "status" both land in Status);
//     here every field is looked up by its exact name;
//   - a number out of range for the Go type fails the whole decode without saying where;
//     here numbers stay raw text until the field that wants one converts it, so the error
//     names the field.
// Every error is a *FieldError naming the JSON path, so the 4xx tells the sender what to fix.

// maxJSONDepth bounds nesting (strictjson's bound, shared with the HTTP API).
const maxJSONDepth = strictjson.MaxDepth

// bodyField names the whole body in a FieldError.
const bodyField = strictjson.Body

// checkStrictJSON is strictjson.Check with its error as a *FieldError.
func checkStrictJSON(body []byte) error {
	err := strictjson.Check(body)
	var se *strictjson.Error
	if errors.As(err, &se) {
		return &FieldError{Field: se.Path, Msg: se.Msg}
	}
	return err
}

// jsonObject is a decoded JSON object whose fields are read by exact name.
type jsonObject struct {
	path   string // "" for the body
	fields map[string]json.RawMessage
}

// decodeBody checks the body strictly and returns its top-level object.
func decodeBody(body []byte) (jsonObject, error) {
	if err := checkStrictJSON(body); err != nil {
		return jsonObject{}, err
	}
	return decodeObject("", body)
}

// decodeObject decodes raw, which must be a JSON object, located at path.
func decodeObject(path string, raw json.RawMessage) (jsonObject, error) {
	if k := rawKind(raw); k != "an object" {
		return jsonObject{}, &FieldError{Field: orBody(path), Msg: "must be an object, got " + k}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return jsonObject{}, &FieldError{Field: orBody(path), Msg: "malformed JSON: " + err.Error()}
	}
	return jsonObject{path: path, fields: fields}, nil
}

func orBody(path string) string {
	if path == "" {
		return bodyField
	}
	return path
}

// rawKind names the JSON type of raw, for error messages and type checks.
func rawKind(raw json.RawMessage) string { return strictjson.Kind(raw) }

// at is the path of a field of o, for error messages (a long key name is cut).
func (o jsonObject) at(name string) string {
	if o.path == "" {
		return shortForMsg(name)
	}
	return o.path + "." + shortForMsg(name)
}

// raw returns a field's raw JSON; absent and null are both "not there".
func (o jsonObject) raw(name string) (json.RawMessage, bool) {
	v, ok := o.fields[name]
	if !ok || rawKind(v) == "null" {
		return nil, false
	}
	return v, true
}

// str reads an optional string field ("" when absent or null).
func (o jsonObject) str(name string) (string, error) {
	v, ok := o.raw(name)
	if !ok {
		return "", nil
	}
	if k := rawKind(v); k != "a string" {
		return "", &FieldError{Field: o.at(name), Msg: "must be a string, got " + k}
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", &FieldError{Field: o.at(name), Msg: "malformed string: " + err.Error()}
	}
	return s, nil
}

// requiredStr reads a string field that must be present and non-empty.
func (o jsonObject) requiredStr(name, why string) (string, error) {
	s, err := o.str(name)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(s) == "" {
		return "", &FieldError{Field: o.at(name), Msg: "required: " + why}
	}
	return s, nil
}

// strOrNumber reads a field a template may render quoted or bare (Datadog "$ALERT_ID" vs
// $ALERT_ID), as text.
func (o jsonObject) strOrNumber(name string) (string, error) {
	v, ok := o.raw(name)
	if !ok {
		return "", nil
	}
	if rawKind(v) == "a number" {
		return string(bytes.TrimSpace(v)), nil
	}
	return o.str(name)
}

// object reads an optional object field.
func (o jsonObject) object(name string) (jsonObject, bool, error) {
	v, ok := o.raw(name)
	if !ok {
		return jsonObject{}, false, nil
	}
	obj, err := decodeObject(o.at(name), v)
	return obj, err == nil, err
}

// array reads an optional array field.
func (o jsonObject) array(name string) ([]json.RawMessage, bool, error) {
	v, ok := o.raw(name)
	if !ok {
		return nil, false, nil
	}
	if k := rawKind(v); k != "an array" {
		return nil, false, &FieldError{Field: o.at(name), Msg: "must be an array, got " + k}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, false, &FieldError{Field: o.at(name), Msg: "malformed JSON: " + err.Error()}
	}
	return items, true, nil
}

// count reads an optional non-negative integer field that fits an int32 (counts, ids).
func (o jsonObject) count(name string) (int, error) {
	v, ok := o.raw(name)
	if !ok {
		return 0, nil
	}
	if k := rawKind(v); k != "a number" {
		return 0, &FieldError{Field: o.at(name), Msg: "must be a number, got " + k}
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 32)
	if err != nil || n < 0 {
		return 0, &FieldError{Field: o.at(name), Msg: fmt.Sprintf("must be a non-negative integer below 2^31, got %s", shortForMsg(string(v)))}
	}
	return int(n), nil
}

// parseFloatField reads a number as float64; out-of-range values are refused, not turned into ±Inf.
func parseFloatField(path string, v json.RawMessage) (float64, error) {
	if k := rawKind(v); k != "a number" {
		return 0, &FieldError{Field: path, Msg: "must be a number, got " + k}
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(v)), 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return 0, &FieldError{Field: path, Msg: "number out of range for a 64-bit float"}
		}
		return 0, &FieldError{Field: path, Msg: "malformed number"}
	}
	return f, nil
}

// shortForMsg quotes attacker-controlled text for an error message without letting it grow
// the message (or a log line) without bound.
func shortForMsg(s string) string { return strictjson.ShortForMsg(s) }

// cutUTF8 cuts s to at most n bytes without splitting a UTF-8 sequence.
func cutUTF8(s string, n int) string { return strictjson.CutUTF8(s, n) }

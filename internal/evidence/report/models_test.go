package report

import (
	"bytes"
	"strings"
	"testing"
)

// The facts name the alias's response model in each window (what a pin goes back to),
// and only when the bundle says.
func TestTextNamesTheResponseModels(t *testing.T) {
	r := story(t)
	var plain bytes.Buffer
	if err := WriteText(&plain, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "models ") {
		t.Errorf("a models line without models in the headline:\n%s", plain.String())
	}
	h := &r.Bundles[0].Doc.Headline
	h.RequestModel, h.BaselineResponseModel, h.ResponseModel = "gpt-4o", "gpt-4o-2024-08-06", "gpt-4o-2024-11-20"
	var out bytes.Buffer
	if err := WriteText(&out, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "models      gpt-4o answered as gpt-4o-2024-11-20 in the window (30m), gpt-4o-2024-08-06 in the baseline (24h)") {
		t.Errorf("no models line:\n%s", out.String())
	}
}

package incident

import (
	"context"
	"errors"
	"testing"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
)

func TestPostmortemFlags(t *testing.T) {
	ios, _, _, _ := cmdutil.Test()
	f := &cmdutil.Factory{IO: ios}
	var got *PostmortemOptions
	run := func(_ context.Context, o *PostmortemOptions) error { got = o; return nil }

	cmd := NewCmdPostmortem(f, run)
	cmd.SetArgs([]string{"1a2b3c", "--out", "pm.md"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Ref != "1a2b3c" || got.Format != FormatMarkdown || got.OutFile != "pm.md" || got.Evidence == nil {
		t.Errorf("options %+v", got)
	}

	got = nil
	cmd = NewCmdPostmortem(f, run)
	cmd.SetArgs([]string{"1a2b3c", "-o", "yaml"})
	var flagErr *cmdutil.FlagError
	if err := cmd.Execute(); !errors.As(err, &flagErr) || got != nil {
		t.Errorf("-o yaml: err %v, ran %v; want a usage error and no run", err, got != nil)
	}
}

package cmdutil

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestParseKeyValues(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    string
		wantErr string
	}{
		{args: []string{"a=b", "c=d=e", "e="}, want: "a=b c=d=e e="},
		{args: []string{" k =v"}, want: "k=v"},
		{args: []string{"route"}, wantErr: `"route" is not key=value`},
		{args: []string{"=x"}, wantErr: "is not key=value"},
		{args: []string{"a=1", "a=2"}, wantErr: "param a given twice"},
	} {
		got, err := ParseKeyValues(tc.args)
		var flagErr *FlagError
		switch {
		case tc.wantErr != "":
			if !errors.As(err, &flagErr) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%v: err %v, want a usage error with %q", tc.args, err, tc.wantErr)
			}
		case err != nil || FormatParams(got) != tc.want:
			t.Errorf("%v: %v %v, want %s", tc.args, got, err, tc.want)
		}
	}
}

func TestRejectUnknownSubcommands(t *testing.T) {
	ran := false
	root := &cobra.Command{Use: "quench", SilenceErrors: true, SilenceUsage: true}
	group := &cobra.Command{Use: "runbook"}
	group.AddCommand(&cobra.Command{Use: "show", Run: func(*cobra.Command, []string) { ran = true }})
	runnableGroup := &cobra.Command{Use: "own", RunE: func(*cobra.Command, []string) error { return nil }}
	runnableGroup.AddCommand(&cobra.Command{Use: "x", Run: func(*cobra.Command, []string) {}})
	root.AddCommand(group, runnableGroup)
	RejectUnknownSubcommands(root)

	ios, _, out, _ := Test()
	root.SetOut(ios.Out)
	root.SetArgs([]string{"runbook", "shwo"})
	err := root.Execute()
	var flagErr *FlagError
	if !errors.As(err, &flagErr) || !strings.Contains(err.Error(), `unknown command "shwo" for "quench runbook"`) || !strings.Contains(err.Error(), "\tshow") {
		t.Fatalf("err %v, want a usage error suggesting show", err)
	}
	root.SetArgs([]string{"runbook"})
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "show") {
		t.Fatalf("a group alone prints its help: %v\n%s", err, out)
	}
	root.SetArgs([]string{"own", "anything"})
	if err := root.Execute(); err != nil {
		t.Fatalf("a group that runs itself is left alone: %v", err)
	}
	if ran {
		t.Fatal("no subcommand should have run")
	}
}

func TestCheckFormat(t *testing.T) {
	for _, ok := range []string{FormatTable, FormatJSON, FormatYAML} {
		if err := CheckFormat(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	var flagErr *FlagError
	if err := CheckFormat("xml"); !errors.As(err, &flagErr) || !strings.Contains(err.Error(), "use table, json or yaml") {
		t.Errorf("xml: %v", err)
	}
}

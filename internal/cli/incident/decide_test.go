package incident

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/spf13/pflag"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/incidents"
	"github.com/quench-dev/quench/internal/incidents/incidentsfake"
	"github.com/quench-dev/quench/workflows"
)

func TestDecideRun(t *testing.T) {
	two := failback(
		workflows.PendingApproval{StepID: "failback", Action: "gateway.restore", Digest: digestA, Quorum: 1},
		workflows.PendingApproval{StepID: "rollback", Action: "prompts.rollback_pr", Digest: digestB, Quorum: 1},
	)
	quorum2 := failback(workflows.PendingApproval{StepID: "failback", Action: "gateway.restore", Digest: digestA, Quorum: 2})
	for _, tc := range []struct {
		name       string
		st         workflows.Status
		opts       DecideOptions
		tty        bool
		setup      func(*incidentsfake.Fake)
		wantErr    string
		wantStdout []string
		noStdout   []string
		check      func(t *testing.T, f *incidentsfake.Fake, stdout string)
	}{
		{name: "approve tty", st: failback(), tty: true, opts: DecideOptions{Ref: shortID},
			wantStdout: []string{"Step failback of incident 1a2b3c approved by bob.", "follow: quench incident watch 1a2b3c"}},
		{name: "approve not a tty", st: failback(), opts: DecideOptions{Ref: shortID},
			wantStdout: []string{"Step failback of incident 1a2b3c approved by bob."}, noStdout: []string{"follow:"}},
		{name: "approve json carries the incident", st: failback(), opts: DecideOptions{Ref: shortID, Format: cmdutil.FormatJSON},
			check: func(t *testing.T, _ *incidentsfake.Fake, stdout string) {
				var d incidents.Decided
				if err := json.Unmarshal([]byte(stdout), &d); err != nil {
					t.Fatal(err)
				}
				want := incidents.Decided{IncidentID: incID, ShortID: shortID, StepID: "failback", Verdict: "approve", Approver: "bob", Outcome: "approved"}
				if d != want {
					t.Fatalf("result %+v, want %+v", d, want)
				}
			}},
		{name: "an undo's approval says it was the undo", st: failback(workflows.PendingApproval{StepID: "block", Action: "gateway.unblock", Undo: true, Digest: digestA, Quorum: 1}),
			opts: DecideOptions{Ref: shortID}, wantStdout: []string{"The undo of step block of incident 1a2b3c approved by bob."}, noStdout: []string{"Step block"}},
		{name: "counted toward a quorum", st: quorum2, opts: DecideOptions{Ref: shortID},
			wantStdout: []string{"Counted bob's approval of step failback of incident 1a2b3c; 1 more needed."}},
		{name: "reject", st: failback(), opts: DecideOptions{Ref: shortID, Verdict: workflows.VerdictReject, Reason: "not yet"},
			wantStdout: []string{"Step failback of incident 1a2b3c rejected by bob."},
			check: func(t *testing.T, f *incidentsfake.Fake, _ string) {
				st, _ := f.Get(incID)
				if len(st.Pending) != 0 || st.Steps[2].State != workflows.StepRejected {
					t.Errorf("after the rejection: pending %+v, steps %+v", st.Pending, st.Steps)
				}
			}},
		{name: "short digest", st: failback(), opts: DecideOptions{Ref: shortID, Digest: digestA[:12]},
			check: func(t *testing.T, f *incidentsfake.Fake, _ string) {
				calls := f.Calls()
				if d := calls[len(calls)-1].Arg.(workflows.Decision); d.Digest != digestA[:12] || d.Via != "cli" || d.Approver != "bob" {
					t.Errorf("decision sent %+v", d)
				}
			}},
		{name: "stale digest", st: failback(), opts: DecideOptions{Ref: shortID, Digest: "0123456789ab"}, wantErr: "the params changed, review them with `quench incident show 1a2b3c`"},
		{name: "several pending need --step", st: two, opts: DecideOptions{Ref: shortID}, wantErr: "several approvals are pending (failback, rollback): pass --step"},
		{name: "--step picks one", st: two, opts: DecideOptions{Ref: shortID, Step: "rollback"}, wantStdout: []string{"Step rollback of incident 1a2b3c approved"}},
		{name: "nothing pending", st: failback([]workflows.PendingApproval{}...), opts: DecideOptions{Ref: shortID}, wantErr: "has no approval pending"},
		{name: "unknown incident", st: failback(), opts: DecideOptions{Ref: "abcdef"}, wantErr: "no incident with ID abcdef"},
		{name: "refused by the workflow", st: failback(), opts: DecideOptions{Ref: shortID},
			setup: func(f *incidentsfake.Fake) {
				f.Fail("Decide", errors.New("approve refused: mallory is not a member of sre"))
			}, wantErr: "not a member of sre"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := incidentsfake.New(nil)
			st := tc.st
			if st.Pending != nil && len(st.Pending) == 0 {
				st.Pending = nil
			}
			fake.Add(st)
			if tc.setup != nil {
				tc.setup(fake)
			}
			ios, out, errOut := streams(tc.tty)
			opts := tc.opts
			opts.IO, opts.Incidents, opts.Identity = ios, client(fake), as("bob")
			if opts.Verdict == "" {
				opts.Verdict = workflows.VerdictApprove
			}
			if opts.Format == "" {
				opts.Format = cmdutil.FormatTable
			}
			err := decideRun(context.Background(), &opts)
			checkErr(t, err, tc.wantErr, false)
			checkOutput(t, "stdout", out.String(), tc.wantStdout, tc.noStdout)
			noStderr(t, errOut)
			if tc.wantErr != "" && out.Len() != 0 {
				t.Errorf("a failed decision printed %q", out)
			}
			if tc.check != nil {
				tc.check(t, fake, out.String())
			}
		})
	}
}

func TestNewCmdDecide(t *testing.T) {
	for _, tc := range []struct {
		name    string
		verb    string
		args    []string
		wantErr string
		want    DecideOptions
	}{
		{name: "approve", verb: "approve", args: []string{shortID, "--step", "failback", "--digest", "aaaaaaaa", "-m", "ok", "-o", "json"},
			want: DecideOptions{Ref: shortID, Verdict: workflows.VerdictApprove, Step: "failback", Digest: "aaaaaaaa", Reason: "ok", Format: "json"}},
		{name: "reject", verb: "reject", args: []string{shortID, "--reason", "no"}, want: DecideOptions{Ref: shortID, Verdict: workflows.VerdictReject, Reason: "no", Format: "table"}},
		{name: "reject needs a reason", verb: "reject", args: []string{shortID}, wantErr: "--reason"},
		{name: "bad format", verb: "approve", args: []string{shortID, "-o", "xml"}, wantErr: "unknown output format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, _ := streams(false)
			var got *DecideOptions
			cmd := NewCmdDecide(&cmdutil.Factory{IO: ios}, tc.verb, func(_ context.Context, o *DecideOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			cmd.SetOut(ios.Out)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			if tc.wantErr != "" {
				checkErr(t, err, tc.wantErr, true)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Ref != tc.want.Ref || got.Verdict != tc.want.Verdict || got.Step != tc.want.Step || got.Digest != tc.want.Digest ||
				got.Reason != tc.want.Reason || got.Format != tc.want.Format {
				t.Fatalf("options %+v, want %+v", got, tc.want)
			}
		})
	}
}

// pflag reads the first `quoted` words of a flag's help as its value's name, which once
// rendered approve's help as "--digest incident show".
func TestFlagHelpHasNoQuotedValueNames(t *testing.T) {
	ios, _, _ := streams(false)
	f := &cmdutil.Factory{IO: ios}
	root := NewCmdIncident(f)
	for _, cmd := range root.Commands() {
		cmd.Flags().VisitAll(func(fl *pflag.Flag) {
			name, _ := pflag.UnquoteUsage(fl)
			if name != "" && name != fl.Value.Type() && name != "int" && name != "strings" {
				t.Errorf("%s --%s renders as %q in help: avoid backquotes in its usage", cmd.Name(), fl.Name, "--"+fl.Name+" "+name)
			}
		})
	}
}

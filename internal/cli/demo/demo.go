// Package demo implements `quench demo`: a whole incident in about a minute on an
// in-process quench (embedded Temporal, worker, HTTP server) in a temp dir. A synthetic app
// writes LLM traffic, a fault is injected on the primary provider, the demo's detector posts
// the alert to the generic webhook, provider-outage fails the route over, captures evidence,
// verifies the fallback on the traffic after the switch and waits; the fault clears, the alert resolves, the fail back is approved in the terminal,
// and the postmortem is printed.
package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
	"github.com/quench-dev/quench/internal/devstack"
	"github.com/quench-dev/quench/internal/postmortem"
	"github.com/quench-dev/quench/workflows"
)

// Options are the inputs of `quench demo`.
type Options struct {
	IO       *cmdutil.IOStreams
	Identity func() string

	Yes     bool    // approve the fail back without asking
	Speed   float64 // >1 compresses the demo's clock and every wait of its incident
	Dir     string  // where the stack keeps its data ("" a temp dir, removed at the end)
	Timeout time.Duration
}

// NewCmdDemo is `quench demo`.
func NewCmdDemo(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Identity: f.Identity}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "See a whole incident in about a minute: fault, alert, failover, approval, postmortem",
		Long: `Run a self-contained incident on an in-process quench (embedded Temporal, worker and
HTTP server in a temp dir; nothing to install, nothing left behind):

  1. a synthetic app sends chat traffic through route chat and writes it to a JSONL log;
  2. a fault is injected on the primary provider (503 / 429);
  3. the demo's detector sees the error rate cross 30% and posts the alert to /hooks/generic
     (the incident's page in the Temporal Web UI is printed);
  4. provider-outage moves the route to the fallback at once, captures the evidence and
     verifies the fallback on the requests sent after the switch;
  5. the fault clears, the alert resolves;
  6. you approve the fail back to primary here, in the terminal (--yes to skip);
  7. the postmortem is printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !(opts.Speed > 0) || math.IsInf(opts.Speed, 0) {
				return cmdutil.FlagErrorf("--speed must be a number above 0, not %v", opts.Speed)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return Run(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "approve the fail back without asking (CI, tests)")
	fl.Float64Var(&opts.Speed, "speed", 1, "run the demo this many times faster: its phases and every wait of the incident (verify's poll, window and deadline)")
	fl.StringVar(&opts.Dir, "dir", "", "keep the demo's data (Temporal, evidence, traffic log) in this dir instead of a temp dir")
	fl.DurationVar(&opts.Timeout, "timeout", 3*time.Minute, "give up after this long")
	cmdutil.OwnTemporal(cmd, "it starts its own Temporal server in a temporary dir")
	return cmd
}

// phases of the demo, in demo seconds (divided by --speed).
const (
	healthyFor = 5 * time.Second        // healthy traffic before the fault
	faultAfter = 6 * time.Second        // the fault goes on this long after the evidence
	tick       = 250 * time.Millisecond // the app's request interval (not scaled)
)

// Run runs the demo.
func Run(ctx context.Context, opts *Options) error {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	p := &progress{w: opts.IO.Out, tty: opts.IO.TTY, start: time.Now()}
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) / opts.Speed) }

	dir := opts.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "quench-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	trafficLog := filepath.Join(dir, "traffic.jsonl")

	prov, err := startProvider()
	if err != nil {
		return err
	}
	defer prov.close()
	p.stage("Starting quench in-process: embedded Temporal, worker and HTTP server in %s", dir)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	stack, err := devstack.StartInDir(ctx, devstack.DirOptions{Dir: dir, Command: "quench demo", Logger: quiet,
		Config: fmt.Sprintf("traffic:\n  log: %s\n", trafficLog) + prov.probeConfig(), UI: true, Speed: opts.Speed})
	if err != nil {
		return fmt.Errorf("start the demo's quench: %w", err)
	}
	defer stack.Stop()
	p.line("quench is up at %s; route %s → %s", stack.HTTPURL, demoRoute, primary)
	p.line("provider %s answers at %s; quench probes it there before the fail back (probes.%s)", primary, prov.url, primary)

	det := newDetector()
	a, err := newApp(trafficLog, stack.HTTPURL, det)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.backfill(time.Now().UTC()); err != nil {
		return err
	}
	appCtx, stopApp := context.WithCancel(ctx)
	defer stopApp()
	go a.run(appCtx, tick) // the request rate stays real: --speed shortens the phases
	p.stage("The demo app sends chat traffic through route %s (log: %s)", demoRoute, trafficLog)

	select {
	case <-time.After(scale(healthyFor)):
	case <-ctx.Done():
		return ctx.Err()
	}
	p.stage("Injecting a fault on provider %s: 7 in 10 requests answer 503 or 429", primary)
	a.setFault(true)
	prov.faulty.Store(true)

	var id string
	select {
	case <-det.changes:
	case <-ctx.Done():
		return fmt.Errorf("the detector never fired: %w", ctx.Err())
	}
	hr, err := postAlert(ctx, stack.HTTPURL, "firing", det.rate())
	if err != nil {
		return err
	}
	if len(hr.Incidents) == 0 {
		return errors.New("quench accepted the alert but started no incident: is provider-outage's trigger intact?")
	}
	id = hr.Incidents[0].IncidentID
	p.stage("Alert %s firing (primary error rate %.0f%%) posted to /hooks/generic → incident %s (%s)",
		alertName, 100*det.rate(), hr.Incidents[0].ShortID, hr.Incidents[0].Result)
	if ui := stack.Server.UIURL(); ui != "" {
		p.line("follow it in the Temporal Web UI: %s", incidentUIURL(ui, stack.Server.Namespace(), id))
	}

	in := bufio.NewReader(opts.IO.In)
	var faultCleared, resolvedPosted bool
	clearFault := time.After(time.Hour) // armed once the evidence is in
	resolved := make(chan error, 1)
	events := make(chan workflows.Event, 64)
	final := make(chan watchResult, 1)
	go func() {
		st, err := stack.Incidents.Watch(ctx, id, func(e workflows.Event, _ workflows.Status) { events <- e })
		final <- watchResult{st, err}
	}()
	for {
		select {
		case e := <-events:
			p.event(e)
			switch {
			case e.Kind == workflows.EventStepDone && e.StepID == "failover":
				p.line("route %s now → %s (the app follows it at once)", demoRoute, routeNow(ctx, a))
				p.line("provider-outage captures the evidence now, then verifies the fallback on the requests sent after the switch")
			case e.Kind == workflows.EventVerify && e.StepID == "failover":
				// The primary stays broken until the verify has judged the fallback, so the
				// fail back is never proposed while the switch is still being checked.
				clearFault = time.After(scale(faultAfter))
			case e.Kind == workflows.EventApprovalAsked && e.StepID == "failback":
				if err := decide(ctx, opts, stack, id, in, p); err != nil {
					return err
				}
			}
		case <-clearFault:
			clearFault = nil
			faultCleared = true
			a.setFault(false)
			prov.faulty.Store(false)
			p.stage("The provider fault is cleared: %s answers normally again", primary)
		case <-det.changes:
			if !faultCleared || resolvedPosted {
				continue
			}
			resolvedPosted = true
			go func() {
				_, err := postAlert(ctx, stack.HTTPURL, "resolved", det.rate())
				resolved <- err
			}()
			p.stage("The primary's error rate is back under 10%%: alert resolved, posted to /hooks/generic")
		case err := <-resolved:
			if err != nil {
				return err
			}
		case r := <-final:
			for len(events) > 0 {
				p.event(<-events)
			}
			if r.err != nil {
				return fmt.Errorf("watching incident %s: %w", id, r.err)
			}
			stopApp()
			return finish(ctx, opts, stack, r.st, a, p)
		case <-ctx.Done():
			return fmt.Errorf("the demo did not finish within %s: %w", opts.Timeout, ctx.Err())
		}
	}
}

type watchResult struct {
	st  workflows.Status
	err error
}

// decide asks the terminal (or --yes) whether to fail back, and sends the decision.
func decide(ctx context.Context, opts *Options, stack *devstack.Stack, id string, in *bufio.Reader, p *progress) error {
	if st, err := stack.Incidents.Status(ctx, id); err == nil {
		for _, s := range st.Steps {
			if s.ID == "failback" && s.Health != nil {
				p.line("measured before asking: %s", s.Health.Text)
			}
		}
	}
	question := fmt.Sprintf("Approve fail back of route %s to %s? [y/N] ", demoRoute, primary)
	approve := opts.Yes
	if opts.Yes {
		p.line("%sy (--yes)", question)
	} else {
		fmt.Fprint(opts.IO.Out, question)
		answer, _ := in.ReadString('\n') // EOF without an answer is a no
		a := strings.ToLower(strings.TrimSpace(answer))
		approve = a == "y" || a == "yes"
	}
	d := workflows.Decision{StepID: "failback", Approver: opts.Identity(), Via: "cli", Verdict: workflows.VerdictApprove,
		Reason: "primary healthy again (quench demo)"}
	if !approve {
		d.Verdict, d.Reason = workflows.VerdictReject, "declined in the demo terminal: the route stays on the fallback"
	}
	res, err := stack.Incidents.Decide(ctx, id, d)
	if err != nil {
		return err
	}
	p.line("fail back %s by %s", res.Outcome, d.Approver)
	return nil
}

func finish(ctx context.Context, opts *Options, stack *devstack.Stack, st workflows.Status, a *app, p *progress) error {
	p.stage("Incident %s closed: %s; route %s → %s", st.ShortID, st.State, demoRoute, routeNow(ctx, a))
	rep, err := postmortem.Load(ctx, stack.Incidents, st.IncidentID, stack.Adapters.Evidence, "")
	if err != nil {
		return err
	}
	p.stage("Postmortem (quench incident postmortem %s)", st.ShortID)
	fmt.Fprintln(opts.IO.Out)
	if err := postmortem.WriteMarkdown(opts.IO.Out, rep); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "\nThe demo took %s. Next: `quench dev`, then `quench incident start provider-outage`.\n", time.Since(p.start).Round(time.Second))
	return nil
}

// incidentUIURL is the incident's page in the Temporal Web UI.
func incidentUIURL(ui, namespace, id string) string {
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s", strings.TrimRight(ui, "/"), url.PathEscape(namespace), url.PathEscape(id))
}

func routeNow(ctx context.Context, a *app) string {
	prov, err := a.currentProvider(ctx)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return prov
}

// progress prints the demo's lines with the time since it started; stages stand out on a
// terminal.
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time
}

func (p *progress) prefix() string {
	return fmt.Sprintf("[%5.1fs] ", time.Since(p.start).Seconds())
}

func (p *progress) stage(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.tty {
		msg = "\033[1m" + msg + "\033[0m"
	}
	fmt.Fprintln(p.w, p.prefix()+"▶ "+msg)
}

func (p *progress) line(format string, args ...any) {
	fmt.Fprintln(p.w, p.prefix()+"  "+fmt.Sprintf(format, args...))
}

func (p *progress) event(e workflows.Event) {
	step := ""
	if e.StepID != "" {
		step = " [" + e.StepID + "]"
	}
	p.line("incident: %s%s %s", e.Kind, step, e.Text)
}

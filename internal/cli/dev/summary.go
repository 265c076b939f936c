package dev

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/devstack"
)

// AddressFile is where `quench dev` writes the addresses it listens on, in its data dir.
const AddressFile = "quench-dev.json"

// summary is what `quench dev` prints once it is ready.
type summary struct {
	Ready     time.Duration
	Addresses devstack.Addresses
	Web       *app.HTTP
	DataDir   string
	Runbooks  []string
	// Choices are the adapters app.Resolve chose, in its words: the summary never
	// describes the config by itself, so it cannot disagree with what runs.
	Choices []app.Choice
	// CLI says who the CLI acts as and where its credential is ("" for none).
	CLI string
	// Sample says what of the sample is in use ("" for none).
	Sample string
	// Page is the incident page; PageLogin its one-time sign-in link ("" off loopback).
	Page, PageLogin string

	// UIWriteActions: the Web UI may change workflows (--ui-write-actions).
	UIWriteActions bool
}

func summaryOf(s *devstack.Stack, dataDir string, ready time.Duration) summary {
	sum := summary{Ready: ready, Addresses: s.Addresses(), UIWriteActions: s.Server.UIWriteActions(), Web: s.Web, DataDir: dataDir, Choices: s.Adapters.Choices}
	for _, spec := range s.Runbooks.List() {
		sum.Runbooks = append(sum.Runbooks, spec.Name)
	}
	return sum
}

func writeSummary(out io.Writer, s summary) {
	fmt.Fprintf(out, "quench dev is ready in %s\n", s.Ready.Round(time.Millisecond))
	fmt.Fprintf(out, "  Temporal:   %s (namespace %s)\n", s.Addresses.Temporal, s.Addresses.Namespace)
	if s.Addresses.UI != "" {
		fmt.Fprintf(out, "  Web UI:     %s\n", s.Addresses.UI)
		if s.UIWriteActions {
			fmt.Fprintln(out, "              write actions ON (--ui-write-actions): terminate, cancel, signal, update, reset, start and batch bypass quench's approvals and undo")
		} else {
			fmt.Fprintln(out, "              read-only: terminate, cancel, signal, update, reset, start and batch are off (--ui-write-actions turns them on)")
		}
	}
	fmt.Fprintf(out, "  HTTP:       http://%s  (API /api/v1, routes /v1/routes, /healthz, /readyz, /metrics)\n", s.Addresses.HTTP)
	printHooks(out, s.Web)
	if s.Page != "" {
		fmt.Fprintf(out, "  Page:       %s  (incidents, approvals, evidence)\n", s.Page)
		if s.PageLogin != "" {
			fmt.Fprintf(out, "              sign in once: %s\n", s.PageLogin)
		}
	}
	fmt.Fprintf(out, "  Data:       %s\n", s.DataDir)
	if s.CLI != "" {
		fmt.Fprintf(out, "  CLI:        %s\n", s.CLI)
	}
	fmt.Fprintf(out, "  Runbooks:   %d (%s)\n", len(s.Runbooks), strings.Join(s.Runbooks, ", "))
	for _, c := range s.Choices {
		fmt.Fprintf(out, "  %-11s %s\n", c.Port+":", c.Adapter)
	}
	if s.Sample != "" {
		fmt.Fprintf(out, "  Sample:     %s\n", s.Sample)
	}
	fmt.Fprintln(out, "\nTry: quench incident start provider-outage --watch")
	fmt.Fprintln(out, "Pid:", strconv.Itoa(os.Getpid()))
}

// printHooks tells where alerts go, and which hooks take them without credentials.
func printHooks(out io.Writer, web *app.HTTP) {
	if len(web.HookSources) == 0 {
		fmt.Fprintln(out, "  Hooks:      all disabled (hooks.<source>.disabled)")
		return
	}
	fmt.Fprintf(out, "  Hooks:      POST /hooks/{%s}\n", strings.Join(web.HookSources, ","))
	if len(web.UnauthenticatedHooks) > 0 {
		fmt.Fprintf(out, "              unauthenticated: %s (set hooks.<source>.token or hmac_secret to require credentials)\n",
			strings.Join(web.UnauthenticatedHooks, ", "))
	}
}

// writeAddresses writes the addresses as JSON, through a rename so a reader never sees
// half a file.
func writeAddresses(path string, a devstack.Addresses) error {
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".quench-dev-*.json")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

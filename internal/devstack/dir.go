package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/api"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/datadir"
	"github.com/quench-dev/quench/internal/devserver"
)

// DirOptions configure a throwaway stack kept in one directory (benchmarks, the demo,
// tests): loopback ports picked free, no Web UI, anyone may approve.
type DirOptions struct {
	// Dir holds the data dir, the config and the runbooks; it must exist.
	Dir string
	// Runbooks are runbook files (file name -> YAML) added to the built-in ones.
	Runbooks map[string]string
	// Config is extra quench.yaml (top-level keys such as traffic: or gateway:), appended
	// to the stack's own data_dir, runbooks_dir and http settings.
	Config string
	Logger *slog.Logger
	// Command names the stack in another process's refusal to share the data dir
	// (default "quench (throwaway stack)").
	Command string
	// Dev is a local CLI credential the API accepts (benchmarks that start through the API).
	Dev *api.DevCredential
	// WorkflowCacheSize and MetricsHandler are Options'.
	WorkflowCacheSize int
	MetricsHandler    client.MetricsHandler
	// UI serves the Temporal Web UI on a free loopback port (quench demo links its incident).
	UI bool
	// Speed is Options.Speed.
	Speed float64
}

// StartInDir writes a config and the runbooks into opts.Dir and starts a stack on them.
// The data dir is Dir/data; its lock is taken first, so a second stack on the same Dir
// (`quench demo --dir` twice) rewrites neither the config nor the runbooks of the first.
func StartInDir(ctx context.Context, opts DirOptions) (*Stack, error) {
	command := opts.Command
	if command == "" {
		command = "quench (throwaway stack)"
	}
	lock, err := datadir.Acquire(filepath.Join(opts.Dir, "data"), command)
	if err != nil {
		return nil, err
	}
	s, err := startInDir(ctx, opts, lock)
	if err != nil {
		lock.Release()
		return nil, err
	}
	s.ownsLock = true
	return s, nil
}

func startInDir(ctx context.Context, opts DirOptions, lock *datadir.Lock) (*Stack, error) {
	runbooksDir := filepath.Join(opts.Dir, "runbooks")
	if err := os.MkdirAll(runbooksDir, 0o755); err != nil {
		return nil, err
	}
	for name, body := range opts.Runbooks {
		if err := os.WriteFile(filepath.Join(runbooksDir, name), []byte(body), 0o644); err != nil {
			return nil, err
		}
	}
	cfgPath := filepath.Join(opts.Dir, "quench.yaml")
	cfgYAML := fmt.Sprintf("data_dir: %s\nrunbooks_dir: %s\nhttp:\n  listen: 127.0.0.1:0\n", filepath.Join(opts.Dir, "data"), runbooksDir) + opts.Config
	if err := os.WriteFile(cfgPath, []byte(cfgYAML), 0o600); err != nil {
		return nil, err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	uiPort := devserver.NoUI
	if opts.UI {
		uiPort = 0
	}
	return Start(ctx, Options{Config: cfg, Lock: lock, FrontendPort: 0, UIPort: uiPort, OpenApprovals: true, Dev: opts.Dev, Logger: opts.Logger,
		WorkflowCacheSize: opts.WorkflowCacheSize, MetricsHandler: opts.MetricsHandler, Speed: opts.Speed})
}

package serve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/temporalsetup"
)

// prepareNamespace runs before the worker polls. With --setup it does what `quench setup`
// does and logs each action; without, it only looks, so a fresh cluster fails here with
// what to run instead of the SDK's "Namespace default is not found".
func prepareNamespace(ctx context.Context, c client.Client, cfg *config.Config, address, namespace string, setup bool, logger *slog.Logger) error {
	opts := temporalsetup.Options{Namespace: namespace, Address: address, DryRun: !setup}
	if setup {
		retention, err := time.ParseDuration(cfg.Temporal.Retention)
		if err != nil || retention <= 0 {
			return fmt.Errorf("temporal.retention %q is not a positive duration (e.g. 720h)", cfg.Temporal.Retention)
		}
		opts.Retention = retention
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rep, err := temporalsetup.Ensure(ctx, c, opts)
	if setup {
		for _, a := range rep.Actions {
			logger.Info("setup: "+a.String(), "namespace", namespace)
		}
		if err != nil {
			return fmt.Errorf("quench worker --setup: %w", err)
		}
		return nil
	}
	if errors.Is(err, temporalsetup.ErrNamespaceNotFound) {
		return fmt.Errorf("namespace %q is not registered on Temporal at %s: run `quench setup` once with the same --temporal-address and --namespace (it registers the namespace and quench's search attributes), or start the worker with --setup", namespace, address)
	}
	if err != nil {
		// Only a look that failed (a permission to list, say): the worker can still run.
		logger.Warn("could not check quench's namespace and search attributes; if incidents fail to start, run `quench setup`", "namespace", namespace, "err", err)
		return nil
	}
	var missing []string
	for _, a := range rep.Actions {
		if a.Result == temporalsetup.Missing {
			missing = append(missing, a.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("namespace %q lacks quench's search attributes %s: run `quench setup` once with the same --temporal-address and --namespace, or start the worker with --setup", namespace, strings.Join(missing, ", "))
	}
	return nil
}

// serverDataDirError says why quench server touches its data dir: the embedded routing
// table it serves at /v1/routes lives there (the only thing the server reads from it).
// Other errors, the data dir held by quench dev among them, pass unchanged.
func serverDataDirError(dir string, err error) error {
	var pathErr *fs.PathError
	if err == nil || !errors.As(err, &pathErr) ||
		!(within(dir, pathErr.Path) || within(pathErr.Path, dir)) { // the dir, a file in it or a parent being made
		return err
	}
	return fmt.Errorf("quench server needs a writable data dir (%s) for the embedded routing table it serves at /v1/routes: %w", dir, err)
}

// warnIfNotReady says at start what /readyz will say: the server starts anyway (liveness
// holds, and Temporal or the namespace may come later), but the operator reads why it is
// not taking traffic in the first lines of the log.
func warnIfNotReady(ctx context.Context, c client.Client, namespace string, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, app.ReadyTimeout)
	defer cancel()
	if err := app.TemporalReadyCheck(c, namespace).Check(ctx); err != nil {
		logger.Warn("not ready: /readyz answers 503 until this is fixed", "reason", err.Error())
	}
}

// within: path is dir or under it. A file error elsewhere (a prompts repo, say) is not
// the data dir's.
func within(dir, path string) bool {
	d, err1 := filepath.Abs(dir)
	p, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

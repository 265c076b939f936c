package bench

import (
	"log/slog"
	"os"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
)

// benchLogger is the in-process quench's logger, on stderr so the report owns stdout.
func benchLogger(io *cmdutil.IOStreams, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, cmdutil.FlagErrorf("--log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(io.ErrOut, &slog.HandlerOptions{Level: l})), nil
}

// workDir is the directory an in-process quench runs in: dataDir when given (created,
// kept), else a temporary one that cleanup removes.
func workDir(dataDir string) (dir string, cleanup func(), err error) {
	if dataDir != "" {
		return dataDir, func() {}, os.MkdirAll(dataDir, 0o755)
	}
	tmp, err := os.MkdirTemp("", "quench-bench-")
	if err != nil {
		return "", nil, err
	}
	return tmp, func() { _ = os.RemoveAll(tmp) }, nil
}

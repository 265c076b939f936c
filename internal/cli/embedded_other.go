//go:build !unix

package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"

	"github.com/quench-dev/quench/internal/cli/cmdutil"
)

// execEmbedded runs quench-embedded as a child with this process's streams and exits with
// its code. Ctrl-C reaches the child from the console: this process waits for it instead
// of dying first.
func execEmbedded(path string, argv []string) error {
	signal.Ignore(os.Interrupt)
	cmd := exec.Command(path, argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exitErr):
		return &cmdutil.ExitError{Code: exitErr.ExitCode()}
	default:
		return fmt.Errorf("run %s: %w", path, err)
	}
}

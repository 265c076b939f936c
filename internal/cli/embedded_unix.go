//go:build unix

package cli

import (
	"fmt"
	"os"
	"syscall"
)

// execEmbedded replaces this process with quench-embedded: same pid, terminal, signals and
// exit code, so scripts and supervisors see one process.
func execEmbedded(path string, argv []string) error {
	err := syscall.Exec(path, argv, os.Environ())
	return fmt.Errorf("run %s: %w", path, err)
}

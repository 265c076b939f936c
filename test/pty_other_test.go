//go:build !linux

package e2e

import (
	"errors"
	"os"
)

// openPTY: the README test reads the CLI's terminal output through a Linux pseudo-terminal.
func openPTY() (primary, replica *os.File, err error) {
	return nil, nil, errors.New("no pseudo-terminal support here: the README test runs on Linux")
}

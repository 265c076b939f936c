//go:build unix

package apiclient

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// ownedPrivately refuses path unless the current user owns it and no permission bit in
// forbidden is set.
func ownedPrivately(path string, fi fs.FileInfo, forbidden fs.FileMode) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("%s belongs to another user (uid %d): refusing it for the CLI credential; use a data dir of your own", path, st.Uid)
	}
	if fi.Mode().Perm()&forbidden != 0 {
		return fmt.Errorf("%s has mode %04o: other users could read or replace the CLI credential; run chmod go-rwx on it or restart quench dev, which makes it private", path, fi.Mode().Perm())
	}
	return nil
}

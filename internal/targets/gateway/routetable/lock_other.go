//go:build !unix

package routetable

// lockFile is a no-op where flock is not available; the in-process mutex still holds.
func lockFile(string) (func(), error) { return func() {}, nil }

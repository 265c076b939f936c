//go:build !unix

package filestate

// Lock is a no-op where flock is not available; the in-process mutex still holds.
func Lock(string) (func(), error) { return func() {}, nil }

//go:build !linux

package netlab

// doIn needs Linux network namespaces.
func doIn(ns string, fn func() error) error {
	return ErrNeedsLinux
}

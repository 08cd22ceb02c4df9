//go:build !linux

package netlab

// CleanupStale has nothing to remove where there are no network namespaces.
func CleanupStale() error { return nil }

// killNamespace needs Linux network namespaces.
func killNamespace(ns string) error { return ErrNeedsLinux }

// isStale: there are no namespaces to be stale.
func isStale(name string) bool { return false }

// inNamespace: no process is in a network namespace.
func inNamespace(pid int, ns string) bool { return false }

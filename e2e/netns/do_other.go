//go:build !linux

package netns

import "errors"

// doIn needs Linux network namespaces.
func doIn(ns string, fn func() error) error {
	return errors.New("network namespaces need Linux")
}

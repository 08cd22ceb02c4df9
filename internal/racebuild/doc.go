// Package racebuild says whether the binary was built with the race
// detector, for tests whose measurements its instrumentation changes
// (allocation counts, sync.Pool reuse, the time of large cases). It is the
// one owner of that build tag's constant.
package racebuild

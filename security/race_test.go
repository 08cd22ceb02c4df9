//go:build race

package security

// raceEnabled reports a -race build, whose instrumentation makes every
// goroutine several times slower: the long attacks send less.
const raceEnabled = true

//go:build !race

package session

// raceEnabled reports a -race build, whose instrumentation allocates (and
// whose sync.Pool drops items on purpose).
const raceEnabled = false

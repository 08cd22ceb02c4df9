//go:build !race

package mmsg

// raceEnabled reports a -race build, whose instrumentation allocates.
const raceEnabled = false

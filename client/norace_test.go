//go:build !race

package client

// raceEnabled reports a -race build, whose instrumentation allocates.
const raceEnabled = false

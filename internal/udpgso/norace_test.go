//go:build !race

package udpgso

// raceEnabled reports a -race build, whose instrumentation allocates.
const raceEnabled = false

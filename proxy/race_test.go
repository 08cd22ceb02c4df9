//go:build race

package proxy_test

// raceEnabled reports a -race build: its instrumentation makes the largest
// scale cases (10,000 handshakes) take minutes, so they run without it.
const raceEnabled = true

// Package testwait is how tests wait: they poll a condition until it holds,
// with a deadline, in place of fixed sleeps. A test that must show that
// something does not happen waits for a later event that it can see (a
// marker sent after the thing that must be dropped) and then checks.
package testwait

import (
	"testing"
	"time"
)

// Timeout bounds every wait of a test for one thing: room enough for a busy
// machine and the race detector.
const Timeout = 10 * time.Second

// maxDelay is the longest pause between two polls.
const maxDelay = 20 * time.Millisecond

// For polls cond until it holds, failing t after Timeout; what says what was
// awaited, for the failure message.
func For(t testing.TB, what string, cond func() bool) {
	t.Helper()
	Within(t, Timeout, what, cond)
}

// Within polls cond until it holds, failing t after d.
func Within(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(d, cond) {
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
}

// Poll polls cond until it holds or d has passed, and reports whether it
// held. The pauses between polls grow from a millisecond to maxDelay.
func Poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for delay := time.Millisecond; !cond(); delay = min(2*delay, maxDelay) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(delay)
	}
	return true
}

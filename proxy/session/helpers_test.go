package session

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
)

// t0 is the tests' clock: handshakes are stamped relative to it.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// testIdentity returns the identity whose seed is 32 copies of b.
func testIdentity(tb testing.TB, b byte) *identity.Identity {
	tb.Helper()
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = b
	}
	x, err := identity.FromSeed(seed)
	if err != nil {
		tb.Fatal(err)
	}
	return x
}

// testRand returns a reproducible source of ephemeral keys.
func testRand(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

// testPrivID returns a private id made of b.
func testPrivID(b byte) id.ID {
	var x id.ID
	for i := range x {
		x[i] = b
	}
	return x.WithPublic(false)
}

// acceptWith returns an AcceptFunc that accepts everyone with privID and
// flags and counts its calls.
func acceptWith(privID id.ID, flags Flags, calls *int) AcceptFunc {
	return func(Hello) (Reply, error) {
		if calls != nil {
			*calls++
		}
		return Reply{PrivID: privID, Flags: flags}, nil
	}
}

// pair is the result of one complete handshake.
type pair struct {
	a, b *identity.Identity
	ia   *Initiator
	rb   *Responder
	acc  Accepted
	sa   *Session // initiator's
	sb   *Session // responder's
}

// handshake runs a complete, reproducible handshake from a to b.
func handshake(tb testing.TB, a, b *identity.Identity, aFlags, bFlags Flags) pair {
	tb.Helper()
	ia, err := NewInitiator(a, b.Public(), testPrivID(0xa1), Options{Flags: aFlags, Rand: testRand(1)}, t0)
	if err != nil {
		tb.Fatal(err)
	}
	rb, err := NewResponder(b, Options{Rand: testRand(2)})
	if err != nil {
		tb.Fatal(err)
	}
	acc, err := rb.Handle(ia.Message1(), acceptWith(testPrivID(0xb1), bFlags, nil), t0.Add(time.Millisecond))
	if err != nil {
		tb.Fatal(err)
	}
	sa, err := ia.Finish(acc.Message2)
	if err != nil {
		tb.Fatal(err)
	}
	return pair{a: a, b: b, ia: ia, rb: rb, acc: acc, sa: sa, sb: acc.Session}
}

// mustSeal seals p or fails the test.
func mustSeal(tb testing.TB, s *Session, p []byte) []byte {
	tb.Helper()
	f, err := s.Seal(nil, p)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// isSentinel reports whether err is or wraps one of the package's sentinels.
func isSentinel(err error) bool {
	for _, s := range []error{ErrLength, ErrType, ErrMode, ErrAuth, ErrReplay, ErrTooOld, ErrExhausted,
		ErrVersion, ErrPayload, ErrKey, ErrKeyMismatch, ErrStale, ErrSimultaneous, ErrFinished,
		ErrAbandoned, ErrResetMismatch} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// resetWindow empties s's replay window, for fuzzing and benchmarks that
// open the same frames again.
func resetWindow(s *Session) {
	s.mu.Lock()
	s.window = replayWindow{}
	s.mu.Unlock()
}

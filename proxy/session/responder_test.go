package session

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/i3net/i3net/identity"
)

// An old message 1 replayed to the responder is refused once a newer one
// from the same key was accepted, and a newer one replaces the session.
func TestStaleMessage1(t *testing.T) {
	a, b := testIdentity(t, 1), testIdentity(t, 2)
	rb, _ := NewResponder(b, Options{})
	old, _ := NewInitiator(a, b.Public(), testPrivID(0xa1), Options{}, t0)
	accOld, err := rb.Handle(old.Message1(), acceptWith(testPrivID(0xb1), 0, nil), t0)
	if err != nil {
		t.Fatal(err)
	}

	// a restarts: new keys, new private id, a later clock.
	fresh, _ := NewInitiator(a, b.Public(), testPrivID(0xa2), Options{}, t0.Add(time.Minute))
	accNew, err := rb.Handle(fresh.Message1(), acceptWith(testPrivID(0xb2), 0, nil), t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if accNew.Duplicate || accNew.Replaces != accOld.Session || accNew.Session == accOld.Session {
		t.Fatalf("restart: duplicate=%v, replaces the old session=%v", accNew.Duplicate, accNew.Replaces == accOld.Session)
	}
	if accNew.Session.PeerPrivateID() != testPrivID(0xa2) || rb.Len() != 1 {
		t.Fatal("new session does not use the new private id, or the responder keeps two")
	}
	sa, err := fresh.Finish(accNew.Message2)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := accNew.Session.Open(nil, mustSeal(t, sa, []byte("again"))); err != nil || string(got) != "again" {
		t.Fatalf("open on the new session: %q %v", got, err)
	}

	tests := []struct {
		name string
		msg1 []byte
	}{
		{"older message 1 replayed", old.Message1()},
		{"same timestamp, new ephemeral", mustInitiator(t, a, b, t0.Add(time.Minute)).Message1()},
		{"older timestamp, new ephemeral", mustInitiator(t, a, b, t0.Add(time.Second)).Message1()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rb.Handle(tt.msg1, acceptWith(testPrivID(0xb3), 0, nil), t0.Add(time.Hour))
			if !errors.Is(err, ErrStale) {
				t.Fatalf("got %v, want ErrStale", err)
			}
		})
	}
	// The newest message 1, resent, is still answered (not a replay).
	dup, err := rb.Handle(fresh.Message1(), acceptWith(testPrivID(0xb3), 0, nil), t0.Add(time.Hour))
	if err != nil || !dup.Duplicate || dup.Session != accNew.Session {
		t.Fatalf("resend of the newest message 1: %v", err)
	}

	// After Forget the old message 1 is accepted again: the documented
	// price of forgetting.
	rb.Forget(a.Public())
	if rb.Len() != 0 {
		t.Fatal("Forget kept state")
	}
	if _, err := rb.Handle(old.Message1(), acceptWith(testPrivID(0xb4), 0, nil), t0.Add(time.Hour)); err != nil {
		t.Fatalf("after Forget: %v", err)
	}
}

func mustInitiator(t *testing.T, a, b *identity.Identity, now time.Time) *Initiator {
	t.Helper()
	i, err := NewInitiator(a, b.Public(), testPrivID(0xa3), Options{}, now)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func TestMaxHandshakeAge(t *testing.T) {
	a, b := testIdentity(t, 1), testIdentity(t, 2)
	tests := []struct {
		name    string
		stamped time.Duration // relative to the responder's clock
		ok      bool
	}{
		{"on time", 0, true},
		{"a little late", -9 * time.Minute, true},
		{"too old", -11 * time.Minute, false},
		{"a little ahead", 9 * time.Minute, true},
		{"too far ahead", 11 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb, _ := NewResponder(b, Options{MaxHandshakeAge: DefaultMaxHandshakeAge})
			ia := mustInitiator(t, a, b, t0.Add(tt.stamped))
			_, err := rb.Handle(ia.Message1(), acceptWith(testPrivID(0xb1), 0, nil), t0)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrStale)) {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// Both sides initiate at once; whichever message 1 arrives first, one
// session results, with the larger key as initiator.
func TestSimultaneousOpen(t *testing.T) {
	x, y := testIdentity(t, 1), testIdentity(t, 2)
	big, small := x, y
	if !KeepsInitiatorRole(x.Public(), y.Public()) {
		big, small = y, x
	}
	if KeepsInitiatorRole(small.Public(), big.Public()) || KeepsInitiatorRole(big.Public(), big.Public()) {
		t.Fatal("tie-break is not antisymmetric")
	}
	tests := []struct {
		name       string
		bigFirst   bool // the big side's message 1 is handled first
		resendBigs bool // the big side's first message 1 is lost and resent
	}{
		{"big side's message 1 first", true, false},
		{"small side's message 1 first", false, false},
		{"big side's message 1 lost", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rBig, _ := NewResponder(big, Options{})
			rSmall, _ := NewResponder(small, Options{})
			iBig, err := rBig.Initiate(small.Public(), testPrivID(0xa1), 0, t0)
			if err != nil {
				t.Fatal(err)
			}
			iSmall, err := rSmall.Initiate(big.Public(), testPrivID(0xb1), 0, t0)
			if err != nil {
				t.Fatal(err)
			}
			atSmall := func() Accepted {
				acc, err := rSmall.Handle(iBig.Message1(), acceptWith(testPrivID(0xb2), 0, nil), t0)
				if err != nil {
					t.Fatalf("small side refused the big side's message 1: %v", err)
				}
				return acc
			}
			atBig := func() {
				_, err := rBig.Handle(iSmall.Message1(), acceptWith(testPrivID(0xa2), 0, nil), t0)
				if !errors.Is(err, ErrSimultaneous) {
					t.Fatalf("big side answered the small side's message 1: %v", err)
				}
			}
			var acc Accepted
			if tt.bigFirst {
				acc = atSmall()
				atBig()
			} else {
				atBig()
				if tt.resendBigs {
					atBig() // the small side resends too: still ignored
				}
				acc = atSmall()
			}
			if acc.Abandoned != iSmall {
				t.Fatalf("small side's initiator not abandoned: %v", acc.Abandoned)
			}
			if _, err := iSmall.Finish(acc.Message2); !errors.Is(err, ErrAbandoned) {
				t.Fatalf("abandoned initiator finished: %v", err)
			}
			sBig, err := iBig.Finish(acc.Message2)
			if err != nil {
				t.Fatal(err)
			}
			if rBig.Len() != 0 || rSmall.Len() != 1 || len(rBig.pending) != 0 || len(rSmall.pending) != 0 {
				t.Fatalf("state: big keeps %d peers %d pending, small %d peers %d pending",
					rBig.Len(), len(rBig.pending), rSmall.Len(), len(rSmall.pending))
			}
			// One session, both ways.
			for _, d := range [][2]*Session{{sBig, acc.Session}, {acc.Session, sBig}} {
				if got, err := d[1].Open(nil, mustSeal(t, d[0], []byte("one"))); err != nil || string(got) != "one" {
					t.Fatalf("open: %q %v", got, err)
				}
			}
			// With its initiator finished, the big side answers a later
			// message 1 from the small side (a restart) normally.
			later, _ := rSmall.Initiate(big.Public(), testPrivID(0xb3), 0, t0.Add(time.Second))
			if _, err := rBig.Handle(later.Message1(), acceptWith(testPrivID(0xa3), 0, nil), t0.Add(time.Second)); err != nil {
				t.Fatalf("after the simultaneous open: %v", err)
			}
		})
	}
}

// Message 2 is answered only to message 1s: other frame types are refused
// before any cryptography.
func TestHandleWrongFrame(t *testing.T) {
	b := testIdentity(t, 2)
	rb, _ := NewResponder(b, Options{})
	p := handshake(t, testIdentity(t, 1), b, 0, 0)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrLength},
		{"message 2", p.acc.Message2, ErrType},
		{"data", mustSeal(t, p.sa, []byte("x")), ErrType},
		{"short message 1", p.ia.Message1()[:Handshake1Len-1], ErrLength},
		{"long message 1", append(bytes.Clone(p.ia.Message1()), 0), ErrLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := rb.Handle(tt.in, acceptWith(testPrivID(0xb1), 0, nil), t0); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// Every byte of message 1 is covered: flipping any bit is refused.
func TestMessage1Altered(t *testing.T) {
	a, b := testIdentity(t, 1), testIdentity(t, 2)
	ia, _ := NewInitiator(a, b.Public(), testPrivID(0xa1), Options{}, t0)
	for i := range Handshake1Len {
		m := bytes.Clone(ia.Message1())
		m[i] ^= 0x04
		rb, _ := NewResponder(b, Options{})
		if _, err := rb.Handle(m, acceptWith(testPrivID(0xb1), 0, nil), t0); err == nil || !isSentinel(err) {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
}

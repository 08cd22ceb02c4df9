package session

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/flynn/noise"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
)

func TestHandshakeBothWays(t *testing.T) {
	alice, bob := testIdentity(t, 1), testIdentity(t, 2)
	tests := []struct {
		name     string
		from, to *identity.Identity
	}{
		{"alice to bob", alice, bob},
		{"bob to alice", bob, alice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := handshake(t, tt.from, tt.to, FlagShortcut, FlagShortcut|FlagPreserveHeaders)
			if got := len(p.ia.Message1()); got != Handshake1Len {
				t.Errorf("message 1 is %d bytes, want %d", got, Handshake1Len)
			}
			if got := len(p.acc.Message2); got != Handshake2Len {
				t.Errorf("message 2 is %d bytes, want %d", got, Handshake2Len)
			}
			if p.acc.Peer != tt.from.Public() || p.sb.Peer() != tt.from.Public() || p.sa.Peer() != tt.to.Public() {
				t.Errorf("peers: accepted %v, responder's session %v, initiator's %v", p.acc.Peer, p.sb.Peer(), p.sa.Peer())
			}
			if p.sa.PeerPrivateID() != testPrivID(0xb1) || p.sb.PeerPrivateID() != testPrivID(0xa1) {
				t.Errorf("private ids: initiator sends to %s, responder to %s", p.sa.PeerPrivateID().Short(), p.sb.PeerPrivateID().Short())
			}
			if p.sa.LocalPrivateID() != p.sb.PeerPrivateID() || p.sb.LocalPrivateID() != p.sa.PeerPrivateID() {
				t.Error("local and peer private ids do not cross")
			}
			if !p.sa.Initiator() || p.sb.Initiator() {
				t.Error("roles are wrong")
			}
			if !p.sa.Shortcut() || !p.sb.Shortcut() || p.sa.Plaintext() {
				t.Error("flags: want shortcut, encrypted")
			}
			if p.sa.PeerFlags()&^FlagAESGCM != FlagShortcut|FlagPreserveHeaders || p.sb.PeerFlags()&^FlagAESGCM != FlagShortcut {
				t.Errorf("peer flags %#x %#x", p.sa.PeerFlags(), p.sb.PeerFlags())
			}
			if p.acc.Duplicate || p.acc.Replaces != nil || p.acc.Abandoned != nil {
				t.Errorf("first handshake: %+v", p.acc)
			}
			for _, dir := range []struct {
				name     string
				from, to *Session
			}{{"initiator to responder", p.sa, p.sb}, {"responder to initiator", p.sb, p.sa}} {
				for i := range 3 {
					pkt := bytes.Repeat([]byte{byte(i)}, 100+i)
					got, err := dir.to.Open(nil, mustSeal(t, dir.from, pkt))
					if err != nil || !bytes.Equal(got, pkt) {
						t.Fatalf("%s, packet %d: %x, %v", dir.name, i, got, err)
					}
				}
			}
		})
	}
}

// The static key pair the handshake uses is the identity's X25519 form.
func TestStaticKeypair(t *testing.T) {
	x := testIdentity(t, 9)
	kp, err := staticKeypair(x)
	if err != nil {
		t.Fatal(err)
	}
	other := testIdentity(t, 10)
	okp, _ := staticKeypair(other)
	d1, err1 := noise.DH25519.DH(kp.Private, okp.Public)
	d2, err2 := noise.DH25519.DH(okp.Private, kp.Public)
	if err1 != nil || err2 != nil || !bytes.Equal(d1, d2) {
		t.Fatalf("X25519 forms do not agree: %x %x %v %v", d1, d2, err1, err2)
	}
}

func TestMessage1Loss(t *testing.T) {
	a, b := testIdentity(t, 1), testIdentity(t, 2)
	ia, err := NewInitiator(a, b.Public(), testPrivID(0xa1), Options{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	first := bytes.Clone(ia.Message1())
	// The first copy is lost; the timer fires and the same bytes go again.
	resent := ia.Message1()
	if !bytes.Equal(first, resent) {
		t.Fatal("a resent message 1 differs from the first")
	}
	rb, _ := NewResponder(b, Options{})
	acc, err := rb.Handle(resent, acceptWith(testPrivID(0xb1), 0, nil), t0)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := ia.Finish(acc.Message2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Session.Open(nil, mustSeal(t, sa, []byte("hello"))); err != nil {
		t.Fatal(err)
	}
}

func TestMessage2Loss(t *testing.T) {
	a, b := testIdentity(t, 1), testIdentity(t, 2)
	ia, _ := NewInitiator(a, b.Public(), testPrivID(0xa1), Options{}, t0)
	rb, _ := NewResponder(b, Options{})
	calls := 0
	accept := acceptWith(testPrivID(0xb1), 0, &calls)
	first, err := rb.Handle(ia.Message1(), accept, t0)
	if err != nil {
		t.Fatal(err)
	}
	// Message 2 is lost; the initiator resends message 1, twice.
	var again Accepted
	for range 2 {
		again, err = rb.Handle(ia.Message1(), accept, t0.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if !again.Duplicate || again.Session != first.Session || !bytes.Equal(again.Message2, first.Message2) {
			t.Fatalf("duplicate message 1: duplicate=%v same session=%v same message 2=%v",
				again.Duplicate, again.Session == first.Session, bytes.Equal(again.Message2, first.Message2))
		}
	}
	if calls != 1 || rb.Len() != 1 {
		t.Fatalf("accept called %d times, responder keeps %d peers; want 1, 1", calls, rb.Len())
	}
	sa, err := ia.Finish(again.Message2)
	if err != nil {
		t.Fatal(err)
	}
	// The first message 2 arrives late: ignored.
	if _, err := ia.Finish(first.Message2); !errors.Is(err, ErrFinished) {
		t.Fatalf("late message 2: %v, want ErrFinished", err)
	}
	// Data sealed by the responder before message 2 arrived opens.
	early := mustSeal(t, first.Session, []byte("early"))
	if got, err := sa.Open(nil, early); err != nil || string(got) != "early" {
		t.Fatalf("open: %q %v", got, err)
	}
}

// A responder with another static key cannot answer for the key the
// initiator's book holds.
func TestImpostorResponder(t *testing.T) {
	a, b, mallory := testIdentity(t, 1), testIdentity(t, 2), testIdentity(t, 3)
	ia, _ := NewInitiator(a, b.Public(), testPrivID(0xa1), Options{}, t0)

	// Mallory receives message 1 (say she holds a trigger on b's public id):
	// she cannot read it.
	rm, _ := NewResponder(mallory, Options{})
	if _, err := rm.Handle(ia.Message1(), acceptWith(testPrivID(0xc1), 0, nil), t0); !errors.Is(err, ErrAuth) {
		t.Fatalf("impostor read message 1: %v", err)
	}
	// Her best message 2 is a valid one from a handshake she did with a (a
	// initiated to her): a's initiator to b refuses it.
	im, _ := NewInitiator(a, mallory.Public(), testPrivID(0xa2), Options{}, t0)
	accM, err := rm.Handle(im.Message1(), acceptWith(testPrivID(0xc1), 0, nil), t0)
	if err != nil {
		t.Fatal(err)
	}
	// A message 2 with a low-order ephemeral key makes X25519 fail inside
	// flynn/noise, a path that does not roll its state back.
	lowOrder := make([]byte, Handshake2Len)
	lowOrder[0] = byte(TypeHandshake2)
	garbage := bytes.Repeat([]byte{0x5a}, Handshake2Len)
	garbage[0] = byte(TypeHandshake2)
	for _, m2 := range [][]byte{accM.Message2, lowOrder, garbage} {
		if s, err := ia.Finish(m2); !errors.Is(err, ErrAuth) || s != nil {
			t.Fatalf("impostor's message 2 accepted: %v", err)
		}
	}
	// The real b's answer still completes the handshake.
	rb, _ := NewResponder(b, Options{})
	acc, err := rb.Handle(ia.Message1(), acceptWith(testPrivID(0xb1), 0, nil), t0)
	if err != nil {
		t.Fatal(err)
	}
	sa, err := ia.Finish(acc.Message2)
	if err != nil {
		t.Fatalf("real message 2 after bad ones: %v", err)
	}
	if got, err := acc.Session.Open(nil, mustSeal(t, sa, []byte("x"))); err != nil || string(got) != "x" {
		t.Fatalf("open: %q %v", got, err)
	}
}

// craftMessage1 writes a message 1 whose Noise static key is static's but
// whose payload claims the Ed25519 key claimed.
func craftMessage1(t *testing.T, static *identity.Identity, claimed identity.PublicKey, remote identity.PublicKey, ts time.Time) []byte {
	t.Helper()
	kp, err := staticKeypair(static)
	if err != nil {
		t.Fatal(err)
	}
	rx, _ := remote.X25519()
	hs, err := noise.NewHandshakeState(handshakeConfig(true, kp, rx[:], testRand(7)))
	if err != nil {
		t.Fatal(err)
	}
	p := payload1{version: Version, key: claimed, privID: testPrivID(0xa1), ts: stamp(ts)}
	msg, _, _, err := hs.WriteMessage([]byte{byte(TypeHandshake1)}, p.appendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func TestInitiatorKeyMismatch(t *testing.T) {
	mallory, alice, bob := testIdentity(t, 3), testIdentity(t, 1), testIdentity(t, 2)
	rb, _ := NewResponder(bob, Options{})
	calls := 0
	// Mallory does the Noise handshake with her own key but claims alice's.
	msg := craftMessage1(t, mallory, alice.Public(), bob.Public(), t0)
	if _, err := rb.Handle(msg, acceptWith(testPrivID(0xb1), 0, &calls), t0); !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("mismatched key: %v, want ErrKeyMismatch", err)
	}
	if calls != 0 || rb.Len() != 0 {
		t.Fatalf("refused message 1 reached accept (%d) or left state (%d)", calls, rb.Len())
	}
	// The same message claiming her own key passes.
	msg = craftMessage1(t, mallory, mallory.Public(), bob.Public(), t0)
	if _, err := rb.Handle(msg, acceptWith(testPrivID(0xb1), 0, &calls), t0); err != nil {
		t.Fatal(err)
	}
}

func TestPayloadChecks(t *testing.T) {
	a, b := testIdentity(t, 1), testIdentity(t, 2)
	for _, bad := range []id.ID{{}, testPrivID(0xa1).WithPublic(true)} {
		if _, err := NewInitiator(a, b.Public(), bad, Options{}, t0); !errors.Is(err, ErrKey) {
			t.Errorf("NewInitiator with private id %s: %v, want ErrKey", bad.Short(), err)
		}
		ia, _ := NewInitiator(a, b.Public(), testPrivID(0xa1), Options{}, t0)
		rb, _ := NewResponder(b, Options{})
		if _, err := rb.Handle(ia.Message1(), acceptWith(bad, 0, nil), t0); !errors.Is(err, ErrKey) {
			t.Errorf("accept returning private id %s: %v, want ErrKey", bad.Short(), err)
		}
	}
	notAPoint := identity.PublicKey{2} // y = 2 is not on the curve
	lowOrder := identity.PublicKey{1}  // the neutral element: X25519 form 0
	for _, k := range []identity.PublicKey{notAPoint, lowOrder} {
		if _, err := NewInitiator(a, k, testPrivID(0xa1), Options{}, t0); !errors.Is(err, ErrKey) {
			t.Errorf("NewInitiator to %v: %v, want ErrKey", k, err)
		}
	}
}

func TestAcceptRefuses(t *testing.T) {
	a, b := testIdentity(t, 1), testIdentity(t, 2)
	ia, _ := NewInitiator(a, b.Public(), testPrivID(0xa1), Options{}, t0)
	rb, _ := NewResponder(b, Options{})
	notInBook := errors.New("not in the address book")
	var saw identity.PublicKey
	_, err := rb.Handle(ia.Message1(), func(h Hello) (Reply, error) {
		saw = h.Key
		return Reply{}, notInBook
	}, t0)
	if !errors.Is(err, notInBook) || saw != a.Public() {
		t.Fatalf("refusal: %v (peer %v)", err, saw)
	}
	if rb.Len() != 0 {
		t.Fatal("a refused peer left state")
	}
	// Accepted later (the user added the key to the book): same message 1.
	if _, err := rb.Handle(ia.Message1(), acceptWith(testPrivID(0xb1), 0, nil), t0); err != nil {
		t.Fatal(err)
	}
}

// TestAnonymousInitiator: an initiator with a fresh key announces
// FlagAnonymous; the responder sees that key and the flag in Hello, and its
// refusal reaches the initiator authenticated.
func TestAnonymousInitiator(t *testing.T) {
	b := testIdentity(t, 2)
	eph, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	ia, _ := NewInitiator(eph, b.Public(), testPrivID(0xa1), Options{Flags: FlagAnonymous}, t0)
	rb, _ := NewResponder(b, Options{})
	var hello Hello
	acc, err := rb.Handle(ia.Message1(), func(h Hello) (Reply, error) {
		hello = h
		return Reply{}, fmt.Errorf("no anonymous sessions here: %w", ErrRefuse)
	}, t0)
	if !errors.Is(err, ErrRefuse) || hello.Key != eph.Public() || hello.Flags&FlagAnonymous == 0 {
		t.Fatalf("Handle: %v; hello %+v", err, hello)
	}
	if _, err := ia.Finish(acc.Refusal); !errors.Is(err, ErrRefusedByPeer) {
		t.Fatalf("Finish(refusal) = %v, want ErrRefusedByPeer", err)
	}
}

func TestFlagsNegotiation(t *testing.T) {
	a, b := testIdentity(t, 1), testIdentity(t, 2)
	tests := []struct {
		name                string
		aFlags, bFlags      Flags
		plaintext, shortcut bool
	}{
		{"none", 0, 0, false, false},
		{"initiator wants plaintext", FlagPlaintext, 0, true, false},
		{"responder wants plaintext", 0, FlagPlaintext, true, false},
		{"one allows shortcuts", FlagShortcut, 0, false, false},
		{"both allow shortcuts", FlagShortcut, FlagShortcut, false, true},
		{"unknown bits carried", 0x80 | FlagShortcut, FlagShortcut, false, true},
		{"anonymous announced", FlagAnonymous, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := handshake(t, a, b, tt.aFlags, tt.bFlags)
			for _, s := range []*Session{p.sa, p.sb} {
				if s.Plaintext() != tt.plaintext || s.Shortcut() != tt.shortcut {
					t.Errorf("plaintext %v shortcut %v, want %v %v", s.Plaintext(), s.Shortcut(), tt.plaintext, tt.shortcut)
				}
			}
			if p.sb.PeerFlags() != tt.aFlags || p.sa.PeerFlags() != tt.bFlags || p.sa.LocalFlags() != tt.aFlags {
				t.Errorf("flags not carried: %#x %#x", p.sb.PeerFlags(), p.sa.PeerFlags())
			}
		})
	}
}

func TestAbandon(t *testing.T) {
	a, b := testIdentity(t, 1), testIdentity(t, 2)
	ra, _ := NewResponder(a, Options{})
	ia, err := ra.Initiate(b.Public(), testPrivID(0xa1), 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := NewResponder(b, Options{})
	acc, _ := rb.Handle(ia.Message1(), acceptWith(testPrivID(0xb1), 0, nil), t0)
	if !ia.Abandon() || ia.Abandon() {
		t.Fatal("Abandon should report true once")
	}
	if _, err := ia.Finish(acc.Message2); !errors.Is(err, ErrAbandoned) {
		t.Fatalf("Finish after Abandon: %v", err)
	}
	if len(ra.pending) != 0 {
		t.Fatal("abandoned initiator still tracked")
	}
	// A second Initiate replaces (and abandons) the first.
	i1, _ := ra.Initiate(b.Public(), testPrivID(0xa1), 0, t0)
	i2, _ := ra.Initiate(b.Public(), testPrivID(0xa2), 0, t0.Add(time.Second))
	if _, err := i1.Finish(acc.Message2); !errors.Is(err, ErrAbandoned) {
		t.Fatalf("superseded initiator: %v", err)
	}
	acc2, _ := rb.Handle(i2.Message1(), acceptWith(testPrivID(0xb2), 0, nil), t0.Add(time.Second))
	if _, err := i2.Finish(acc2.Message2); err != nil {
		t.Fatal(err)
	}
	if len(ra.pending) != 0 {
		t.Fatal("finished initiator still tracked")
	}
}

package session

import (
	"errors"
	"fmt"
	"testing"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
)

// A responder that refuses an initiator with ErrRefuse answers with an
// authenticated refusal that the initiator reports as ErrRefusedByPeer, keeps
// nothing, and refuses a resend again; a refusal forged by another key is not
// taken for one.
func TestRefusalIsAnnouncedAndAuthenticated(t *testing.T) {
	a, b, mallory := testIdentity(t, 1), testIdentity(t, 2), testIdentity(t, 3)
	refuse := func(Hello) (Reply, error) {
		return Reply{}, fmt.Errorf("%w: not on the allowlist", ErrRefuse)
	}
	rb, _ := NewResponder(b, Options{})
	ia, _ := NewInitiator(a, b.Public(), testPrivID(0xa1), Options{}, t0)
	acc, err := rb.Handle(ia.Message1(), refuse, t0)
	if !errors.Is(err, ErrRefuse) || acc.Refusal == nil || acc.RefusalTo != testPrivID(0xa1) || acc.Session != nil {
		t.Fatalf("Handle = %+v, %v; want a refusal to a's private id", acc, err)
	}
	if rb.Len() != 0 {
		t.Fatalf("the responder keeps %d peers after a refusal, want 0", rb.Len())
	}

	// A forged refusal from another key does not authenticate.
	rm, _ := NewResponder(mallory, Options{})
	forged, _ := rm.Handle(mustInitiatorTo(t, a, mallory).Message1(), refuse, t0)
	if _, err := ia.Finish(forged.Refusal); !errors.Is(err, ErrAuth) {
		t.Fatalf("a refusal from another key: %v, want ErrAuth", err)
	}

	if _, err := ia.Finish(acc.Refusal); !errors.Is(err, ErrRefusedByPeer) {
		t.Fatalf("Finish(refusal) = %v, want ErrRefusedByPeer", err)
	}
	if _, err := ia.Finish(acc.Refusal); err == nil {
		t.Fatal("a second copy of the refusal made a session")
	}

	// An AcceptFunc error without ErrRefuse is silent (no message 2).
	ia2, _ := NewInitiator(a, b.Public(), testPrivID(0xa2), Options{}, t0.Add(1))
	acc2, err := rb.Handle(ia2.Message1(), func(Hello) (Reply, error) {
		return Reply{}, errors.New("busy")
	}, t0.Add(1))
	if err == nil || acc2.Refusal != nil {
		t.Fatalf("a silent refusal: %+v, %v", acc2, err)
	}
}

func mustInitiatorTo(t *testing.T, from, to *identity.Identity) *Initiator {
	t.Helper()
	i, err := NewInitiator(from, to.Public(), testPrivID(0xa9), Options{}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// Each side's via (the middlebox it asks the other to send through) reaches
// the other in the handshake, and the session says which applies.
func TestViaInHandshake(t *testing.T) {
	a, b := testIdentity(t, 1), testIdentity(t, 2)
	viaA, viaB := testPrivID(0x7a), testPrivID(0x7b)
	rb, _ := NewResponder(b, Options{})
	ia, _ := NewInitiator(a, b.Public(), testPrivID(0xa1), Options{Via: viaA}, t0)
	var saw id.ID
	acc, err := rb.Handle(ia.Message1(), func(h Hello) (Reply, error) {
		saw = h.Via
		return Reply{PrivID: testPrivID(0xb1), Via: viaB}, nil
	}, t0)
	if err != nil || saw != viaA {
		t.Fatalf("the responder saw via %v (%v), want %v", saw.Short(), err, viaA.Short())
	}
	sa, err := ia.Finish(acc.Message2)
	if err != nil {
		t.Fatal(err)
	}
	if v, local := sa.Via(); v != viaA || !local {
		t.Fatalf("initiator's session: via %v local %v; its own comes first", v.Short(), local)
	}
	if v, local := acc.Session.Via(); v != viaB || !local {
		t.Fatalf("responder's session: via %v local %v", v.Short(), local)
	}
	ib, _ := NewInitiator(a, b.Public(), testPrivID(0xa2), Options{}, t0.Add(1))
	acc2, _ := rb.Handle(ib.Message1(), func(Hello) (Reply, error) { return Reply{PrivID: testPrivID(0xb2), Via: viaB}, nil }, t0.Add(1))
	sb, err := ib.Finish(acc2.Message2)
	if err != nil {
		t.Fatal(err)
	}
	if v, local := sb.Via(); v != viaB || local {
		t.Fatalf("an initiator without a via: session via %v local %v, want the responder's", v.Short(), local)
	}
}

package pass

import (
	"bytes"
	"testing"

	"github.com/i3net/i3net/identity"
)

func mustIdentity(t testing.TB) *identity.Identity {
	t.Helper()
	x, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// The middlebox and the host compute the same key; a third host another.
func TestKeyAgrees(t *testing.T) {
	mb, host, other := mustIdentity(t), mustIdentity(t), mustIdentity(t)
	k1, err1 := NewKey(mb, host.Public())
	k2, err2 := NewKey(host, mb.Public())
	k3, _ := NewKey(other, mb.Public())
	if err1 != nil || err2 != nil || k1 != k2 || k1 == k3 {
		t.Fatalf("keys: %x %x %x (%v %v)", k1, k2, k3, err1, err2)
	}
}

func TestTag(t *testing.T) {
	mb, host := mustIdentity(t), mustIdentity(t)
	k, _ := NewKey(mb, host.Public())
	tg := NewTagger(k)
	frame := []byte("\x04some plaintext frame")
	tagged := tg.Append(nil, frame)
	if got, err := NewTagger(k).Check(tagged); err != nil || !bytes.Equal(got, frame) {
		t.Fatalf("Check: %q %v", got, err)
	}
	for i := range tagged {
		bad := bytes.Clone(tagged)
		bad[i] ^= 1
		if _, err := tg.Check(bad); err != ErrTag {
			t.Fatalf("a bit flipped at %d passed", i)
		}
	}
	other, _ := NewKey(mustIdentity(t), host.Public())
	if _, err := NewTagger(other).Check(tagged); err != ErrTag {
		t.Fatal("a tag under another key passed")
	}
	if _, err := tg.Check([]byte("short")); err != ErrTag {
		t.Fatal("a frame shorter than a tag passed")
	}
}

func TestAlert(t *testing.T) {
	k, _ := NewKey(mustIdentity(t), mustIdentity(t).Public())
	tg := NewTagger(k)
	event := []byte(`{"event_type":"alert"}`)
	frame := tg.AppendAlert(nil, event)
	if frame[0] != TypeAlert {
		t.Fatalf("type %#x", frame[0])
	}
	if got, err := tg.OpenAlert(frame); err != nil || !bytes.Equal(got, event) {
		t.Fatalf("OpenAlert: %q %v", got, err)
	}
	data := tg.Append(nil, []byte{0x03, 1, 2})
	if _, err := tg.OpenAlert(data); err == nil {
		t.Fatal("a tagged data frame opened as an alert")
	}
}

func TestHostTrigger(t *testing.T) {
	mb, h1, h2 := mustIdentity(t), mustIdentity(t), mustIdentity(t)
	hosts := []identity.PublicKey{h1.Public(), h2.Public()}
	for _, member := range []byte{0, Member("mb-a"), Member("mb-b")} {
		x := HostTrigger(mb.ID(), h2.Public(), member)
		if got, ok := HostOf(x, mb.ID(), hosts); !ok || got != h2.Public() {
			t.Fatalf("member %d: HostOf = %v %v", member, got, ok)
		}
	}
	x := HostTrigger(mustIdentity(t).ID(), h1.Public(), 0)
	if _, ok := HostOf(x, mb.ID(), hosts); ok {
		t.Fatal("another middlebox's id named a host")
	}
}

func FuzzCheck(f *testing.F) {
	k, _ := NewKey(mustIdentity(f), mustIdentity(f).Public())
	tg := NewTagger(k)
	f.Add(tg.Append(nil, []byte("frame")))
	f.Add(tg.AppendAlert(nil, []byte("{}")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if frame, err := tg.Check(b); err == nil && !bytes.Equal(tg.Append(nil, frame), b) {
			t.Fatal("a frame that checks does not re-tag to itself")
		}
		tg.OpenAlert(b)
		Strip(b)
	})
}

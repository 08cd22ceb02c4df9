package wire

import (
	"bytes"
	"testing"
)

func ringAuthDatagram() []byte {
	p := &Packet{Flags: FlagOptions}
	p.AddOption(Option{Type: ExtReplicate, Body: []byte{1, 2, 3}})
	b := p.AppendTo(nil)
	b, _ = AppendRingAuth(b, 1234)
	b[3], b[4] = byte((len(b)-3)>>8), byte(len(b)-3)
	return b
}

func TestRingAuthOf(t *testing.T) {
	b := ringAuthDatagram()
	var p Packet
	if err := p.Decode(b); err != nil {
		t.Fatal(err)
	}
	ms, tag, at, err := RingAuthOf(&p, b)
	if err != nil || ms != 1234 || at != len(b)-RingAuthTagLen || len(tag) != RingAuthTagLen {
		t.Fatalf("ms %d at %d tag %d bytes: %v", ms, at, len(tag), err)
	}
	// Not last, or absent, or with a payload: refused.
	q := &Packet{Flags: FlagOptions}
	q.AddOption(Option{Type: ExtRingAuth, Body: make([]byte, RingAuthBodyLen)})
	q.AddOption(Option{Type: ExtReplicate, Body: []byte{1}})
	nb := q.AppendTo(nil)
	if err := p.Decode(nb); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := RingAuthOf(&p, nb); err == nil {
		t.Error("accepted EXT_RING_AUTH that is not the last option")
	}
	plain := &Packet{Flags: FlagOptions}
	plain.AddOption(Option{Type: ExtReplicate, Body: []byte{1}})
	pb := plain.AppendTo(nil)
	p.Decode(pb)
	if _, _, _, err := RingAuthOf(&p, pb); err == nil {
		t.Error("accepted a datagram without EXT_RING_AUTH")
	}
}

// FuzzRingAuthOf: any datagram that decodes is either refused or yields a tag
// that is its last 16 bytes.
func FuzzRingAuthOf(f *testing.F) {
	f.Add(ringAuthDatagram())
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		if p.Decode(b) != nil {
			return
		}
		_, tag, at, err := RingAuthOf(&p, b)
		if err != nil {
			return
		}
		if at != len(b)-RingAuthTagLen || !bytes.Equal(tag, b[at:]) {
			t.Fatalf("tag at %d of %d", at, len(b))
		}
	})
}

package session

import (
	"testing"
	"time"
)

const benchPacket = 1400

// forEachMode runs bench as a sub-benchmark for each mode of a session
// (encrypted, plaintext), on a pair of sessions in that mode.
func forEachMode(b *testing.B, bench func(b *testing.B, p pair)) {
	for _, mode := range []struct {
		name  string
		flags Flags
	}{{"encrypted", 0}, {"plaintext", FlagPlaintext}} {
		b.Run(mode.name, func(b *testing.B) {
			bench(b, handshake(b, testIdentity(b, 1), testIdentity(b, 2), mode.flags, 0))
		})
	}
}

func BenchmarkSeal(b *testing.B) {
	forEachMode(b, func(b *testing.B, p pair) {
		pkt := make([]byte, benchPacket)
		buf := make([]byte, 0, benchPacket+Overhead)
		b.SetBytes(benchPacket)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.sa.Seal(buf[:0], pkt); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkOpen(b *testing.B) {
	forEachMode(b, func(b *testing.B, p pair) {
		// Open each of a batch of frames in turn, emptying the replay
		// window between rounds (1 in 1024 iterations).
		frames := make([][]byte, 1024)
		for i := range frames {
			frames[i] = mustSeal(b, p.sa, make([]byte, benchPacket))
		}
		out := make([]byte, 0, benchPacket+Overhead)
		b.SetBytes(benchPacket)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i == len(frames) {
				resetWindow(p.sb)
				i = 0
			}
			if _, err := p.sb.Open(out[:0], frames[i]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkSealParallel seals from all cores on one session: the cost of
// the shared atomic counter.
func BenchmarkSealParallel(b *testing.B) {
	p := handshake(b, testIdentity(b, 1), testIdentity(b, 2), 0, 0)
	b.SetBytes(benchPacket)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		pkt := make([]byte, benchPacket)
		buf := make([]byte, 0, benchPacket+Overhead)
		for pb.Next() {
			if _, err := p.sa.Seal(buf[:0], pkt); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkHandshake is a full handshake: message 1, the responder's answer
// and the initiator's Finish (each side's part is about a third to a half).
func BenchmarkHandshake(b *testing.B) {
	a, bb := testIdentity(b, 1), testIdentity(b, 2)
	r, err := NewResponder(bb, Options{})
	if err != nil {
		b.Fatal(err)
	}
	accept := acceptWith(testPrivID(0xb1), 0, nil)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond) // each message 1 newer than the last
		i, err := NewInitiator(a, bb.Public(), testPrivID(0xa1), Options{}, now)
		if err != nil {
			b.Fatal(err)
		}
		acc, err := r.Handle(i.Message1(), accept, now)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := i.Finish(acc.Message2); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandleDuplicate answers a resent message 1 from the cache.
func BenchmarkHandleDuplicate(b *testing.B) {
	p := handshake(b, testIdentity(b, 1), testIdentity(b, 2), 0, 0)
	accept := acceptWith(testPrivID(0xb1), 0, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.rb.Handle(p.ia.Message1(), accept, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckReset verifies a reset (an Ed25519 verification).
func BenchmarkCheckReset(b *testing.B) {
	p := handshake(b, testIdentity(b, 1), testIdentity(b, 2), 0, 0)
	r := AppendReset(nil, p.b, p.sa.PeerPrivateID(), p.sa.LocalPrivateID(), t0.Add(time.Minute))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.sa.CheckReset(r); err != nil {
			b.Fatal(err)
		}
	}
}

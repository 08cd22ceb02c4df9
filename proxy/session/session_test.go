package session

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"testing"
)

func TestSealOpenSizes(t *testing.T) {
	for _, plaintext := range []bool{false, true} {
		var fl Flags
		if plaintext {
			fl = FlagPlaintext
		}
		p := handshake(t, testIdentity(t, 1), testIdentity(t, 2), fl, 0)
		for _, n := range []int{0, 1, 20, 1400, 9000, 65535} {
			pkt := make([]byte, n)
			for i := range pkt {
				pkt[i] = byte(i * 7)
			}
			f := mustSeal(t, p.sa, pkt)
			if len(f) != n+Overhead {
				t.Fatalf("plaintext=%v: %d-byte packet sealed to %d bytes, want %d", plaintext, n, len(f), n+Overhead)
			}
			if plaintext != (f[0] == byte(TypePlaintext)) || plaintext != bytes.Contains(f, pkt) && n > 16 {
				t.Fatalf("plaintext=%v: frame type %v, packet visible %v", plaintext, Type(f[0]), bytes.Contains(f, pkt))
			}
			prefix := []byte("kept")
			got, err := p.sb.Open(bytes.Clone(prefix), f)
			if err != nil || !bytes.Equal(got, append(prefix, pkt...)) {
				t.Fatalf("plaintext=%v, %d bytes: %v", plaintext, n, err)
			}
		}
	}
}

func TestPlaintextMode(t *testing.T) {
	p := handshake(t, testIdentity(t, 1), testIdentity(t, 2), 0, FlagPlaintext)
	pkt := []byte("\x45\x00\x00\x1cGET / HTTP/1.0 readable by the IDS")
	for _, d := range [][2]*Session{{p.sa, p.sb}, {p.sb, p.sa}} {
		f := mustSeal(t, d[0], pkt)
		// A middlebox on the path reads the packet without any key.
		pf, err := ParseFrame(f)
		if err != nil || pf.Type != TypePlaintext || !bytes.Equal(pf.Body, pkt) {
			t.Fatalf("middlebox view: %v %v %q", err, pf.Type, pf.Body)
		}
		// But cannot change it, nor replay it.
		f2 := bytes.Clone(f)
		f2[HeaderLen+4] ^= 1
		if _, err := d[1].Open(nil, f2); err != ErrAuth {
			t.Fatalf("altered plaintext frame: %v", err)
		}
		got, err := d[1].Open(nil, f)
		if err != nil || !bytes.Equal(got, pkt) {
			t.Fatalf("open: %q %v", got, err)
		}
		if _, err := d[1].Open(nil, f); err != ErrReplay {
			t.Fatalf("replayed plaintext frame: %v", err)
		}
	}
	// An encrypted-mode frame is refused by a plaintext session, and back.
	enc := handshake(t, testIdentity(t, 1), testIdentity(t, 2), 0, 0)
	if _, err := p.sb.Open(nil, mustSeal(t, enc.sa, pkt)); err != ErrMode {
		t.Fatalf("data frame on a plaintext session: %v", err)
	}
	if _, err := enc.sb.Open(nil, mustSeal(t, p.sa, pkt)); err != ErrMode {
		t.Fatalf("plaintext frame on an encrypted session: %v", err)
	}
}

func TestOpenRejects(t *testing.T) {
	p := handshake(t, testIdentity(t, 1), testIdentity(t, 2), 0, 0)
	pkt := bytes.Repeat([]byte{0x45}, 60)
	f := mustSeal(t, p.sa, pkt)
	flip := func(i int) []byte { g := bytes.Clone(f); g[i] ^= 0x80; return g }
	other := handshake(t, testIdentity(t, 1), testIdentity(t, 3), 0, 0)
	tests := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"empty", nil, ErrLength},
		{"shorter than a tag", f[:Overhead-1], ErrLength},
		{"truncated", f[:len(f)-1], ErrAuth},
		{"type changed to keepalive", func() []byte { g := bytes.Clone(f); g[0] = byte(TypeKeepalive); return g }(), ErrLength},
		{"type changed to plaintext", func() []byte { g := bytes.Clone(f); g[0] = byte(TypePlaintext); return g }(), ErrMode},
		{"unknown type", func() []byte { g := bytes.Clone(f); g[0] = 0x7f; return g }(), ErrType},
		{"handshake type", func() []byte { g := bytes.Clone(f); g[0] = byte(TypeHandshake1); return g }(), ErrType},
		{"counter altered", flip(HeaderLen - 1), ErrAuth},
		{"ciphertext altered", flip(HeaderLen + 5), ErrAuth},
		{"tag altered", flip(len(f) - 1), ErrAuth},
		{"from another session", mustSeal(t, other.sa, pkt), ErrAuth},
		{"own frame reflected", mustSeal(t, p.sb, pkt), ErrAuth},
		{"counter beyond the limit", func() []byte {
			g := bytes.Clone(f)
			binary.BigEndian.PutUint64(g[1:], RejectAfterMessages)
			return g
		}(), ErrExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("dst")
			got, err := p.sb.Open(dst, tt.frame)
			if err != tt.want {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if string(got) != "dst" {
				t.Fatalf("dst changed on error: %q", got)
			}
		})
	}
	// None of them moved the window: the genuine frame still opens, once.
	if _, err := p.sb.Open(nil, f); err != nil {
		t.Fatalf("genuine frame after the rejects: %v", err)
	}
	if _, err := p.sb.Open(nil, f); err != ErrReplay {
		t.Fatalf("replayed frame: %v, want ErrReplay", err)
	}
}

func TestOutOfOrderAndTooOld(t *testing.T) {
	p := handshake(t, testIdentity(t, 1), testIdentity(t, 2), 0, 0)
	const n = 3000
	frames := make([][]byte, n)
	for i := range frames {
		frames[i] = mustSeal(t, p.sa, []byte{byte(i), byte(i >> 8)})
	}
	r := rand.New(rand.NewPCG(1, 2))
	order := r.Perm(n)
	for _, i := range order {
		got, err := p.sb.Open(nil, frames[i])
		if err != nil || got[0] != byte(i) || got[1] != byte(i>>8) {
			t.Fatalf("frame %d out of order: %v", i, err)
		}
	}
	for _, i := range order[:100] {
		if _, err := p.sb.Open(nil, frames[i]); err != ErrReplay {
			t.Fatalf("frame %d again: %v, want ErrReplay", i, err)
		}
	}

	// Jump ahead by more than the window: frames behind it are too old,
	// frames inside it still open once.
	var late [][]byte
	for range ReplayWindow + 100 {
		late = append(late, mustSeal(t, p.sa, nil))
	}
	last := late[len(late)-1]
	if _, err := p.sb.Open(nil, last); err != nil {
		t.Fatal(err)
	}
	if _, err := p.sb.Open(nil, late[0]); err != ErrTooOld {
		t.Fatalf("frame behind the window: %v, want ErrTooOld", err)
	}
	if _, err := p.sb.Open(nil, frames[n-1]); err != ErrTooOld {
		t.Fatalf("old frame: %v, want ErrTooOld", err)
	}
	edge := late[len(late)-1-ReplayWindow]
	if _, err := p.sb.Open(nil, edge); err != nil {
		t.Fatalf("frame at the window's edge: %v", err)
	}
	if _, err := p.sb.Open(nil, edge); err != ErrReplay {
		t.Fatalf("frame at the window's edge again: %v", err)
	}
	if _, err := p.sb.Open(nil, late[len(late)-2-ReplayWindow]); err != ErrTooOld {
		t.Fatalf("frame just behind the window's edge: %v", err)
	}
}

func TestConfirmed(t *testing.T) {
	p := handshake(t, testIdentity(t, 1), testIdentity(t, 2), 0, 0)
	if !p.sa.Confirmed() || p.sb.Confirmed() {
		t.Fatalf("after the handshake: initiator %v, responder %v; want true, false", p.sa.Confirmed(), p.sb.Confirmed())
	}
	// The responder's own frames, forged ones, and replies do not confirm.
	if _, err := p.sa.Open(nil, mustSeal(t, p.sb, []byte("x"))); err != nil {
		t.Fatal(err)
	}
	bad, _ := p.sa.Keepalive(nil)
	bad[len(bad)-1] ^= 1
	if _, err := p.sb.Open(nil, bad); err != ErrAuth || p.sb.Confirmed() {
		t.Fatalf("forged keepalive: %v, confirmed %v", err, p.sb.Confirmed())
	}
	k, _ := p.sa.Keepalive(nil)
	if _, err := p.sb.Open(nil, k); err != nil || !p.sb.Confirmed() {
		t.Fatalf("keepalive from the initiator: %v, confirmed %v", err, p.sb.Confirmed())
	}
}

func TestKeepalive(t *testing.T) {
	for _, fl := range []Flags{0, FlagPlaintext} {
		p := handshake(t, testIdentity(t, 1), testIdentity(t, 2), fl, 0)
		k, err := p.sa.Keepalive([]byte("x"))
		if err != nil || len(k) != 1+KeepaliveLen || Type(k[1]) != TypeKeepalive {
			t.Fatalf("keepalive %x %v", k, err)
		}
		k = k[1:]
		got, err := p.sb.Open([]byte("dst"), k)
		if err != nil || string(got) != "dst" {
			t.Fatalf("open keepalive: %q %v", got, err)
		}
		if _, err := p.sb.Open(nil, k); err != ErrReplay {
			t.Fatalf("keepalive replayed: %v", err)
		}
		k2, _ := p.sa.Keepalive(nil)
		k2[HeaderLen] ^= 1
		if _, err := p.sb.Open(nil, k2); err != ErrAuth {
			t.Fatalf("forged keepalive: %v", err)
		}
	}
}

func TestSealOpenInPlace(t *testing.T) {
	p := handshake(t, testIdentity(t, 1), testIdentity(t, 2), 0, 0)
	pkt := bytes.Repeat([]byte("in place "), 100)
	const offset = 40 // room for the overlay header
	buf := make([]byte, 2048)
	copy(buf[offset+HeaderLen:], pkt)
	frame, err := p.sa.Seal(buf[offset:offset], buf[offset+HeaderLen:offset+HeaderLen+len(pkt)])
	if err != nil || &frame[0] != &buf[offset] || len(frame) != len(pkt)+Overhead {
		t.Fatalf("seal in place: %v", err)
	}
	got, err := p.sb.Open(frame[HeaderLen:HeaderLen], frame)
	if err != nil || !bytes.Equal(got, pkt) || &got[0] != &buf[offset+HeaderLen] {
		t.Fatalf("open in place: %v", err)
	}
}

func TestExhausted(t *testing.T) {
	p := handshake(t, testIdentity(t, 1), testIdentity(t, 2), 0, 0)
	p.sa.next.Store(RejectAfterMessages - 1)
	f, err := p.sa.Seal(nil, []byte("last"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.sb.Open(nil, f); err != nil {
		t.Fatalf("last frame: %v", err)
	}
	if _, err := p.sa.Seal(nil, []byte("one too many")); err != ErrExhausted {
		t.Fatalf("seal after the limit: %v", err)
	}
	if p.sa.Sent() != RejectAfterMessages {
		t.Fatalf("Sent = %d", p.sa.Sent())
	}
}

func TestSealOpenAllocs(t *testing.T) {
	for _, fl := range []Flags{0, FlagPlaintext} {
		p := handshake(t, testIdentity(t, 1), testIdentity(t, 2), fl, 0)
		pkt := make([]byte, 1400)
		buf := make([]byte, 0, 1500)
		out := make([]byte, 0, 1500)
		var frame []byte
		sealAllocs := testing.AllocsPerRun(1000, func() {
			frame, _ = p.sa.Seal(buf[:0], pkt)
		})
		var err error
		openAllocs := testing.AllocsPerRun(1000, func() {
			frame, _ = p.sa.Seal(buf[:0], pkt)
			_, err = p.sb.Open(out[:0], frame)
		})
		if err != nil {
			t.Fatal(err)
		}
		if sealAllocs != 0 || openAllocs != 0 {
			t.Errorf("flags %#x: Seal %v allocs, Seal+Open %v allocs; want 0", fl, sealAllocs, openAllocs)
		}
	}
}

// Several goroutines seal, one opens, one more sends keepalives: every frame
// opens exactly once (run with -race).
func TestConcurrentSealOpen(t *testing.T) {
	p := handshake(t, testIdentity(t, 1), testIdentity(t, 2), 0, 0)
	const senders, each = 4, 250 // each < 256: a packet is (sender, i)
	frames := make(chan []byte, senders*each+each)
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				f, err := p.sa.Seal(make([]byte, 0, 64), []byte{byte(g), byte(i)})
				if err != nil {
					t.Error(err)
					return
				}
				frames <- f
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range each {
			f, _ := p.sa.Keepalive(nil)
			frames <- f
		}
	}()
	done := make(chan map[[2]byte]int)
	go func() {
		seen := make(map[[2]byte]int)
		buf := make([]byte, 0, 64)
		for f := range frames {
			got, err := p.sb.Open(buf[:0], f)
			if err != nil {
				t.Error(err)
				continue
			}
			if len(got) == 2 {
				seen[[2]byte{got[0], got[1]}]++
			}
		}
		done <- seen
	}()
	wg.Wait()
	close(frames)
	seen := <-done
	if len(seen) != senders*each {
		t.Fatalf("opened %d distinct packets, want %d", len(seen), senders*each)
	}
	if p.sa.Sent() != senders*each+each {
		t.Fatalf("Sent = %d", p.sa.Sent())
	}
}

func TestSessionString(t *testing.T) {
	p := handshake(t, testIdentity(t, 1), testIdentity(t, 2), 0, 0)
	s := p.sa.String()
	if !bytes.Contains([]byte(s), []byte(p.b.Public().String())) || !bytes.Contains([]byte(s), []byte("encrypted")) {
		t.Fatalf("String() = %q", s)
	}
}

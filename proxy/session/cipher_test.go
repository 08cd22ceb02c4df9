package session

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// TestDataCipher: AES-256-GCM only when both hosts announce AES-GCM
// instructions, ChaCha20-Poly1305 otherwise, the same on both sides, and data
// flows either way.
func TestDataCipher(t *testing.T) {
	saved := hasAESGCM
	defer func() { hasAESGCM = saved }()
	a, b := testIdentity(t, 1), testIdentity(t, 2)
	for _, tt := range []struct {
		initiator, responder bool
		want                 string
	}{
		{true, true, "aes-256-gcm"},
		{true, false, "chacha20-poly1305"},
		{false, true, "chacha20-poly1305"},
		{false, false, "chacha20-poly1305"},
	} {
		t.Run(fmt.Sprint(tt.initiator, tt.responder), func(t *testing.T) {
			hasAESGCM = tt.initiator
			ia, err := NewInitiator(a, b.Public(), testPrivID(0xa1), Options{Rand: testRand(1)}, t0)
			if err != nil {
				t.Fatal(err)
			}
			hasAESGCM = tt.responder
			rb, err := NewResponder(b, Options{Rand: testRand(2)})
			if err != nil {
				t.Fatal(err)
			}
			acc, err := rb.Handle(ia.Message1(), acceptWith(testPrivID(0xb1), 0, nil), t0.Add(time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			sa, err := ia.Finish(acc.Message2)
			if err != nil {
				t.Fatal(err)
			}
			p := pair{sa: sa, sb: acc.Session}
			for _, s := range []*Session{p.sa, p.sb} {
				if s.Cipher() != tt.want {
					t.Errorf("cipher %s, want %s", s.Cipher(), tt.want)
				}
			}
			pkt := []byte("an IP packet, more or less")
			frame := mustSeal(t, p.sa, pkt)
			got, err := p.sb.Open(nil, frame)
			if err != nil || !bytes.Equal(got, pkt) {
				t.Fatalf("open: %q, %v", got, err)
			}
			// A frame sealed under the other cipher does not open.
			other := newChaCha
			if tt.want != "aes-256-gcm" {
				other = newAESGCM
			}
			saved := p.sa.send
			p.sa.send = other(make([]byte, KeyLen))
			if _, err := p.sb.Open(nil, mustSeal(t, p.sa, pkt)); err == nil {
				t.Error("a frame under another cipher and key opened")
			}
			p.sa.send = saved
		})
	}
}

package session

import (
	"errors"
	"testing"
	"time"
)

func TestReset(t *testing.T) {
	a, b, mallory := testIdentity(t, 1), testIdentity(t, 2), testIdentity(t, 3)
	p := handshake(t, a, b, 0, 0)
	// b restarts, keeps its mapping (its private id 0xb1 ↔ a's 0xa1) but
	// not the keys; a's next frame arrives on 0xb1 and b answers a reset.
	later := t0.Add(time.Minute)
	stale, to := p.sa.PeerPrivateID(), p.sa.LocalPrivateID()
	reset := AppendReset(nil, b, stale, to, later)
	if len(reset) != ResetLen {
		t.Fatalf("reset is %d bytes, want %d", len(reset), ResetLen)
	}
	if f, err := ParseFrame(reset); err != nil || f.Type != TypeReset || f.Stale != stale {
		t.Fatalf("parse: %v %+v", err, f)
	}
	if err := p.sa.CheckReset(reset); err != nil {
		t.Fatalf("genuine reset refused: %v", err)
	}
	// The same works towards the responder side.
	if err := p.sb.CheckReset(AppendReset(nil, a, p.sb.PeerPrivateID(), p.sb.LocalPrivateID(), later)); err != nil {
		t.Fatalf("reset to the responder: %v", err)
	}

	tests := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"signed by another key", AppendReset(nil, mallory, stale, to, later), ErrAuth},
		{"for another receiving id", AppendReset(nil, b, stale, testPrivID(0x77), later), ErrAuth},
		{"naming another session", AppendReset(nil, b, testPrivID(0x66), to, later), ErrResetMismatch},
		{"stamped before the session", AppendReset(nil, b, stale, to, t0.Add(-time.Second)), ErrStale},
		{"stamped with the handshake", AppendReset(nil, b, stale, to, t0.Add(time.Millisecond)), ErrStale},
		{"truncated", reset[:ResetLen-1], ErrLength},
		{"not a reset", p.acc.Message2, ErrType},
		{"signature altered", func() []byte { r := AppendReset(nil, b, stale, to, later); r[ResetLen-1] ^= 1; return r }(), ErrAuth},
		{"timestamp altered", func() []byte { r := AppendReset(nil, b, stale, to, later); r[1+32+11] ^= 1; return r }(), ErrAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := p.sa.CheckReset(tt.frame); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

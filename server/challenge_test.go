package server

import (
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/wire"
)

func TestChallenger(t *testing.T) {
	master := [32]byte{1, 2, 3}
	rot := int64(time.Minute)
	c := newChallenger(&master, rot)
	other := newChallenger(&[32]byte{9}, rot)
	reply := netip.MustParseAddrPort("192.0.2.1:4000")
	tr := wire.Trigger{ID: id.Random(), PrefixLen: 128, Target: wire.IPAddr(netip.MustParseAddrPort("192.0.2.7:5000"))}
	now := int64(1e18) // an epoch boundary is at a multiple of rot
	now -= now % rot

	tr.Nonce = c.nonce(&tr, reply, now)
	if tr.Nonce == ([wire.NonceLen]byte{}) {
		t.Fatal("zero nonce")
	}
	tests := []struct {
		name string
		edit func(*wire.Trigger)
		at   int64
		c    *challenger
		want bool
	}{
		{"same epoch", nil, now + rot - 1, c, true},
		{"previous epoch", nil, now + 2*rot - 1, c, true},
		{"two epochs later", nil, now + 2*rot, c, false},
		{"another server", nil, now, other, false},
		{"other target", func(t *wire.Trigger) { t.Target = wire.IPAddr(netip.MustParseAddrPort("192.0.2.8:5000")) }, now, c, false},
		{"other id", func(t *wire.Trigger) { t.ID[31] ^= 1 }, now, c, false},
		{"other prefix", func(t *wire.Trigger) { t.PrefixLen = 200 }, now, c, false},
		{"other flags", func(t *wire.Trigger) { t.Flags = wire.TriggerShortcut }, now, c, false},
		{"other key", func(t *wire.Trigger) { t.Key[0] = 1 }, now, c, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := tr
			if tt.edit != nil {
				tt.edit(&x)
			}
			if got := tt.c.check(&x, reply, tt.at); got != tt.want {
				t.Errorf("check = %v, want %v", got, tt.want)
			}
		})
	}

	// A stack target's nonce is bound to the address the challenge went to.
	st := wire.Trigger{ID: id.Random(), PrefixLen: 128, Target: wire.StackAddr(id.Random())}
	st.Nonce = c.nonce(&st, reply, now)
	if !c.check(&st, reply, now) || c.check(&st, netip.MustParseAddrPort("192.0.2.1:4001"), now) {
		t.Error("stack-target nonce not bound to the inserter's address")
	}
}

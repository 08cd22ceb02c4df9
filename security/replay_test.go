package security

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy/session"
	"github.com/i3net/i3net/server"
	"github.com/i3net/i3net/server/servertest"
	"github.com/i3net/i3net/wire"
)

// Attack 6: the path between the server and home (here a relay that keeps a
// copy of everything) replays and alters the sealed data frames laptop sent
// home, sending each to home as the server would. Every copy is dropped by
// home's proxy and counted: replays of frames home opened (drop_replay, the
// session's replay window), and, of a frame the path held back, copies with
// one bit flipped in the ciphertext, in the tag or in the counter
// (drop_auth), one cut short, and one moved to home's public id
// (drop_unknown_id). The altered copies do not use up the held frame's
// counter: delivered last, the genuine frame opens (once; again, it is a
// replay). Home's program gets exactly the packets laptop sent.
func TestReplayedOrAlteredFrameDropped(t *testing.T) {
	path := newRelay(t)
	srv := servertest.Start(t, func(c *server.Config) { c.PublicAddr = path.addr })
	path.attach(srv.Addr())
	via := []netip.AddrPort{path.addr}
	laptop, home := newHost(t, "laptop"), newHost(t, "home")
	laptop.WriteBook(t, map[string]*identity.Identity{"home": home.Ident})
	home.WriteBook(t, map[string]*identity.Identity{"laptop": laptop.Ident})
	home.Start(t, via, nil)
	laptop.Start(t, via, nil)
	v4, _, ok := laptop.PX.ResolveOverlay("home")
	if !ok {
		t.Fatal("home does not resolve")
	}
	l4 := laptop.Addr()
	homeLocal := home.PX.Status().Local
	isData := func(p *wire.Packet) bool {
		return p.Flags&wire.FlagData != 0 && session.TypeOf(p.Payload) == session.TypeData
	}
	dataToHome := func(s seen, p *wire.Packet) bool { return !s.toward && s.host == homeLocal && isData(p) }

	const sent = 5
	for seq := uint32(1); seq <= sent; seq++ {
		laptop.Tun.Send(udp(t, l4, v4, seq))
	}
	testwait.For(t, "home's program to get laptop's packets", func() bool { return home.Tun.Written() >= sent })
	opened := path.seenWhere(dataToHome)
	if len(opened) < sent {
		t.Fatalf("the path saw %d data frames to home, want ≥ %d", len(opened), sent)
	}

	// The path holds laptop's next frame back.
	path.holding(func(host netip.AddrPort, b []byte) bool {
		var p wire.Packet
		return host == homeLocal && p.Decode(b) == nil && isData(&p)
	})
	laptop.Tun.Send(udp(t, l4, v4, sent+1))
	var held []byte
	testwait.For(t, "the path to catch laptop's next frame", func() bool {
		if all := path.seenWhere(dataToHome); len(all) > len(opened) {
			held = all[len(all)-1].b
		}
		return held != nil
	})
	path.holding(nil) // the relay decided when it recorded the frame: held
	if w := home.Tun.Written(); w != sent {
		t.Fatalf("home's program got %d packets, laptop sent %d and the path held one back", w, sent)
	}
	t.Logf("the path captured %d sealed data frames to home and held one back (%d bytes)", len(opened), len(held))

	var p wire.Packet
	if err := p.Decode(held); err != nil {
		t.Fatal(err)
	}
	hdr := len(held) - len(p.Payload) // the overlay header; the frame follows
	flipped := func(at int) []byte {
		b := bytes.Clone(held)
		b[at] ^= 0x01
		return b
	}
	moved := bytes.Clone(held) // to another of home's ids: its public id
	pub := home.Ident.ID()
	copy(moved[3:3+32], pub[:])
	var replays [][]byte
	for _, f := range opened {
		replays = append(replays, f.b)
	}

	c0 := home.PX.Status().Counters
	attacks := []struct {
		name    string
		bs      [][]byte
		counter string
		opens   bool // the genuine frame: it opens
	}{
		{"every frame home opened, again", replays, "drop_replay", false},
		{"held frame, a ciphertext bit flipped", [][]byte{flipped(hdr + session.HeaderLen + 9)}, "drop_auth", false},
		{"held frame, a tag bit flipped", [][]byte{flipped(len(held) - 1)}, "drop_auth", false},
		{"held frame, a counter bit flipped", [][]byte{flipped(hdr + 1 + 4)}, "drop_auth", false}, // 2^24 ahead: unseen
		{"held frame, cut short", [][]byte{held[:hdr+session.Overhead-1]}, "drop_malformed", false},
		{"held frame, to home's public id", [][]byte{moved}, "drop_unknown_id", false},
		{"held frame as it was", [][]byte{held}, "", true},
		{"held frame, again", [][]byte{held}, "drop_replay", false},
	}
	for _, a := range attacks {
		before := home.PX.Status().Counters
		written := home.Tun.Written()
		for _, b := range a.bs {
			path.deliver(homeLocal, b)
		}
		n := uint64(len(a.bs))
		// Taken: every frame was either dropped (counted) or written to
		// home's program. overlay_in alone is not enough: it is counted
		// when a frame arrives, before the frame's fate.
		var after map[string]uint64
		var dropped uint64
		testwait.For(t, a.name+" to be taken", func() bool {
			after = home.PX.Status().Counters
			dropped = 0
			for k, v := range after {
				if strings.HasPrefix(k, "drop_") {
					dropped += v - before[k]
				}
			}
			return after["overlay_in"]-before["overlay_in"] >= n && dropped+home.Tun.Written()-written >= n
		})
		if a.opens {
			testwait.For(t, "the held packet at home's program", func() bool { return home.Tun.Written() == written+1 })
		}
		t.Logf("%-40s → %d dropped (%s +%d)", a.name, dropped, a.counter, after[a.counter]-before[a.counter])
		switch {
		case a.opens && dropped != 0:
			t.Errorf("%s: dropped", a.name)
		case !a.opens && dropped != n:
			t.Errorf("%s: %d of %d dropped", a.name, dropped, n)
		case a.counter != "" && after[a.counter]-before[a.counter] != n:
			t.Errorf("%s: %s +%d, want +%d", a.name, a.counter, after[a.counter]-before[a.counter], n)
		}
	}
	// A last packet from laptop, on the path like the others, lands after
	// anything the altered frames could have made home write.
	laptop.Tun.Send(udp(t, l4, v4, sent+2))
	testwait.For(t, "laptop's last packet at home's program", func() bool { return home.Tun.Written() >= sent+2 })
	c1 := home.PX.Status().Counters
	t.Logf("home: drop_replay +%d, drop_auth +%d, drop_malformed +%d, drop_unknown_id +%d; its program got %d packets",
		c1["drop_replay"]-c0["drop_replay"], c1["drop_auth"]-c0["drop_auth"], c1["drop_malformed"]-c0["drop_malformed"],
		c1["drop_unknown_id"]-c0["drop_unknown_id"], home.Tun.Written())
	if w := home.Tun.Written(); w != sent+2 {
		t.Fatalf("home's program got %d packets; laptop sent %d", w, sent+2)
	}
	var seqs []uint32
	for _, b := range home.Tun.Packets() {
		seqs = append(seqs, seqOf(t, b, l4, home.Addr()))
	}
	t.Logf("home's program got packets %v", seqs)
	for i, n := range seqs {
		if n != uint32(i+1) {
			t.Fatalf("home's program got packets %v, want 1..%d once each", seqs, sent+2)
		}
	}
}

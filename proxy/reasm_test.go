//go:build linux

package proxy_test

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/proxytest"
	"github.com/i3net/i3net/proxy/session"
)

// chunkWorld is a proxy ("home", with a tun device it writes large packets
// into whole) that has a session with one peer made in memory, and whose
// inbound path the test alone runs.
type chunkWorld struct {
	home *host
	peer proxy.FakePeer
	self netip.Addr
}

func newChunkWorld(t *testing.T) *chunkWorld {
	o := newOverlay(t)
	w := &chunkWorld{home: o.host("home")}
	w.home.Raw = proxytest.NewRawTun(t)
	o.start(w.home, nil)
	w.self, _ = w.home.Self()
	x, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if w.peer, err = proxy.Establish(w.home.PX, x); err != nil {
		t.Fatal(err)
	}
	proxy.StopReceiving(w.home.PX)
	return w
}

// chunks returns a super-packet from the peer to home (with its offload
// header, as home's kernel must get it) and its chunk frames.
func (w *chunkWorld) chunks(t *testing.T, sport uint16) (raw []byte, frames [][]byte) {
	t.Helper()
	raw, _ = superPacket(t, netip.AddrPortFrom(w.peer.Canonical4, sport), netip.AddrPortFrom(w.self, 22), 12, 1308)
	g, err := packet.ParseVirtioHdr(raw)
	if err != nil {
		t.Fatal(err)
	}
	var meta [session.ChunkMetaLen]byte
	g.PutWire(meta[:])
	pkt := raw[packet.VirtioHdrLen:]
	frames = make([][]byte, session.ChunkCount(len(pkt), 1300))
	if _, err := w.peer.Remote.SealChunks(frames, &meta, pkt, 1300); err != nil {
		t.Fatal(err)
	}
	return raw, frames
}

func (w *chunkWorld) deliver(frames ...[]byte) {
	for _, f := range frames {
		proxy.Inbound(w.home.PX, w.peer.To, f)
	}
	proxy.FlushInbound(w.home.PX)
}

// TestReassembly: chunks put back together in any order give the packet
// whole; a duplicate, a forged chunk and a packet that lost a chunk are
// counted and harm no other packet; a packet whose chunk was lost gives way
// once every slot is needed.
func TestReassembly(t *testing.T) {
	w := newChunkWorld(t)
	home := w.home
	rnd := rand.New(rand.NewPCG(1, 2))

	raw, frames := w.chunks(t, 1000)
	order := rnd.Perm(len(frames))
	for _, i := range order {
		w.deliver(frames[i])
	}
	if got := home.Raw.NextRaw(t); !bytes.Equal(got, raw) {
		t.Fatalf("chunks in the order %v: home's kernel got %d bytes, not the packet of %d", order, len(got), len(raw))
	}

	// A duplicate of a chunk already used is a replay.
	w.deliver(frames[0])
	if c := home.Counter("drop_replay"); c != 1 {
		t.Errorf("a chunk delivered twice: drop_replay = %d, want 1", c)
	}

	// A packet missing its last chunk, a forged chunk, then eight packets
	// whose chunks interleave (the first chunk of each before the rest of
	// any): the forged chunk is refused without taking a slot, the eighth
	// packet needs the incomplete one's slot, which gives way, and the
	// eight arrive whole.
	_, lossy := w.chunks(t, 2000)
	w.deliver(lossy[:len(lossy)-1]...)
	_, other := w.chunks(t, 2001)
	forged := slices.Clone(other[3])
	forged[len(forged)-1] ^= 1
	w.deliver(forged)
	if c := home.Counter("drop_auth"); c != 1 {
		t.Errorf("a forged chunk: drop_auth = %d, want 1", c)
	}
	var want [][]byte
	var rest [][][]byte
	for i := range 8 {
		raw, frames := w.chunks(t, uint16(3000+i))
		want = append(want, raw)
		w.deliver(frames[0])
		rest = append(rest, frames[1:])
	}
	if c := home.Counter("drop_incomplete"); c != 1 {
		t.Errorf("eight packets under way and one missing a chunk: drop_incomplete = %d, want 1", c)
	}
	for _, frames := range rest {
		w.deliver(frames...)
	}
	for i, raw := range want {
		if got := home.Raw.NextRaw(t); !bytes.Equal(got, raw) {
			t.Fatalf("packet %d: home's kernel got %d bytes, not the packet of %d", i, len(got), len(raw))
		}
	}
	if c := home.Counter("whole_in"); c != 9 {
		t.Errorf("whole_in = %d, want 9", c)
	}
}

// TestReassemblyChecksWhole: a packet put back together is checked like any
// other: one claiming another source than the peer's address is dropped as
// spoofed, and one whose offload header does not match it as malformed.
func TestReassemblyChecksWhole(t *testing.T) {
	w := newChunkWorld(t)
	spoof, _ := superPacket(t, netip.AddrPortFrom(netip.MustParseAddr("100.64.9.9"), 1), netip.AddrPortFrom(w.self, 22), 4, 1308)
	g, _ := packet.ParseVirtioHdr(spoof)
	var meta [session.ChunkMetaLen]byte
	g.PutWire(meta[:])
	frames := make([][]byte, 16)
	n, err := w.peer.Remote.SealChunks(frames, &meta, spoof[packet.VirtioHdrLen:], 1300)
	if err != nil {
		t.Fatal(err)
	}
	w.deliver(frames[:n]...)
	if c := w.home.Counter("drop_spoofed"); c != 1 {
		t.Errorf("a whole packet from another source: drop_spoofed = %d, want 1", c)
	}

	// Offload headers the sender's kernel would not give, or that would
	// make the receiving kernel cut the packet into hundreds: a segment size
	// of 0 or of 100 bytes, none at all.
	raw, _ := w.chunks(t, 1)
	for i, edit := range []func(g *packet.GSO){
		func(g *packet.GSO) { g.Size = 0 },
		func(g *packet.GSO) { g.Size = 100 },
		func(g *packet.GSO) {
			*g = packet.GSO{NeedsCsum: g.NeedsCsum, CsumStart: g.CsumStart, CsumOffset: g.CsumOffset}
		},
	} {
		g, _ = packet.ParseVirtioHdr(raw)
		edit(&g)
		g.PutWire(meta[:])
		if n, err = w.peer.Remote.SealChunks(frames, &meta, raw[packet.VirtioHdrLen:], 1300); err != nil {
			t.Fatal(err)
		}
		w.deliver(frames[:n]...)
		if c := w.home.Counter("drop_malformed"); c != uint64(i+1) {
			t.Errorf("whole packet %d with offload header %+v: drop_malformed = %d, want %d", i, g, c, i+1)
		}
	}
	if c := w.home.Counter("whole_in"); c != 0 {
		t.Errorf("whole_in = %d, want 0", c)
	}
}

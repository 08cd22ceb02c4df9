package proxy

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/proxy/packet"
)

func TestRelayAvoid(t *testing.T) {
	a, b, c := netip.MustParseAddrPort("10.0.0.1:4433"), netip.MustParseAddrPort("10.0.0.2:4433"), netip.MustParseAddrPort("10.0.0.3:4433")
	info := func(down netip.AddrPort, addrs ...netip.AddrPort) []client.ServerInfo {
		var out []client.ServerInfo
		for _, x := range addrs {
			out = append(out, client.ServerInfo{Addr: x, Down: x == down})
		}
		return out
	}
	var none netip.AddrPort
	tests := []struct {
		name    string
		servers []client.ServerInfo
		first   netip.AddrPort
		prev    netip.AddrPort
		want    []netip.AddrPort
	}{
		{"one server: nothing to avoid", info(none, a), a, none, nil},
		{"two: the first hop", info(none, a, b), a, none, []netip.AddrPort{a}},
		{"two, previous relay is the other: the first hop only", info(none, a, b), a, b, []netip.AddrPort{a}},
		{"three: the first hop and the previous relay", info(none, a, b, c), a, b, []netip.AddrPort{a, b}},
		{"three, no previous relay", info(none, a, b, c), a, none, []netip.AddrPort{a}},
		{"three, one down: as two", info(c, a, b, c), a, b, []netip.AddrPort{a}},
		{"previous relay was the first hop", info(none, a, b, c), a, a, []netip.AddrPort{a}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := relayAvoid(tt.servers, tt.first, tt.prev); !slices.Equal(got, tt.want) {
				t.Errorf("relayAvoid = %v, want %v", got, tt.want)
			}
		})
	}
}

// fakeRing places an id on one of servers by hashing it, as a ring of
// servers does by its successor rule.
type fakeRing struct {
	servers []netip.AddrPort
	live    map[id.ID]bool
	inserts int
}

func (r *fakeRing) insert(_ context.Context, x id.ID) (id.ID, netip.AddrPort, error) {
	r.inserts++
	r.live[x] = true
	h := sha256.Sum256(x[:])
	return x, r.servers[int(h[0])%len(r.servers)], nil
}

func (r *fakeRing) remove(x id.ID) { delete(r.live, x) }

func TestPickRelay(t *testing.T) {
	servers := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:1"), netip.MustParseAddrPort("10.0.0.3:1")}
	t.Run("avoids the given servers, keeps one trigger", func(t *testing.T) {
		seen := map[netip.AddrPort]int{}
		for range 200 {
			ring := &fakeRing{servers: servers, live: map[id.ID]bool{}}
			avoid := servers[:2]
			h, x, server, tries, err := pickRelay(context.Background(), ring.insert, ring.remove, id.Random, avoid)
			if err != nil || h != x || tries != ring.inserts || tries > anonTries {
				t.Fatalf("pickRelay: %v, tries %d, inserts %d", err, tries, ring.inserts)
			}
			if len(ring.live) != 1 || !ring.live[x] {
				t.Fatalf("%d triggers left, want only the one kept", len(ring.live))
			}
			seen[server]++
		}
		// Each try lands on an avoided server with probability 2/3: all 8
		// of one pick do with probability 0.04; 200 picks: some must.
		if seen[servers[2]] < 150 {
			t.Errorf("relays picked %v: the one allowed server should dominate", seen)
		}
	})
	t.Run("nothing to avoid: the first insertion", func(t *testing.T) {
		ring := &fakeRing{servers: servers[:1], live: map[id.ID]bool{}}
		_, _, server, tries, err := pickRelay(context.Background(), ring.insert, ring.remove, id.Random, nil)
		if err != nil || tries != 1 || server != servers[0] {
			t.Fatalf("pickRelay: %v, %d tries, %v", err, tries, server)
		}
	})
	t.Run("bounded when every server is avoided", func(t *testing.T) {
		ring := &fakeRing{servers: servers[:1], live: map[id.ID]bool{}}
		_, _, server, tries, err := pickRelay(context.Background(), ring.insert, ring.remove, id.Random, servers[:1])
		if err != nil || tries != anonTries || server != servers[0] || len(ring.live) != 1 {
			t.Fatalf("pickRelay: %v, %d tries, %v, %d triggers left", err, tries, server, len(ring.live))
		}
	})
	t.Run("insertion error", func(t *testing.T) {
		boom := errors.New("no server answers")
		_, _, _, _, err := pickRelay(context.Background(), func(context.Context, id.ID) (int, netip.AddrPort, error) {
			return 0, netip.AddrPort{}, boom
		}, func(int) {}, id.Random, nil)
		if !errors.Is(err, boom) {
			t.Fatalf("pickRelay = %v, want %v", err, boom)
		}
	})
}

func TestAnonRewrite(t *testing.T) {
	px := &Proxy{own4: netip.MustParseAddr("100.64.0.5"), own6: netip.MustParseAddr("fd00::5")}
	st, err := newAnonState(netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("fd00::/64"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	peer4, peer6 := netip.MustParseAddr("100.64.0.9"), netip.MustParseAddr("fd00::9")
	build := func(h packet.Header) ([]byte, packet.Parsed) {
		b, err := packet.Build(h, []byte("payload"))
		if err != nil {
			t.Fatal(err)
		}
		var pp packet.Parsed
		if err := pp.Decode(b); err != nil {
			t.Fatal(err)
		}
		return b, pp
	}
	for _, fam := range []struct {
		own, anon, peer netip.Addr
		proto           packet.IPProto
	}{{px.own4, st.addr4, peer4, packet.ProtoUDP}, {px.own6, st.addr6, peer6, packet.ProtoTCP}} {
		b, pp := build(packet.Header{Src: netip.AddrPortFrom(fam.own, 1000), Dst: netip.AddrPortFrom(fam.peer, 80), Proto: fam.proto})
		if !px.anonSource(st, b, &pp) || pp.Src.Addr() != fam.anon || packet.VerifyChecksums(b) != nil {
			t.Fatalf("source %v not rewritten to %v (or bad checksums): %v", fam.own, fam.anon, pp.String())
		}
		b, pp = build(packet.Header{Src: netip.AddrPortFrom(fam.peer, 80), Dst: netip.AddrPortFrom(fam.anon, 1000), Proto: fam.proto})
		if !px.anonDest(st, b, &pp) || pp.Dst.Addr() != fam.own || packet.VerifyChecksums(b) != nil {
			t.Fatalf("destination %v not rewritten to %v: %v", fam.anon, fam.own, pp.String())
		}
		b, pp = build(packet.Header{Src: netip.AddrPortFrom(fam.peer, 80), Dst: netip.AddrPortFrom(fam.own, 1000), Proto: fam.proto})
		if px.anonDest(st, b, &pp) {
			t.Fatalf("a packet to this host's own address %v was accepted from a peer reached anonymously", fam.own)
		}
	}
	b, pp := build(packet.Header{Src: netip.AddrPortFrom(px.own4, 0), Dst: netip.AddrPortFrom(peer4, 0), Proto: packet.ProtoICMPv4,
		ICMPType: 3, ICMPCode: 3})
	if px.anonSource(st, b, &pp) {
		t.Fatal("an ICMP error (it quotes this host's own address) would be sent to a peer reached anonymously")
	}
	b, pp = build(packet.Header{Src: netip.AddrPortFrom(px.own4, 0), Dst: netip.AddrPortFrom(peer4, 0), Proto: packet.ProtoICMPv4,
		ICMPType: uint8(packet.ICMPv4EchoRequest)})
	if !px.anonSource(st, b, &pp) || pp.Src.Addr() != st.addr4 {
		t.Fatal("an echo request was not rewritten")
	}
	if allocs := testing.AllocsPerRun(100, func() {
		pp.Decode(b)
		px.anonSource(st, b, &pp)
	}); allocs != 0 {
		t.Errorf("anonSource allocates %v times per packet", allocs)
	}
}

func TestAnonDue(t *testing.T) {
	px := &Proxy{cfg: Config{AnonRotate: time.Minute}}
	p := &peer{anonymous: true}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := &anonState{started: t0.UnixNano()}
	p.anon.Store(st)
	at := func(d time.Duration) int64 { return t0.Add(d).UnixNano() }
	p.lastTx.Store(at(59 * time.Second))
	tests := []struct {
		now    time.Duration
		lastRx time.Duration
		due    bool
	}{
		{30 * time.Second, 0, false},                        // young
		{60500 * time.Millisecond, 0, false},                // old, but a packet went out 1.5 s ago
		{61500 * time.Millisecond, 0, true},                 // old and quiet
		{61500 * time.Millisecond, 61 * time.Second, false}, // a packet came in 0.5 s ago
	}
	for _, tt := range tests {
		p.lastRx.Store(at(tt.lastRx))
		if got, due := px.anonDue(p, at(tt.now)); due != tt.due || got != st {
			t.Errorf("at %v (last rx %v): due %v, want %v", tt.now, tt.lastRx, due, tt.due)
		}
	}
	p.anon.Store(nil)
	if _, due := px.anonDue(p, at(time.Hour)); due {
		t.Error("a peer between sessions is due")
	}
}

// TestSpreadIDs: the ids of one pick fall in distinct sectors of the id
// space, so a server owning a sector is found within anonTries tries.
func TestSpreadIDs(t *testing.T) {
	next := spreadIDs()
	sectors := map[byte]bool{}
	for range anonTries {
		x := next()
		if x != x.WithPublic(false) {
			t.Fatalf("%s is not a private id", x.Short())
		}
		sectors[x[0]/(256/anonTries)] = true
	}
	if len(sectors) != anonTries {
		t.Fatalf("%d tries covered %d sectors, want %d", anonTries, len(sectors), anonTries)
	}
	// A ring whose servers own (0x20, 0x50], (0x50, 0x80] and the rest
	// (the e2e test's): picking one of the two small ones never fails.
	owner := func(x id.ID) int {
		switch {
		case x[0] > 0x20 && x[0] <= 0x50:
			return 1
		case x[0] > 0x50 && x[0] <= 0x80:
			return 2
		}
		return 0
	}
	for range 500 {
		ring := &fakeRing{servers: []netip.AddrPort{{}, {}, {}}, live: map[id.ID]bool{}}
		servers := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:1"), netip.MustParseAddrPort("10.0.0.3:1")}
		insert := func(ctx context.Context, x id.ID) (id.ID, netip.AddrPort, error) {
			ring.live[x] = true
			return x, servers[owner(x)], nil
		}
		_, _, server, _, _ := pickRelay(context.Background(), insert, ring.remove, spreadIDs(), servers[:2])
		if server != servers[2] {
			t.Fatalf("picked %v, want the only server not avoided, %v", server, servers[2])
		}
	}
}

// TestAnonymousInExpireSooner: a peer that reached this host anonymously is
// forgotten after min(TO, anonForget) unused, the others after TO; setLocal
// re-indexes a peer under its new private id.
func TestAnonymousInExpireSooner(t *testing.T) {
	r := newTestRegistry(t, time.Hour)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	anon, err := r.get(newKey(t), "", t0.UnixNano(), func(p *peer) { p.anonymousIn = true })
	if err != nil {
		t.Fatal(err)
	}
	named, err := r.get(newKey(t), "home", t0.UnixNano(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if gone := r.expire(t0.Add(anonForget - time.Second)); len(gone) != 0 {
		t.Fatalf("expired %d peers before %v", len(gone), anonForget)
	}
	if gone := r.expire(t0.Add(anonForget)); len(gone) != 1 || gone[0] != anon || r.byPeerKey(named.key) != named {
		t.Fatalf("after %v: expired %v, want only the anonymous peer", anonForget, gone)
	}

	old := named.local()
	x := id.Random()
	r.setLocal(named, x)
	if r.byLocalPriv(x) != named || r.byLocalPriv(old) != nil || named.local() != x {
		t.Fatal("setLocal did not re-index the peer under its new private id")
	}
}

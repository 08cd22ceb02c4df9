package security

import (
	"crypto/rand"
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server"
	"github.com/i3net/i3net/server/servertest"
	"github.com/i3net/i3net/wire"
)

// running returns the addresses of the servers of ss still running.
func running(ss []*servertest.Server) []netip.AddrPort {
	var out []netip.AddrPort
	for _, s := range ss {
		if !s.Stopped() {
			out = append(out, s.Addr())
		}
	}
	return out
}

// challengeAt waits for a TRIGGER_CHALLENGE for x at r and returns it with the
// server that sent it.
func challengeAt(t *testing.T, r *raw, x id.ID) (wire.Trigger, netip.AddrPort) {
	t.Helper()
	deadline := time.Now().Add(testwait.Timeout)
	for {
		b, from, err := r.read(deadline)
		if err != nil {
			t.Fatalf("%v: no challenge for %v: %v", r.addr, x.Short(), err)
		}
		var p wire.Packet
		if p.Decode(b) != nil {
			continue
		}
		if o := p.Option(wire.OptTriggerChallenge); o != nil && o.Trigger.ID == x {
			return o.Trigger, from
		}
	}
}

func installed(ss []*servertest.Server) (n uint64) {
	for _, s := range ss {
		if s != nil {
			n += s.Stats().Installed
		}
	}
	return n
}

// Attack 9: challenged insertion across the servers of a ring and their
// replicas. Three servers; A receives the insertions, B owns the id x, and
// B's successor holds B's copies.
//
//   - An insertion of x pointing at a victim, sent to A, goes to B in one hop;
//     B, not A, challenges, and at the victim (only the target's answer
//     installs it): the attacker gets no nonce, and guessed ones, sent to
//     any of the three, install nothing.
//   - An honest host inserting through A gets its challenge from B, answers
//     through A, and is installed on B and copied to B's successor.
//   - EXT_REPLICATE from a host that is no ring member (to B and to the copy
//     holder) is dropped (not_member): nothing is installed or moved, and
//     packets to x still reach the honest host only.
//   - B dies; its successor takes x over with the honest host's copy, and
//     delivers to it. An unchallenged insertion of x at the new owner (or
//     through A) is challenged at its target, not installed; the nonce B
//     gave the honest host is worth nothing at the new owner (each server
//     has its own secret): its refresh is challenged again, and answered.
func TestChallengeAcrossRing(t *testing.T) {
	ss := servertest.StartRing(t, 3, nil)
	const b = 1
	x := servertest.IDOwnedBy(t, ss, b)
	holder := -1 // B's successor: the holder of B's copies, the owner after B
	for i, s := range ss {
		if m := ss[0].Ring().Snapshot().Successors(x.Key(), 2); len(m) == 2 && m[1].Data == s.Addr() {
			holder = i
		}
	}
	if holder < 0 || holder == b {
		t.Fatalf("no successor of server %d for %v", b, x.Short())
	}
	a := 3 - b - holder // the third: it owns neither x nor its copy
	t.Logf("servers: A %v, owner B %v, B's successor %v", ss[a].Addr(), ss[b].Addr(), ss[holder].Addr())
	attacker, victim, honest := newRaw(t, "127.0.0.71"), newRaw(t, "127.0.0.72"), newRaw(t, "127.0.0.73")
	sender := newRaw(t, "127.0.0.74")

	// At a victim, through A.
	aimed := wire.Trigger{ID: x, PrefixLen: 256, Target: wire.IPAddr(victim.addr)}
	hops := ss[a].Stats().Hops
	attacker.send(ss[a].Addr(), insertPacket(aimed, attacker.addr))
	ch, from := challengeAt(t, victim, x)
	if from != ss[b].Addr() {
		t.Fatalf("the challenge came from %v, want the owner B %v", from, ss[b].Addr())
	}
	if ss[a].Stats().Hops == hops {
		t.Fatal("A did not send the insertion on to B")
	}
	for i := range 20 {
		tr := aimed
		rand.Read(tr.Nonce[:])
		attacker.send(ss[[]int{a, b, holder}[i%3]].Addr(), insertPacket(tr, attacker.addr))
	}
	settle(t, servertest.Addrs(ss...)...)
	for _, d := range attacker.drain(running(ss)...) {
		var p wire.Packet
		if p.Decode(d) == nil && (p.Option(wire.OptTriggerAck) != nil || p.Option(wire.OptTriggerChallenge) != nil) {
			t.Fatalf("the attacker got %v for a trigger at the victim", optionTypes(&p))
		}
	}
	if ch.Nonce == [wire.NonceLen]byte{} {
		t.Fatal("the victim's challenge carries no nonce")
	}
	if n := installed(ss); n != 0 {
		t.Fatalf("%d triggers installed for an insertion the victim never made", n)
	}
	t.Logf("at the victim: challenged by B only, nothing installed; stale nonces A %d, B %d, successor %d",
		ss[a].Stats().StaleNonces, ss[b].Stats().StaleNonces, ss[holder].Stats().StaleNonces)

	// An honest host, through A.
	own := wire.Trigger{ID: x, PrefixLen: 256, Target: wire.IPAddr(honest.addr)}
	honest.send(ss[a].Addr(), insertPacket(own, honest.addr))
	ch, from = challengeAt(t, honest, x)
	if from != ss[b].Addr() {
		t.Fatalf("the honest host's challenge came from %v, want B %v", from, ss[b].Addr())
	}
	own.Nonce = ch.Nonce
	honest.send(ss[a].Addr(), insertPacket(own, honest.addr))
	testwait.For(t, "B to install the honest trigger", func() bool { return ss[b].Stats().Installed == 1 })
	testwait.For(t, "B's successor to hold its copy", func() bool { return ss[holder].Stats().ReplicasReceived >= 1 })
	if ss[a].Stats().Installed != 0 {
		t.Fatal("A installed a trigger it does not own")
	}
	honest.drain(running(ss)...)
	deliveredTo := func(r *raw, payload string, via *servertest.Server) bool {
		t.Helper()
		sender.send(via.Addr(), dataPacket(x, sender.addr, []byte(payload)))
		for _, d := range r.drain(running(ss)...) {
			var p wire.Packet
			if p.Decode(d) == nil && p.Flags&wire.FlagData != 0 && string(p.Payload) == payload {
				return true
			}
		}
		return false
	}
	if !deliveredTo(honest, "through A, before", ss[a]) {
		t.Fatal("a packet to x did not reach the honest host")
	}

	// Replication from a stranger, to B and to the copy holder.
	forged := wire.Replica{Op: wire.ReplicateInstall, Lifetime: 60000, Inserter: attacker.addr,
		Trigger: wire.Trigger{ID: x, PrefixLen: 256, Target: wire.IPAddr(attacker.addr)}}
	rp := &wire.Packet{Flags: wire.FlagOptions}
	rp.AddOption(wire.ReplicateOption(&forged))
	for _, i := range []int{b, holder} {
		for range 5 {
			attacker.send(ss[i].Addr(), rp)
		}
	}
	// Each forged datagram is dropped as not_member or applied: five drops
	// each is all of them dropped. (ReplicasReceived would not tell: under
	// load the ring's views can differ for a moment, and B sends its own
	// trigger to its successor again.)
	testwait.For(t, "the forged replicas to be dropped", func() bool {
		return ss[b].Stats().Drops[server.DropNotMember] >= 5 && ss[holder].Stats().Drops[server.DropNotMember] >= 5
	})
	attacker.drain(running(ss)...)
	if !deliveredTo(honest, "through A, after the forged replicas", ss[a]) {
		t.Fatal("after the forged replicas, a packet to x did not reach the honest host")
	}
	if _, got := attacker.dataReceived(running(ss)...); got {
		t.Fatal("the attacker received a packet to x")
	}
	t.Logf("forged EXT_REPLICATE: dropped as not_member by B (%d) and the successor (%d)",
		ss[b].Stats().Drops[server.DropNotMember], ss[holder].Stats().Drops[server.DropNotMember])

	// B dies; its successor takes x over.
	ss[b].Crash()
	testwait.For(t, "the others to see B gone", func() bool {
		return ss[a].Stats().RingMembers == 2 && ss[holder].Stats().RingMembers == 2
	})
	if o := servertest.Owner(t, ss, a, x); o != holder {
		t.Fatalf("after B died, server %d owns x, want its successor %d", o, holder)
	}
	testwait.For(t, "the takeover of B's copies", func() bool { return ss[holder].Stats().ReplicaTakeovers >= 1 })
	honest.drain(running(ss)...)
	testwait.For(t, "delivery from the copy after the takeover", func() bool { return deliveredTo(honest, "after the takeover", ss[a]) })
	victim.drain(running(ss)...)
	honest.drain(running(ss)...)
	before := ss[holder].Stats()

	for _, via := range []*servertest.Server{ss[holder], ss[a]} {
		attacker.send(via.Addr(), insertPacket(aimed, attacker.addr))
		ch, from = challengeAt(t, victim, x)
		if from != ss[holder].Addr() {
			t.Fatalf("after the takeover the challenge came from %v, want the new owner %v", from, ss[holder].Addr())
		}
		// With the honest host's nonce (as the path saw it) on the victim's
		// trigger: the MAC covers the target.
		stolen := aimed
		stolen.Nonce = own.Nonce
		attacker.send(via.Addr(), insertPacket(stolen, attacker.addr))
	}
	// The honest host's refresh with B's nonce: worth nothing here.
	honest.send(ss[holder].Addr(), insertPacket(own, honest.addr))
	ch, from = challengeAt(t, honest, x)
	if from != ss[holder].Addr() || ch.Nonce == own.Nonce {
		t.Fatalf("refresh with B's nonce: challenge from %v with the same nonce %v", from, ch.Nonce == own.Nonce)
	}
	own.Nonce = ch.Nonce
	honest.send(ss[holder].Addr(), insertPacket(own, honest.addr))
	settle(t, ss[holder].Addr())
	after := ss[holder].Stats()
	if got := after.Installed - before.Installed; got != 0 {
		t.Fatalf("the new owner installed %d triggers after the takeover", got)
	}
	if after.Refreshed == before.Refreshed {
		t.Fatal("the honest host's answered refresh did not refresh its trigger at the new owner")
	}
	if after.StaleNonces-before.StaleNonces < 3 {
		t.Fatalf("the new owner counted %d stale nonces, want ≥ 3", after.StaleNonces-before.StaleNonces)
	}
	if !deliveredTo(honest, "at the end", ss[a]) {
		t.Fatal("at the end, a packet to x did not reach the honest host")
	}
	if _, got := victim.dataReceived(running(ss)...); got {
		t.Fatal("the victim received a packet to x")
	}
	t.Logf("after the takeover: %d copies taken over, unchallenged insertions challenged at the victim, "+
		"stale nonces %d (the victim's trigger with the honest nonce, the honest refresh with B's), installed 0",
		after.ReplicaTakeovers, after.StaleNonces-before.StaleNonces)
}

package server

import (
	"net/netip"
	"slices"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/ring"
	"github.com/i3net/i3net/wire"
)

// The handover: when the ring's membership changes, triggers move so that
// none is lost. One goroutine compares the snapshot it last acted on with the
// current one and walks the trigger table once, shard by shard; for each live
// trigger whose id
//
//   - was this server's and is now another's (a server joined in front of
//     it): the trigger goes to its new owner, and stays here as a copy;
//   - is now this server's and was not (its owner died or left): it is
//     served from here at once, a takeover, and goes to this server's
//     successors, which may not hold it;
//   - is this server's in both, but its successors changed: it goes to the
//     successors that are new (or restarted);
//   - is another's, held here as a copy, and its owner restarted (the same
//     member with another epoch, ring.Member.Epoch: back before the others
//     declared it dead, with an empty table): it goes back to its owner, so
//     that the owner does not answer "not present" until the hosts' next
//     refreshes, 10–15 s later.
//
// Triggers travel as EXT_REPLICATE options (replicate.go), with the lifetime
// they have left, in datagrams of replicaMTU, pushBurst datagrams at a time.
// The walk reads each shard under its read lock and sends after releasing
// it. Hosts refreshing meanwhile are not disturbed: a refresh and a pushed
// copy of the same trigger are the same upsert.
//
// The host a moved trigger points at is told too: a trigger pushed to a new
// owner, or taken over, whose target is an address gets CACHE_ADDR (its id →
// the server now responsible) sent to that address, from this server. A
// host behind a NAT has a mapping open toward the server its refreshes go
// to, not toward a server that just joined: the new owner's deliveries are
// dropped by the NAT until the host sends it something. The old owner's hint
// passes that NAT (the host's refreshes opened it), and the client inserts
// the trigger again at the new owner at once (client/trigger.go, follow),
// which opens the mapping, instead of at its next refresh, 10–15 s later. On
// a takeover the old owner is dead, so the hint comes from the new owner
// itself: it gets through only where the host already talks to it (its
// round-trip pings), and otherwise the client's liveness check, noticing the
// dead server at its next refresh, moves the trigger. At most
// handoverHintsMax hints per change, several to one host in one datagram,
// paced like the pushes; a host is only ever sent hints at the address its
// trigger points to, which answered a challenge.

// handover is the goroutine that moves triggers on membership changes.
type handover struct {
	s    *Server
	wake chan struct{} // a new snapshot is there
	last *ring.Snapshot

	// Scratch, reused from one change to the next.
	moves  []move
	outs   map[netip.AddrPort][]byte
	sent   int                             // datagrams sent in the current burst
	hints  map[netip.AddrPort]*wire.Packet // CACHE_ADDR for the hosts of moved triggers
	nhints int                             // hints queued during the current change
	auth   *ringAuth                       // seals the pushes; nil without a ring key
}

// move is one trigger to send: to the successors in succ, or to one address;
// and, when owner is set, the CACHE_ADDR naming owner to send to the host the
// trigger points to.
type move struct {
	e     entry
	succ  []ring.Member
	to    netip.AddrPort
	owner netip.AddrPort
}

func newHandover(s *Server) *handover {
	return &handover{s: s, wake: make(chan struct{}, 1), outs: map[netip.AddrPort][]byte{},
		hints: map[netip.AddrPort]*wire.Packet{}, auth: newRingAuth(s.ringKey)}
}

// kick tells the handover a new snapshot is there; it never blocks.
func (h *handover) kick() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// run acts on each new snapshot until the server closes.
func (h *handover) run() {
	defer h.s.bg.Done()
	for {
		select {
		case <-h.s.stopBg:
			return
		case <-h.wake:
		}
		cur := h.s.view.Load()
		if cur == nil || cur == h.last {
			continue
		}
		took, pushed, copied := h.rebalance(h.last, cur)
		h.last = cur
		if took+pushed+copied > 0 {
			h.s.log.Info("ring changed: triggers moved", "servers", cur.Len(), "taken_over", took,
				"pushed_to_new_owners", pushed, "copied_to_new_replicas", copied, "hosts_hinted", h.nhints)
		}
	}
}

// rebalance moves what the change from old to cur requires (old nil: this
// server alone, owning every id). It returns how many triggers it took over,
// pushed to new owners, and copied to new successors.
func (h *handover) rebalance(old, cur *ring.Snapshot) (took, pushed, copied int) {
	s := h.s
	local, ok := cur.Local()
	if !ok {
		return 0, 0, 0
	}
	newSucc := successors(cur, local, s.cfg.Replicas)
	restarted := restartedMembers(old, cur, local)
	var added []ring.Member
	if old != nil {
		oldSucc := successors(old, local, s.cfg.Replicas)
		for _, m := range newSucc {
			if restarted[m.Data] || !slices.ContainsFunc(oldSucc, func(o ring.Member) bool { return o.Data == m.Data }) {
				added = append(added, m)
			}
		}
	} else {
		added = newSucc
	}
	now := s.clock.Now().UnixNano()
	h.nhints = 0
	clear(h.hints) // left by a walk that the server's closing cut short
	for i := range s.table.shards {
		h.moves = h.moves[:0]
		s.table.scan(i, func(k id.Key128, e *entry) {
			if e.expires <= now {
				return
			}
			owned, was := cur.Owns(k), old == nil || old.Owns(k)
			switch {
			case owned && !was:
				took++
				h.moves = append(h.moves, move{e: *e, succ: newSucc, owner: local.Data})
			case owned && len(added) > 0:
				copied++
				h.moves = append(h.moves, move{e: *e, succ: added})
			case !owned && was:
				pushed++
				to := cur.Responsible(k).Data
				h.moves = append(h.moves, move{e: *e, to: to, owner: to})
			case !owned && len(restarted) > 0 && restarted[cur.Responsible(k).Data]:
				pushed++ // a copy of what a restarted owner lost: give it back
				to := cur.Responsible(k).Data
				h.moves = append(h.moves, move{e: *e, to: to, owner: to})
			}
		})
		for j := range h.moves {
			mv := &h.moves[j]
			if mv.to.IsValid() {
				h.send(mv.to, &mv.e, now)
			} else {
				for _, m := range mv.succ {
					h.send(m.Data, &mv.e, now)
				}
			}
			if mv.owner.IsValid() && mv.e.ip.IsValid() {
				h.hint(mv.e.ip, mv.e.id, mv.owner)
			}
		}
		clear(h.moves)
		select {
		case <-s.stopBg:
			return took, pushed, copied
		default:
		}
	}
	for to := range h.outs {
		h.flush(to)
	}
	// The new owners have the triggers (or will, a moment later): now tell
	// their hosts.
	for to := range h.hints {
		h.flushHints(to)
	}
	s.ctr[cTakeovers].Add(uint64(took))
	return took, pushed, copied
}

// restartedMembers returns the data addresses of the members of cur, other
// than local, that were in old with another epoch: they restarted, lost
// their triggers, and get back those this server holds for them (as their
// copy holder) or owns (as their successor's copy).
func restartedMembers(old, cur *ring.Snapshot, local ring.Member) map[netip.AddrPort]bool {
	if old == nil {
		return nil
	}
	epochs := make(map[netip.AddrPort]uint64, old.Len())
	for _, m := range old.Members() {
		epochs[m.Data] = m.Epoch
	}
	var out map[netip.AddrPort]bool
	for _, m := range cur.Members() {
		if e, ok := epochs[m.Data]; ok && e != m.Epoch && m.Data != local.Data {
			if out == nil {
				out = map[netip.AddrPort]bool{}
			}
			out[m.Data] = true
		}
	}
	return out
}

// successors returns the members after m on the ring that hold copies of
// what m owns: up to n of them, never m itself.
func successors(s *ring.Snapshot, m ring.Member, n int) []ring.Member {
	var out []ring.Member
	for _, x := range s.Successors(m.Position, 1+n) {
		if x.Data != m.Data {
			out = append(out, x)
		}
	}
	return out
}

// send adds trigger e to the datagram being filled for to, sending it when
// full.
func (h *handover) send(to netip.AddrPort, e *entry, now int64) {
	s := h.s
	if to == s.public || to.Addr().Is4() == s.is6 {
		return
	}
	r := wire.Replica{
		Op:       wire.ReplicateInstall,
		Lifetime: lifetimeMillis(e.expires - now),
		Trigger:  wire.Trigger{Flags: e.flags, ID: e.id, PrefixLen: e.prefixLen, Key: e.key},
		Inserter: netip.AddrPortFrom(e.owner, 0),
	}
	if e.ip.IsValid() {
		r.Trigger.Target = wire.IPAddr(e.ip)
	} else {
		r.Trigger.Target = wire.StackAddr(e.stack...)
	}
	b := h.outs[to]
	if len(b)+r.OptionLen() > replicaMTU-wire.RingAuthLen {
		h.flush(to)
		b = h.outs[to]
	}
	if b == nil {
		b = make([]byte, 0, replicaMTU)
	}
	if len(b) == 0 {
		b = wire.AppendControlHeader(b)
	}
	b = r.AppendOption(b)
	h.outs[to] = b
	s.ctr[cReplicasOut].Add(1)
}

// flush sends the datagram being filled for to, pausing after every
// pushBurst datagrams.
func (h *handover) flush(to netip.AddrPort) {
	b := h.outs[to]
	if len(b) <= replicaHeader {
		return
	}
	b = h.auth.seal(b, h.s.clock.Now())
	h.write(b, to)
	h.outs[to] = b[:0]
}

// write sends datagram b to to, pausing after every pushBurst datagrams.
func (h *handover) write(b []byte, to netip.AddrPort) {
	if err := h.s.conn.WriteTo(b, to); err != nil {
		h.s.ctr[cDrops+int(DropSendFailed)].Add(1)
	} else {
		h.s.ctr[cPacketsOut].Add(1)
		h.s.ctr[cBytesOut].Add(uint64(len(b)))
	}
	if h.sent++; h.sent%pushBurst == 0 {
		time.Sleep(pushPause)
	}
}

// hint adds, for the host at to (a moved trigger's target), CACHE_ADDR: ids
// sharing x's first 128 bits are served by owner. Beyond handoverHintsMax
// hints in one change, the hosts learn it at their next refresh.
func (h *handover) hint(to netip.AddrPort, x id.ID, owner netip.AddrPort) {
	s := h.s
	if to.Addr().Is4() == s.is6 || h.nhints >= handoverHintsMax {
		return
	}
	h.nhints++
	o := wire.Option{Type: wire.OptCacheAddr, Trigger: wire.Trigger{
		ID:        x,
		PrefixLen: cachePrefixLen,
		Target:    wire.IPAddr(owner),
	}}
	p := h.hints[to]
	if p == nil {
		p = &wire.Packet{Flags: wire.FlagOptions}
		h.hints[to] = p
	}
	for _, q := range p.Options {
		if q.Trigger.ID == x && q.Trigger.Target == o.Trigger.Target {
			return // several triggers on x point at to
		}
	}
	p.AddOption(o)
	if p.HeaderLen() > replicaMTU {
		p.Options = p.Options[:len(p.Options)-1]
		h.flushHints(to)
		p.AddOption(o)
	}
}

// flushHints sends the hints gathered for the host at to, and forgets to.
func (h *handover) flushHints(to netip.AddrPort) {
	p := h.hints[to]
	delete(h.hints, to)
	if p == nil || len(p.Options) == 0 {
		return
	}
	h.write(p.AppendTo(make([]byte, 0, p.HeaderLen())), to)
	p.Options = p.Options[:0]
}

package server

import (
	"encoding/binary"
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
//     successors that are new.
//
// Triggers travel as EXT_REPLICATE options (replicate.go), with the lifetime
// they have left, in datagrams of replicaMTU, pushBurst datagrams at a time.
// The walk reads each shard under its read lock and sends after releasing
// it. Hosts refreshing meanwhile are not disturbed: a refresh and a pushed
// copy of the same trigger are the same upsert.

// handover is the goroutine that moves triggers on membership changes.
type handover struct {
	s    *Server
	wake chan struct{} // a new snapshot is there
	last *ring.Snapshot

	// Scratch, reused from one change to the next.
	moves []move
	outs  map[netip.AddrPort][]byte
	sent  int // datagrams sent in the current burst
}

// move is one trigger to send: to the successors in succ, or to one address.
type move struct {
	e    entry
	succ []ring.Member
	to   netip.AddrPort
}

func newHandover(s *Server) *handover {
	return &handover{s: s, wake: make(chan struct{}, 1), outs: map[netip.AddrPort][]byte{}}
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
				"pushed_to_new_owners", pushed, "copied_to_new_replicas", copied)
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
	var added []ring.Member
	if old != nil {
		oldSucc := successors(old, local, s.cfg.Replicas)
		for _, m := range newSucc {
			if !slices.ContainsFunc(oldSucc, func(o ring.Member) bool { return o.Data == m.Data }) {
				added = append(added, m)
			}
		}
	} else {
		added = newSucc
	}
	now := s.clock.Now().UnixNano()
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
				h.moves = append(h.moves, move{e: *e, succ: newSucc})
			case owned && len(added) > 0:
				copied++
				h.moves = append(h.moves, move{e: *e, succ: added})
			case !owned && was:
				pushed++
				h.moves = append(h.moves, move{e: *e, to: cur.Responsible(k).Data})
			}
		})
		for j := range h.moves {
			mv := &h.moves[j]
			if mv.to.IsValid() {
				h.send(mv.to, &mv.e, now)
				continue
			}
			for _, m := range mv.succ {
				h.send(m.Data, &mv.e, now)
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
	s.ctr[cTakeovers].Add(uint64(took))
	return took, pushed, copied
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
	if len(b)+3+r.EncodedLen() > replicaMTU {
		h.flush(to)
		b = h.outs[to]
	}
	if b == nil {
		b = make([]byte, 0, replicaMTU)
	}
	if len(b) == 0 {
		b = append(b, wire.Version, wire.FlagOptions, 0, 0, 0)
	}
	at := len(b)
	b = append(b, byte(wire.ExtReplicate), 0, 0)
	b = r.AppendTo(b)
	binary.BigEndian.PutUint16(b[at+1:], uint16(len(b)-at-3))
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
	binary.BigEndian.PutUint16(b[3:], uint16(len(b)-3))
	if err := h.s.conn.WriteTo(b, to); err != nil {
		h.s.ctr[cDrops+int(DropSendFailed)].Add(1)
	} else {
		h.s.ctr[cPacketsOut].Add(1)
		h.s.ctr[cBytesOut].Add(uint64(len(b)))
	}
	h.outs[to] = b[:0]
	if h.sent++; h.sent%pushBurst == 0 {
		time.Sleep(pushPause)
	}
}

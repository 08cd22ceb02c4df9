package server

import (
	"net/netip"
	"time"

	"github.com/i3net/i3net/wire"
)

// Replication (a ring of servers): the server that installs, refreshes or
// removes a trigger sends the change to the next Config.Replicas servers of
// the ring (the successors of the trigger's id), each change one EXT_REPLICATE
// option, the changes of one received batch packed into as few datagrams per
// successor as fit in replicaMTU. They go on the data sockets, the
// server-to-server path. A server applies EXT_REPLICATE only from the data
// address of a ring member. Copies sit in the same trigger table as the
// triggers the server owns: a server serves only the ids it owns (packets
// for the others go on to their owner, hop.go), so a copy is inert until
// ownership of its id moves here, when its owner dies or leaves; the copies
// are then served at once (handover.go counts them as takeovers).

// replicaOut is a datagram of EXT_REPLICATE options being filled for one
// server during a batch.
type replicaOut struct {
	to  netip.AddrPort
	buf *packetBuf
	n   int // bytes written
}

// replicaHeader is the size of an EXT_REPLICATE datagram's header: version,
// flags (OPTION_LIST), no ids, the option list's length.
const replicaHeader = wire.ControlHeaderLen

// replicate queues the change op of trigger t (as installed; lifetime left in
// nanoseconds; charged to inserter) for the servers after its owner, or for
// its owner and those after it when this server does not own it (the views
// of the ring differ for a moment). Nothing without a ring or replicas.
func (w *worker) replicate(op uint8, t *wire.Trigger, lifetime int64, inserter netip.AddrPort) {
	if w.view == nil || w.replicas == 0 {
		return
	}
	r := &w.replica
	r.Op, r.Trigger, r.Inserter = op, *t, inserter
	r.Trigger.Nonce = [wire.NonceLen]byte{}
	r.Lifetime = lifetimeMillis(lifetime)
	need := r.OptionLen()
	for _, m := range w.view.Successors(t.ID.Key(), 1+w.replicas) {
		if m.Data == w.s.public || !w.sameFamily(m.Data.Addr()) {
			continue
		}
		out := w.replicaTo(m.Data, need)
		out.n = len(r.AppendOption(out.buf[:out.n]))
		w.ctr.inc(cReplicasOut)
	}
}

// replicaTo returns the datagram being filled for to, with room for need more
// bytes: a full one is queued first.
func (w *worker) replicaTo(to netip.AddrPort, need int) *replicaOut {
	for i := range w.repl {
		out := &w.repl[i]
		if out.to != to {
			continue
		}
		if out.n+need <= replicaMTU-wire.RingAuthLen {
			return out
		}
		w.sealReplica(out)
		out.buf, out.n = startReplica(), replicaHeader
		return out
	}
	w.repl = append(w.repl, replicaOut{to: to, buf: startReplica(), n: replicaHeader})
	return &w.repl[len(w.repl)-1]
}

// startReplica returns a pooled buffer holding the header of an EXT_REPLICATE
// datagram.
func startReplica() *packetBuf {
	b := bufPool.Get().(*packetBuf)
	wire.AppendControlHeader(b[:0])
	return b
}

// sealReplica writes the option list's length and queues the datagram; its
// buffer goes back to the pool after the flush.
func (w *worker) sealReplica(out *replicaOut) {
	b := w.auth.seal(out.buf[:out.n], time.Unix(0, w.now))
	w.room(0)
	w.extra = append(w.extra, out.buf)
	w.queue(b, out.to)
	out.buf = nil
}

// sealReplicas queues the datagrams filled during the batch.
func (w *worker) sealReplicas() {
	for i := range w.repl {
		w.sealReplica(&w.repl[i])
	}
	clear(w.repl)
	w.repl = w.repl[:0]
}

// lifetimeMillis converts a lifetime in nanoseconds to EXT_REPLICATE's
// milliseconds (at least 1 for a live trigger, at most what 32 bits hold).
func lifetimeMillis(ns int64) uint32 {
	if ns <= 0 {
		return 0
	}
	return uint32(min(max(ns/int64(time.Millisecond), 1), int64(^uint32(0))))
}

// applyReplica applies one EXT_REPLICATE option from a ring member: install
// or refresh the trigger with the lifetime it has left, or remove it. The
// inserter it names is charged, as if it had inserted here.
func (w *worker) applyReplica(body []byte) {
	r := &w.replica
	if err := wire.ParseReplicate(body, r); err != nil || !w.validReplica(r) {
		w.ctr.drop(DropBadReplica)
		return
	}
	t := &r.Trigger
	var tg target
	if t.Target.IsIP() {
		tg.ip = t.Target.IP
	} else {
		tg.stack = t.Target.Stack.IDs[:t.Target.Stack.N]
	}
	if r.Op == wire.ReplicateRemove {
		w.s.table.remove(t.ID, tg)
		w.ctr.inc(cReplicasIn)
		return
	}
	e := entry{
		id:        t.ID,
		prefixLen: t.PrefixLen,
		flags:     t.Flags,
		key:       t.Key,
		ip:        tg.ip,
		stack:     tg.stack,
		expires:   w.now + int64(r.Lifetime)*int64(time.Millisecond),
		owner:     sourceKey(r.Inserter.Addr()),
	}
	switch w.s.table.upsert(e, w.now) {
	case upsertInstalled, upsertRefreshed:
		w.ctr.inc(cReplicasIn)
	default:
		w.ctr.inc(cReplicasRefused)
	}
}

// validReplica reports whether a replica's trigger could have been installed
// by a server of this ring: the owner checked it, this checks what the table
// relies on.
func (w *worker) validReplica(r *wire.Replica) bool {
	t := &r.Trigger
	if t.PrefixLen > wire.MaxPrefixLen || !r.Inserter.Addr().IsValid() {
		return false
	}
	if r.Op == wire.ReplicateInstall && r.Lifetime == 0 {
		return false
	}
	if t.Target.Kind == wire.AddrStack {
		return t.Target.Stack.N > 0
	}
	a := t.Target.IP.Addr()
	return a.IsValid() && !a.IsUnspecified() && t.Target.IP.Port() != 0 && w.sameFamily(a)
}

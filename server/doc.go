// Package server is an i3 overlay server: it holds triggers (id → IP address or
// id → stack of ids) inserted by hosts, and forwards every data packet sent to
// an id to the targets of the triggers that match it (paper §2).
//
// It speaks the original Berkeley i3 wire format (package wire), so the
// original clients and proxies work with it, plus i3net's extensions, sent only
// to hosts that announce them (EXT_HELLO).
//
// Triggers are soft state, insertions are challenged (and signed for public
// ids), NAT is seen through (§5.1), and every source is rate-limited; a drop is
// counted, never logged. docs/server.md describes the role, its keys and its
// metrics; docs/server-forwarding.md the rules for matching and forwarding.
//
// What it must not know: anything of proxies, tun devices, DNS, address books
// or sessions. A host is an address that inserts triggers and sends packets;
// payloads are opaque. Membership and which server owns an id are package
// ring's: a server asks it and acts itself (one hop to the owner, cache hints,
// replication, handover).
//
// Performance rules, for whoever changes forward.go or control.go:
//
//   - One worker goroutine per socket reads batches (recvmmsg via
//     internal/mmsg) into fixed buffers with headroom, handles each
//     datagram, and writes what it produced with one sendmmsg. The clock is
//     read once per batch; counters are summed privately and published once
//     per batch.
//   - Per datagram: check the length, decode once into a reused wire.Packet,
//     one limiter probe, one table lookup under a shard's read lock, then act or
//     count a drop. A delivered copy's header is written in place in front of
//     the payload (wire.DataHeader.PutBefore): forwarding copies and allocates
//     nothing. Control replies are encoded into a per-worker arena.
//   - No allocation per packet in steady state (TestZeroAllocs), no log line,
//     no per-packet goroutine, channel or timer. Insertions may allocate
//     (a new trigger's table entry), signature checks too.
//
// See docs/benchmarks.md ("Server forwarding") for measured rates.
package server

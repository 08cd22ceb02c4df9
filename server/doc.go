// Package server is an i3 overlay server: it holds triggers (id → IP address or
// id → stack of ids) inserted by hosts, and forwards every data packet sent to
// an id to the targets of the triggers that match it (paper §2).
//
// It speaks the original Berkeley i3 wire format (package wire), so the
// original clients and proxies work with it, plus i3net's extensions, sent only
// to hosts that announce them (EXT_HELLO).
//
// What it does:
//
//   - Triggers are soft state: each lives Config.TriggerTTL (30 s) after its
//     last refresh, or until a TRIGGER_REMOVE with a valid nonce. Expiry is
//     exact at lookup; a periodic sweep frees memory. No goroutine or timer per
//     trigger.
//   - Matching: a packet id matches a trigger when they share the first 128
//     bits and at least the trigger's prefix length; the longest match wins
//     (anycast), ties between different ids go to the smaller id, and every
//     trigger with the winning id receives a copy (multicast), each target
//     once.
//   - Forwarding: a copy for an IP target carries the stack [matched id,
//     remaining ids…] and no options; a stack target replaces ids[0] and the
//     packet is matched again here (service composition, bounded by MaxHops);
//     an unmatched id is popped when more follow, else the SENDER is told
//     TRIGGER_NOT_PRESENT. REQUEST_FOR_CACHE is answered with CACHE_ADDR.
//     Pings are echoed.
//   - Insertion is challenged (challenge.go): a stateless keyed-MAC nonce goes
//     to the trigger's target, so nobody can point a trigger at an address that
//     did not ask for it. Public ids need an Ed25519 signature by the key they
//     derive from (Config.RequireSignedPublic).
//   - NAT (§5.1): on a FIRST_HOP packet whose SENDER is not its observed
//     source, replies go to the source and a trigger pointing at the stated
//     SENDER is pointed at the source.
//   - Limits: token buckets per source for data and insertions, per
//     destination for replies; caps on the table and on triggers per source.
//     Refusals are explained (EXT_ERROR) to hosts that sent EXT_HELLO.
//   - Every drop is counted by reason (Stats, and Prometheus via Collector);
//     no datagram is logged.
//
// What it must not know: anything of proxies, tun devices, DNS, address books
// or sessions. A host is an address that inserts triggers and sends packets;
// payloads are opaque. It does not yet know other servers either: membership,
// the responsible-server mapping and replication belong to package ring.
//
// Performance rules, for whoever changes forward.go or control.go:
//
//   - One worker goroutine per socket reads batches (recvmmsg via
//     golang.org/x/net) into fixed buffers with headroom, handles each
//     datagram, and writes what it produced with one sendmmsg. The clock is
//     read once per batch; counters are summed privately and published once
//     per batch.
//   - Per datagram: check the length, decode once into a reused wire.Packet,
//     one limiter probe, one table lookup under a shard's read lock, then act or
//     count a drop. A delivered copy's header is written in place in front of
//     the payload (wire.PutDataHeader): forwarding copies and allocates
//     nothing. Control replies are encoded into a per-worker arena.
//   - No allocation per packet in steady state (TestZeroAllocs), no log line,
//     no per-packet goroutine, channel or timer. Insertions may allocate
//     (a new trigger's table entry), signature checks too.
//
// See docs/benchmarks.md ("Server forwarding") for measured rates.
package server

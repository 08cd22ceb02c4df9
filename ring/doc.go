// Package ring makes many overlay servers one overlay (paper §2: ids are mapped
// to servers "using a distributed lookup service such as Chord"). Servers
// join through hashicorp/memberlist (SWIM gossip, as in Consul and Nomad), so
// every server knows every other and the server responsible for an id is
// found locally, in one step, without routing through other servers.
//
// Each member has a position on a ring of 128-bit values and owns the ids
// whose first 128 bits (id.Key128) fall between its predecessor's position
// (excluded) and its own (included), wrapping around. All ids sharing the
// 128-bit prefix, which are all the ids that can match one another, land on
// one server, so longest-prefix matching, anycast and multicast stay local
// to it. A position defaults to a hash of the member's data address
// (DefaultPosition) and may be set by hand.
//
// What a member gossips about itself is its metadata: a version byte, its
// position and its overlay data address (the UDP address it forwards on).
// Every membership event builds a new immutable Snapshot, sorted by
// position, and swaps it in atomically; Responsible and Successors are a
// binary search in it and allocate nothing. OnChange hears of each new
// snapshot, with the previous one, so that a server can move triggers when
// ownership moves.
//
// What it must not know: triggers, packets, the wire format, hosts. A server
// asks it who is responsible for a key and who its successors are, and acts
// on the answers itself (forwarding, cache hints, replication, handover);
// the ring carries no data of its own besides membership.
//
// Performance rules: lookups (Snapshot.Responsible, Owns, Successors,
// IsMember) run per packet on the data path: no lock, no allocation
// (TestLookupAllocs, BenchmarkResponsible). Everything else happens per
// membership event.
package ring

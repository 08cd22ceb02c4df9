// Package security holds i3net's attack tests: each test mounts one attack on
// servers, clients and proxies running in this process on loopback (real UDP
// sockets, in-memory tun devices, no root) and shows that it fails, with the
// counters that say so asserted. docs/security.md states the threat model and
// names, for each claim, the test here that shows it.
//
//	trigger_test.go   a third party inserts a trigger on a host's public id
//	                  (unsigned, signed with its own key, an old signature
//	                  replayed), points a trigger at an address that never
//	                  asked for it, or fans a packet out toward a victim
//	impostor_test.go  another key answers for home.i3, on an i3net server and
//	                  on an original-compatible one that takes unsigned
//	                  public ids
//	flood_test.go     every request at its smallest: no reply larger than
//	                  it; an insertion flood from one source
//	replay_test.go    an on-path relay replays and alters sealed frames
//	block_test.go     a blocked peer is cut off by the overlay, and let back
//	garbage_test.go   random and mutated datagrams at a server and a proxy,
//	                  random packets into a proxy's tun (junk_test.go makes
//	                  them)
//	ring_test.go      challenged insertion across the servers of a ring,
//	                  forged replication, a takeover
//
// The package has no code of its own: it uses the public APIs of server,
// client, proxy, wire, proxy/session and the i3net command, and knows nothing
// of their insides. The garbage attacks send 2×10^5 datagrams, 10^5 with
// -short, a tenth of that under -race, and I3NET_SECURITY_DATAGRAMS if set
// (docs/security.md has the figures of a 10^6 run).
package security

// Package vaddr gives remote hosts their virtual addresses (paper §3): the
// addresses a legacy program sees for names under the overlay suffix, and the
// proxy's own tun address.
//
// # Derivation
//
// Every host computes one well-known function of a public id, Derive, that puts
// a hash of the id into the host bits of a pool (100.64.0.0/10 and
// fd69:3369:3300::/48 by default). A host's own tun address is Derive of its own
// public id, and the virtual address it gives a remote host is Derive of that
// host's public id, so both ends name each other with the same addresses and IP
// headers cross the overlay unchanged (§3.3): ftp's PORT, SIP and IDSes work.
// The network address, the all-ones address (IPv4 broadcast) and the DNS service
// address (ServiceAddr, the last usable address of each pool) are never derived.
//
// When a derived address is taken (another peer, this host's own address, a
// reserved one), Allocator picks a free address at random, as the paper's
// proxy did, and reports the mapping as not preserved: the proxy then rewrites
// addresses in headers. In the IPv4 default pool (2^22 addresses) a collision
// among 100 peers has a chance of about 1 in 1000; the IPv6 pool leaves 80 bits
// for the hash, so there it practically never happens.
//
// # Allocator
//
// Allocator holds no mappings: the proxy's peer registry is the one index of
// peers (by key, private id and virtual address) and of their liveness, and
// Allocator asks it which addresses are taken. Allocator.State and
// Allocator.Restore are the mappings' part of the proxy's state file: Restore
// checks a saved state (identity, pools, addresses in their pools, none
// reserved or twice) and keeps the mappings used less than TO ago, so that
// open TCP sessions survive a proxy restart.
//
// The package knows nothing of tun devices, packets, DNS, sessions or the
// overlay: it gives ids addresses. Reading the host's routes (for CheckPools)
// and writing the state file are the caller's.
package vaddr

package vaddr

import "net/netip"

// Default pools.
var (
	// DefaultPool4 is the IPv4 pool: the shared address space of RFC 6598
	// (carrier-grade NAT), which hosts rarely route themselves. The paper used
	// 10.0.0.0/8, which is often a real network; pass it with --pool4 if wanted.
	DefaultPool4 = netip.MustParsePrefix("100.64.0.0/10")

	// DefaultPool6 is the IPv6 pool: a unique local prefix (RFC 4193) whose
	// global id 69:3369:3300 spells "i3i3" in ASCII. RFC 4193 asks for a random
	// global id; this one is fixed instead because every i3net host must use the
	// same pool for both ends to derive the same addresses (§3.3). A site that
	// uses this prefix itself is caught by CheckPools. The /48 leaves 80 bits for
	// the hash.
	DefaultPool6 = netip.MustParsePrefix("fd69:3369:3300::/48")
)

const (
	// randomTries is how many random addresses Assign tries before it scans
	// the pool (small pools only).
	randomTries = 64

	// maxScanBits is the largest host part, in bits, whose pool Assign scans
	// address by address when random tries fail; larger pools are never that
	// full in practice and report ErrPoolFull instead.
	maxScanBits = 20

	// hashContext opens the input of Derive's hash.
	hashContext = "i3net vaddr v1\x00"

	// StateVersion is the version of the State format Snapshot writes.
	StateVersion = 1
)

package vaddr

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/i3net/i3net/id"
)

// ErrBadPool is returned (wrapped) for a prefix that cannot be a pool.
var ErrBadPool = errors.New("bad pool")

// ValidatePool reports whether pool can hold virtual addresses: a valid IPv4 or
// IPv6 prefix (not an IPv4-mapped IPv6 one, no zone) with at least 2 host bits,
// so that one address is left besides the network, all-ones and service
// addresses.
func ValidatePool(pool netip.Prefix) error {
	switch {
	case !pool.IsValid():
		return fmt.Errorf("vaddr: pool %v: %w: not a prefix", pool, ErrBadPool)
	case pool.Addr().Is4In6():
		return fmt.Errorf("vaddr: pool %v: %w: IPv4-mapped IPv6, write it as IPv4", pool, ErrBadPool)
	case pool.Addr().Zone() != "":
		return fmt.Errorf("vaddr: pool %v: %w: has a zone", pool, ErrBadPool)
	case pool.Addr().BitLen()-pool.Bits() < 2:
		return fmt.Errorf("vaddr: pool %v: %w: fewer than 2 host bits", pool, ErrBadPool)
	}
	return nil
}

// Derive returns the virtual address of the host whose public id is x in pool:
// the well-known hash both ends compute (§3.3). It is
//
//	H_n = SHA-256("i3net vaddr v1" 0x00 || n as 4 bytes big-endian || x)
//
// for n = 0, 1, …: the host bits of the address are the low host bits of the
// first 4 (IPv4) or 16 (IPv6) bytes of H_n read big-endian, and the first n
// whose address is neither the network address, the all-ones address nor
// ServiceAddr(pool) wins (n = 0 but for one id in about 2^(host bits−1)).
// Derive returns the zero Addr for a pool ValidatePool rejects. It does not
// allocate.
func Derive(pool netip.Prefix, x id.ID) netip.Addr {
	if ValidatePool(pool) != nil {
		return netip.Addr{}
	}
	pool = pool.Masked()
	var in [len(hashContext) + 4 + id.Len]byte
	copy(in[:], hashContext)
	copy(in[len(hashContext)+4:], x[:])
	for n := uint32(0); ; n++ {
		binary.BigEndian.PutUint32(in[len(hashContext):], n)
		sum := sha256.Sum256(in[:])
		a := withHostBits(pool, sum[:])
		if !isSpecial(pool, a) {
			return a
		}
	}
}

// ServiceAddr returns the address of the proxy's DNS responder in pool: the
// pool's last usable address (all host bits one but the last, e.g.
// 100.127.255.254 in 100.64.0.0/10). Derive never returns it and Allocator never
// hands it out. It returns the zero Addr for a pool ValidatePool rejects.
func ServiceAddr(pool netip.Prefix) netip.Addr {
	if ValidatePool(pool) != nil {
		return netip.Addr{}
	}
	return lastAddr(pool.Masked()).Prev()
}

// withHostBits returns the address of pool (masked) whose host bits are those
// of the first 4 or 16 bytes of h.
func withHostBits(pool netip.Prefix, h []byte) netip.Addr {
	if pool.Addr().Is4() {
		b := pool.Addr().As4()
		mixHost(b[:], h, pool.Bits())
		return netip.AddrFrom4(b)
	}
	b := pool.Addr().As16()
	mixHost(b[:], h, pool.Bits())
	return netip.AddrFrom16(b)
}

// mixHost replaces the bits of b after the first prefixLen with those of h.
func mixHost(b, h []byte, prefixLen int) {
	for i := range b {
		start := i * 8
		switch {
		case start+8 <= prefixLen:
			// network byte: keep
		case start >= prefixLen:
			b[i] = h[i]
		default:
			host := byte(0xff) >> (prefixLen - start)
			b[i] = b[i]&^host | h[i]&host
		}
	}
}

// lastAddr returns the all-ones address of pool (masked).
func lastAddr(pool netip.Prefix) netip.Addr {
	var ones [16]byte
	for i := range ones {
		ones[i] = 0xff
	}
	return withHostBits(pool, ones[:])
}

// isSpecial reports whether a is the network, all-ones or service address of
// pool (masked).
func isSpecial(pool netip.Prefix, a netip.Addr) bool {
	last := lastAddr(pool)
	return a == pool.Addr() || a == last || a == last.Prev()
}

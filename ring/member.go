package ring

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/i3net/i3net/id"
)

// Member is one server of the overlay, as the ring knows it.
type Member struct {
	// Name is the member's memberlist node name, unique in the overlay (by
	// default its data address).
	Name string
	// Data is the overlay data address: the UDP address the server receives
	// and forwards packets on, and the source of what it sends.
	Data netip.AddrPort
	// Gossip is the address the member gossips on (UDP and TCP).
	Gossip netip.AddrPort
	// Position is the member's place on the ring: it owns the ids whose first
	// 128 bits fall in (its predecessor's position, Position].
	Position id.Key128
	// Epoch is what the member's process picked when it started (its start
	// time): the same member with another epoch has restarted, and holds
	// none of the triggers it had (the handover gives them back). Zero from
	// a member that does not say.
	Epoch uint64
}

func (m Member) String() string {
	return m.Name + " (" + m.Data.String() + ", position " + FormatPosition(m.Position)[:8] + "…)"
}

// DefaultPosition is the ring position of a server whose configuration sets
// none: the first 128 bits of SHA-256("i3net ring v1\0" ‖ data address), the
// address written as text ("198.18.0.1:5610", "[2001:db8::1]:5610").
func DefaultPosition(data netip.AddrPort) id.Key128 {
	h := sha256.Sum256([]byte(positionContext + data.String()))
	return id.Key128(h[:id.KeyLen])
}

// FormatPosition returns p as 32 lowercase hex digits.
func FormatPosition(p id.Key128) string { return hex.EncodeToString(p[:]) }

// ParsePosition reads a ring position written as 32 hex digits (an optional
// "0x" prefix is ignored).
func ParsePosition(s string) (id.Key128, error) {
	var p id.Key128
	clean := strings.TrimPrefix(strings.TrimSpace(s), "0x")
	if len(clean) != 2*id.KeyLen {
		return p, fmt.Errorf("ring: position %q: want %d hex digits, have %d", s, 2*id.KeyLen, len(clean))
	}
	if _, err := hex.Decode(p[:], []byte(clean)); err != nil {
		return p, fmt.Errorf("ring: position %q: %v", s, err)
	}
	return p, nil
}

// Metadata: what each member gossips about itself (memberlist's node
// metadata, at most 512 bytes):
//
//	version(1) = 1
//	position(16)        the ring position, big-endian
//	port(2)             the data address's port
//	addr_len(1)         4 or 16
//	addr(addr_len)      the data address's IP
//	epoch(8)            optional: the process's epoch (Member.Epoch), big-endian
//
// A version-1 reader ignores bytes after these (later fields are appended).

// errMeta is returned for metadata that is not a version-1 member's.
var errMeta = errors.New("ring: malformed member metadata")

// appendMeta appends the metadata of a member with data address data,
// position pos and epoch to b.
func appendMeta(b []byte, data netip.AddrPort, pos id.Key128, epoch uint64) []byte {
	b = append(b, metaVersion)
	b = append(b, pos[:]...)
	b = binary.BigEndian.AppendUint16(b, data.Port())
	a := data.Addr().Unmap()
	if a.Is4() {
		ip := a.As4()
		b = append(b, 4)
		b = append(b, ip[:]...)
	} else {
		ip := a.As16()
		b = append(b, 16)
		b = append(b, ip[:]...)
	}
	return binary.BigEndian.AppendUint64(b, epoch)
}

// parseMeta decodes member metadata; epoch is zero when it has none.
func parseMeta(b []byte) (data netip.AddrPort, pos id.Key128, epoch uint64, err error) {
	if len(b) < 1 {
		return data, pos, 0, fmt.Errorf("%w: empty", errMeta)
	}
	if b[0] != metaVersion {
		return data, pos, 0, fmt.Errorf("%w: version %d, want %d", errMeta, b[0], metaVersion)
	}
	if len(b) < 1+16+2+1 {
		return data, pos, 0, fmt.Errorf("%w: %d bytes", errMeta, len(b))
	}
	copy(pos[:], b[1:17])
	port := binary.BigEndian.Uint16(b[17:])
	n := int(b[19])
	b = b[20:]
	if (n != 4 && n != 16) || len(b) < n {
		return data, pos, 0, fmt.Errorf("%w: address of %d bytes", errMeta, n)
	}
	var a netip.Addr
	if n == 4 {
		a = netip.AddrFrom4([4]byte(b[:4]))
	} else {
		a = netip.AddrFrom16([16]byte(b[:16])).Unmap()
	}
	if rest := b[n:]; len(rest) >= 8 {
		epoch = binary.BigEndian.Uint64(rest)
	}
	if !a.IsValid() || a.IsUnspecified() || port == 0 {
		return data, pos, 0, fmt.Errorf("%w: data address %v", errMeta, netip.AddrPortFrom(a, port))
	}
	return netip.AddrPortFrom(a, port), pos, epoch, nil
}

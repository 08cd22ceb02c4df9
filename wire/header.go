package wire

import (
	"encoding/binary"
	"net/netip"
	"slices"

	"github.com/i3net/i3net/id"
)

// Writing packets piece by piece, without building a Packet.
//
// Packet.AppendTo encodes a Packet. The functions here write the same bytes
// from their parts, for the paths that send a packet per datagram: the
// client's data headers (one datagram, or a batch whose headers sit in their
// own buffers), the server's forwarded headers (written in place in front of
// the received payload, in the receive buffer's headroom), and the
// option-only datagrams servers send each other. No code outside this
// package writes header bytes (version, flags, id count, option list
// length, option types); TestNoHandWrittenHeaders checks it.
//
// Buffers. The caller owns every buffer. An Append function appends to b and
// returns the extended slice, as the built-in append does: it allocates only
// when cap(b) is too small, so a caller that sizes its buffer with the Len
// functions (or MaxDataHeader) allocates nothing. A Put or End function writes
// into bytes the caller already has and panics, as binary.BigEndian.PutUint16
// does, when they are too short. Nothing here keeps a reference to a buffer.
//
// A packet is written in this order (the list only with FlagOptions, the
// payload only with FlagData):
//
//	b = AppendHeader(b, flags, ids) // version, flags, id count, ids
//	b, list := StartOptions(b)      // the list's length field, set by EndOptions
//	b = AppendSender(b, addr)       // options, in order: AppendOption,
//	b = AppendPadding(b, 20)        // AppendExt, r.AppendOption, ...
//	EndOptions(b, list)
//	b = append(b, payload...)
//
// DataHeader does it all for a data packet's header. A control packet
// without ids (replication between servers) starts with AppendControlHeader
// and ends with EndControl.

// Sizes of headers and options, in bytes.
const (
	// fixedLen is the size of a header's version, flags and id count.
	fixedLen = 3
	// listLenSize is the size of an option list's length field.
	listLenSize = 2
	// ExtHeaderLen is the size of an extension option's type and length,
	// before its body.
	ExtHeaderLen = 3

	// MaxSenderLen is the size of the largest SENDER option: its type and an
	// IPv6 address (kind, 16 bytes, port).
	MaxSenderLen = 1 + 1 + 16 + 2
	// MaxDataHeader is the size of the largest DataHeader: MaxStack ids and
	// an option list holding an IPv6 SENDER.
	MaxDataHeader = fixedLen + MaxStack*id.Len + listLenSize + MaxSenderLen
	// ControlHeaderLen is what a control packet without ids has before its
	// first option: version, flags, id count 0, the option list's length.
	ControlHeaderLen = fixedLen + listLenSize
)

// StackHeaderLen returns the size of a header's version, flags, id count and
// n ids: the offset of its option list, or of its payload when it has none.
func StackHeaderLen(n int) int { return fixedLen + n*id.Len }

// AppendHeader appends the front of a header to b: Version, flags and the
// stack ids (at most MaxStack; more panics; ids[0] is routed on). With
// FlagOptions in flags the option list must follow (StartOptions).
func AppendHeader(b []byte, flags uint8, ids []id.ID) []byte {
	if len(ids) > MaxStack {
		panic("wire: AppendHeader: more than MaxStack ids")
	}
	b = append(b, Version, flags, byte(len(ids)))
	for i := range ids {
		b = append(b, ids[i][:]...)
	}
	return b
}

// ClearFlags clears the header flags f of the encoded packet b, in place (a
// server clears FlagFirstHop of a packet it sends on unchanged). b must hold
// at least a header's first bytes (Decode succeeded on it).
func ClearFlags(b []byte, f uint8) { b[1] &^= f }

// StartOptions appends an option list's length field, zero until EndOptions
// sets it, and returns b and the list's offset in b.
func StartOptions(b []byte) ([]byte, int) {
	return append(b, 0, 0), len(b)
}

// EndOptions sets the length of the option list that starts at offset list
// of b (as StartOptions returned it) and ends at len(b).
func EndOptions(b []byte, list int) {
	binary.BigEndian.PutUint16(b[list:], uint16(len(b)-list))
}

// AppendControlHeader appends the header of a control packet without ids,
// up to its first option: Version, FlagOptions, no ids, and the option
// list's length, which EndControl sets. It writes ControlHeaderLen bytes.
func AppendControlHeader(b []byte) []byte {
	b = AppendHeader(b, FlagOptions, nil)
	b, _ = StartOptions(b)
	return b
}

// EndControl sets the option list length of control packet b, started by
// AppendControlHeader at b[0] and ending at len(b).
func EndControl(b []byte) { EndOptions(b, StackHeaderLen(0)) }

// AppendOption appends option o, its type and body, to an option list.
func AppendOption(b []byte, o *Option) []byte { return o.appendTo(b) }

// OptionLen returns the size of option o, its type byte included.
func OptionLen(o *Option) int { return o.encodedLen() }

// SenderLen returns the size of the SENDER option naming a.
func SenderLen(a netip.AddrPort) int { return 1 + ipAddrLen(a) }

// AppendSender appends a SENDER option naming a, as IPAddr(a) encodes it.
func AppendSender(b []byte, a netip.AddrPort) []byte {
	return appendIPAddr(append(b, byte(OptSender)), a)
}

// AppendExt appends the extension option t (ExtFirst..ExtLast) with body.
func AppendExt(b []byte, t OptType, body []byte) []byte {
	b, at := StartExt(b, t)
	b = append(b, body...)
	EndExt(b, at)
	return b
}

// StartExt appends the type and a zero length of the extension option t, for
// a body the caller appends next, and returns b and the option's offset,
// which EndExt takes once the body is written.
func StartExt(b []byte, t OptType) ([]byte, int) {
	return append(b, byte(t), 0, 0), len(b)
}

// EndExt sets the body length of the extension option that StartExt began at
// offset at of b; its body ends at len(b).
func EndExt(b []byte, at int) {
	binary.BigEndian.PutUint16(b[at+1:], uint16(len(b)-at-ExtHeaderLen))
}

// AppendPadding appends an EXT_PADDING option n bytes long, type and length
// included: at least 3 bytes, so n below 3 gives 3 (as PaddingOption(n)).
// Its body is zeros.
func AppendPadding(b []byte, n int) []byte {
	b, at := StartExt(b, ExtPadding)
	for n -= ExtHeaderLen; n > 0; n -= len(zeros) {
		b = append(b, zeros[:min(n, len(zeros))]...)
	}
	EndExt(b, at)
	return b
}

// zeros is where padding comes from.
var zeros [256]byte

// PadTo appends, to a packet b whose option list is open, the EXT_PADDING
// that makes it at least size bytes long: nothing when it already is, and at
// least 3 bytes when it is not (an option's smallest size).
func PadTo(b []byte, size int) []byte {
	if n := size - len(b); n > 0 {
		return AppendPadding(b, n)
	}
	return b
}

// DataHeader is the header a data packet carries in front of its payload:
// the flags, the id stack, and, when Sender is valid, an option list holding
// only a SENDER option naming it. FlagData is always written, and
// FlagOptions exactly when Sender is valid, whatever Flags says.
type DataHeader struct {
	Flags  uint8
	IDs    []id.ID        // 1 to MaxStack ids; IDs[0] is routed on
	Sender netip.AddrPort // where control replies (TRIGGER_NOT_PRESENT) go
}

// flags returns the header's flags byte.
func (h *DataHeader) flags() uint8 {
	f := h.Flags&^FlagOptions | FlagData
	if h.Sender.IsValid() {
		f |= FlagOptions
	}
	return f
}

// Len returns the size of the header, at most MaxDataHeader.
func (h *DataHeader) Len() int {
	n := StackHeaderLen(len(h.IDs))
	if h.Sender.IsValid() {
		n += listLenSize + SenderLen(h.Sender)
	}
	return n
}

// AppendTo appends the header to b; Len bytes, no allocation when b has room.
func (h *DataHeader) AppendTo(b []byte) []byte {
	n, l := len(b), h.Len()
	b = slices.Grow(b, l)[:n+l]
	h.put(b[n:])
	return b
}

// PutBefore writes the header into b so that it ends at offset end, where the
// payload starts, and returns its offset: b[off:] is then the datagram. It is
// how a header is written in place in a receive buffer's headroom; end must
// be at least Len (it panics otherwise) and b is not otherwise changed.
func (h *DataHeader) PutBefore(b []byte, end int) int {
	off := end - h.Len()
	h.put(b[off:end])
	return off
}

// put writes the header into b, which is Len bytes long. It writes what
// AppendHeader, StartOptions, AppendSender and EndOptions would, with stores
// in place of appends: this is the per-packet path of servers and clients.
func (h *DataHeader) put(b []byte) {
	if len(h.IDs) > MaxStack {
		panic("wire: DataHeader: more than MaxStack ids")
	}
	b[0], b[1], b[2] = Version, h.flags(), byte(len(h.IDs))
	n := fixedLen
	for i := range h.IDs {
		*(*id.ID)(b[n:]) = h.IDs[i]
		n += id.Len
	}
	if h.Sender.IsValid() {
		binary.BigEndian.PutUint16(b[n:], uint16(len(b)-n))
		AppendSender(b[n+listLenSize:n+listLenSize], h.Sender)
	}
}

// ipAddrLen returns the size of IPAddr(a)'s encoding.
func ipAddrLen(a netip.AddrPort) int {
	if a.Addr().Unmap().Is4() {
		return 1 + 4 + 2
	}
	return 1 + 16 + 2
}

// appendIPAddr appends the encoding of IPAddr(a) without building the Addr.
func appendIPAddr(b []byte, a netip.AddrPort) []byte {
	if ip := a.Addr().Unmap(); ip.Is4() {
		v4 := ip.As4()
		b = append(append(b, byte(AddrIPv4)), v4[:]...)
	} else {
		v6 := a.Addr().As16()
		b = append(append(b, byte(AddrIPv6)), v6[:]...)
	}
	return binary.BigEndian.AppendUint16(b, a.Port())
}

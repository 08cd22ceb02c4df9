// Package wire encodes and decodes the overlay's packets: the wire format of the
// original Berkeley i3 implementation (2004), so that original clients and servers
// interoperate with ours, plus i3net's extensions as option types 0x40–0x7F.
//
// A packet is a header (version, flags, a stack of up to 15 ids), an optional
// option list, and a payload:
//
//	byte 0   version 0x10
//	byte 1   flags: 0x10 DATA, 0x20 OPTION_LIST, 0x40 FIRST_HOP, 0x01 shortcut allowed
//	byte 2   number of ids (low 4 bits)
//	         n × 32-byte ids; ids[0] is routed on
//	         if OPTION_LIST: u16 length of the list (counting itself), options
//	rest     payload
//
// Decoding fills a Packet the caller owns and reuses: its option slice keeps its
// capacity and Payload aliases the input, so steady-state decoding allocates
// nothing. Encoding appends to a caller's buffer (AppendTo). Every malformed input
// is reported as one of the exported sentinel errors, so that callers can count
// drops by reason; no input makes a decoder panic or read out of bounds.
//
// The package knows nothing of servers, clients or proxies. docs/wire.md in the
// repository documents the format and the extensions.
package wire

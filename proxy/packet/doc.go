// Package packet is a parsed view of the IPv4 and IPv6 packets the legacy proxy
// reads from its tun device, the address rewrite the proxy applies when a
// virtual address collides (DESIGN.md, "Virtual addresses"), and the ICMP errors
// it sends back so that programs' path-MTU discovery works ("Data path").
//
// # Decoding
//
// [Parsed.Decode] reads a packet once and fills a [Parsed] the caller owns: IP
// version and protocol, Src and Dst as netip.AddrPort (port 0 where the protocol
// has none), TCP flags, ICMP type and code. The offsets of the headers stay
// private. IPv4 options are skipped; IPv6 hop-by-hop, routing, destination
// options and fragment headers are walked, at most [MaxExtHeaders] of them.
// Only the first fragment of a datagram carries a transport header: a later
// fragment decodes with ports 0 and [Parsed.IsNonFirstFragment] set. Malformed
// or truncated input is rejected with one of the exported sentinel errors
// (ErrTooShort, ErrVersion, …), so that callers can count drops by reason; no
// input makes Decode panic or read outside b. A buffer longer than the IP
// length is fine: the header's length is used and the rest ignored. IPv6
// jumbograms (RFC 2675) are not supported; no tun MTU reaches 64 KiB.
//
// # Rewriting
//
// [Parsed.SetSrcAddr] and [Parsed.SetDstAddr] overwrite an address in place and
// update the checksums incrementally (RFC 1624): the IPv4 header checksum, and
// the TCP, UDP and ICMPv6 checksums, whose pseudo-header holds the addresses.
// ICMPv4 has no pseudo-header. A UDP checksum of 0 ("none") stays 0. A later
// fragment has no transport header, so only its IP header changes. The
// pseudo-header of a source-routed packet holds its final destination, so
// rewriting its destination leaves the transport checksum alone. The rewrite
// does not touch the packet quoted inside an ICMP error.
//
// # ICMP errors
//
// [AppendICMPFragNeeded] and [AppendICMPv6PacketTooBig] append to the caller's
// buffer the error the proxy returns, as the virtual host the packet was sent
// to, for a packet too big for the tun MTU.
//
// # Performance rules
//
// Decode, SetSrcAddr, SetDstAddr and the ICMP generators (given a dst with room)
// allocate nothing; tests assert it with testing.AllocsPerRun. The caller owns
// every buffer: the package keeps no reference to b after a call returns, and a
// Parsed holds no pointer into it. [Build] (which allocates) and
// [VerifyChecksums] (which reads every byte) are conveniences for tests and
// tools, not for the data path.
//
// # What it must not know
//
// Nothing of tun devices, DNS, the overlay, sessions or address pools: it sees
// one packet at a time, as bytes, and changes only what it is told to.
package packet

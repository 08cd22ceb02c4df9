// Package packet is a parsed view of the IPv4 and IPv6 packets the legacy proxy
// reads from its tun device, the address rewrite the proxy applies when a
// virtual address collides (DESIGN.md, "Virtual addresses"), and the ICMP errors
// it sends back so that programs' path-MTU discovery works ("Data path").
//
// [Parsed.Decode] reads a packet once into a [Parsed] the caller owns: version,
// protocol, Src and Dst as netip.AddrPort (port 0 where the protocol has none),
// TCP flags, ICMP type and code; header offsets stay private. IPv4 options are
// skipped and up to [MaxExtHeaders] IPv6 extension headers walked; a later
// fragment decodes with ports 0 and [Parsed.IsNonFirstFragment] set. Malformed
// input is one of the exported sentinel errors, so that callers count drops
// by reason; no input makes Decode panic or read outside b. Jumbograms are not
// supported.
//
// [Parsed.SetSrcAddr] and [Parsed.SetDstAddr] overwrite an address in place and
// update the IPv4, TCP, UDP and ICMPv6 checksums incrementally (RFC 1624); a
// UDP checksum of 0 stays 0, a later fragment changes only its IP header, a
// source-routed packet's transport checksum is left alone when its destination
// changes, and the packet quoted inside an ICMP error is not touched.
// [AppendICMPFragNeeded] and [AppendICMPv6PacketTooBig] append the error the
// proxy returns, as the virtual host the packet was sent to, for a packet too
// big for the tun MTU.
//
// [GSO] is the offload header a tun opened with IFF_VNET_HDR puts before each
// packet (struct virtio_net_hdr, [ParseVirtioHdr]), with a portable form for
// carrying a super-packet whole to a peer ([GSO.PutWire]); [GSO.Check]
// validates an untrusted one, [Segment] cuts a super-packet into ordinary,
// fully checksummed packets, and [CompleteChecksum] finishes a partial
// checksum, which rewrites update as such after [Parsed.SetPartialChecksum].
//
// Performance rules: Decode, SetSrcAddr, SetDstAddr, Segment, CompleteChecksum
// and the ICMP generators (given a dst with room) allocate nothing; tests
// assert it with testing.AllocsPerRun. The caller owns every buffer: the
// package keeps no reference to b after a call returns, and a Parsed holds no
// pointer into it. [Build] (which allocates) and [VerifyChecksums] (which reads
// every byte) are conveniences for tests and tools, not for the data path.
//
// What it must not know: tun devices (beyond the layout of their offload
// header), DNS, the overlay, sessions or address pools: it sees one packet at
// a time, as bytes, and changes only what it is told to.
package packet

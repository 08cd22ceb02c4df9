package packet

import "strconv"

// IPProto is an IP protocol number: the IPv4 Protocol field, or the Next Header
// that follows IPv6's extension headers.
type IPProto uint8

// Protocols the view decodes. Any other number is kept in Parsed.IPProto as it
// is, with no transport header decoded and ports 0.
const (
	ProtoICMPv4 IPProto = 1
	ProtoTCP    IPProto = 6
	ProtoUDP    IPProto = 17
	ProtoICMPv6 IPProto = 58
)

// IPv6 extension headers walked by Decode (RFC 8200 §4).
const (
	protoHopByHop IPProto = 0
	protoRouting  IPProto = 43
	protoFragment IPProto = 44
	protoDestOpts IPProto = 60
)

// String returns the protocol's name, or its number for the ones the view does
// not decode.
func (p IPProto) String() string {
	switch p {
	case ProtoICMPv4:
		return "ICMPv4"
	case ProtoTCP:
		return "TCP"
	case ProtoUDP:
		return "UDP"
	case ProtoICMPv6:
		return "ICMPv6"
	}
	return "IPProto(" + strconv.Itoa(int(p)) + ")"
}

// TCPFlag is a set of TCP header flags (byte 13 of the header).
type TCPFlag uint8

// TCP flags (RFC 9293 §3.1, RFC 3168 §6.1).
const (
	TCPFin TCPFlag = 0x01
	TCPSyn TCPFlag = 0x02
	TCPRst TCPFlag = 0x04
	TCPPsh TCPFlag = 0x08
	TCPAck TCPFlag = 0x10
	TCPUrg TCPFlag = 0x20
	TCPEce TCPFlag = 0x40
	TCPCwr TCPFlag = 0x80
)

// ICMP types and codes the package generates or tests use.
const (
	ICMPv4EchoReply       = 0   // type
	ICMPv4DestUnreachable = 3   // type
	ICMPv4FragNeeded      = 4   // code of ICMPv4DestUnreachable (RFC 1191)
	ICMPv4EchoRequest     = 8   // type
	ICMPv6PacketTooBig    = 2   // type (RFC 4443 §3.2)
	ICMPv6EchoRequest     = 128 // type
	ICMPv6EchoReply       = 129 // type
)

// Sizes and limits, in bytes unless stated.
const (
	// IPv4MinMTU is the smallest MTU an IPv4 link may have (RFC 791): the
	// smallest next-hop MTU AppendICMPFragNeeded accepts.
	IPv4MinMTU = 68
	// IPv6MinMTU is the smallest MTU an IPv6 link may have (RFC 8200 §5): the
	// smallest MTU AppendICMPv6PacketTooBig accepts.
	IPv6MinMTU = 1280
	// MaxExtHeaders is how many IPv6 extension headers Decode walks before it
	// gives up with ErrExtHeaderCount.
	MaxExtHeaders = 8

	ipv4HeaderLen = 20 // without options
	ipv6HeaderLen = 40
	tcpHeaderLen  = 20 // without options
	udpHeaderLen  = 8
	icmpHeaderLen = 8 // type, code, checksum and 4 bytes of "rest of header"

	// icmpv4ErrorMax bounds an ICMPv4 error, IP header included (RFC 1812
	// §4.3.2.3).
	icmpv4ErrorMax = 576
	// icmpv6ErrorMax bounds an ICMPv6 error, IPv6 header included (RFC 4443
	// §2.4(c)).
	icmpv6ErrorMax = IPv6MinMTU

	defaultTTL = 64 // TTL or hop limit of the packets the package makes
)

// IPv4 header fields.
const (
	ipv4DF         = 0x4000 // don't fragment, in the flags/offset word
	ipv4MF         = 0x2000 // more fragments
	ipv4FragOffset = 0x1fff // fragment offset, in 8-byte units

	ipv4OptEnd  = 0   // end of option list
	ipv4OptNop  = 1   // no operation
	ipv4OptLSRR = 131 // loose source and record route
	ipv4OptSSRR = 137 // strict source and record route
)

// GSOType is the kind of segmentation offload a packet carries: what
// [Segment] splits it into.
type GSOType uint8

// GSO types. The values are the package's own, the same in memory and in
// [GSO.PutWire]; [ParseVirtioHdr] and [GSO.PutVirtioHdr] map them to and from
// the kernel's numbers.
const (
	GSONone  GSOType = 0 // an ordinary packet
	GSOTCPv4 GSOType = 1 // a TCP/IPv4 segment to cut into Size bytes of payload each
	GSOTCPv6 GSOType = 2 // a TCP/IPv6 segment, likewise
	GSOUDPL4 GSOType = 3 // a UDP datagram to cut into datagrams of Size bytes (USO)
)

// String returns the type's name.
func (t GSOType) String() string {
	switch t {
	case GSONone:
		return "none"
	case GSOTCPv4:
		return "tcpv4"
	case GSOTCPv6:
		return "tcpv6"
	case GSOUDPL4:
		return "udp_l4"
	}
	return "GSOType(" + strconv.Itoa(int(t)) + ")"
}

// Segmentation offload sizes and limits.
const (
	// VirtioHdrLen is the length of the struct virtio_net_hdr (legacy
	// layout) a tun opened with IFF_VNET_HDR puts before each packet, in
	// bytes.
	VirtioHdrLen = 10
	// GSOWireLen is the length of the portable form of a GSO that
	// [GSO.PutWire] writes, in bytes.
	GSOWireLen = 10
	// MaxSegments is the most segments [GSO.Check] accepts from one packet.
	// The largest TCP payload a packet carries is 65535-40 bytes, and the
	// smallest MSS Linux sends with is 8 bytes of payload (tcp_min_snd_mss,
	// 48, less 40 bytes of options), so a kernel's super-packet never has
	// more than 8187 segments; 8192 admits all of them and bounds the work
	// one packet can ask for. The real bound is the buffers the caller gives
	// [Segment].
	MaxSegments = 8192
)

// struct virtio_net_hdr (include/uapi/linux/virtio_net.h), in host order:
//
//	0      flags
//	1      gso_type
//	2      hdr_len
//	4      gso_size
//	6      csum_start
//	8      csum_offset
const (
	virtioFlagNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM
	virtioFlagDataValid = 2 // VIRTIO_NET_HDR_F_DATA_VALID: checksum verified, nothing to do

	virtioGSONone  = 0    // VIRTIO_NET_HDR_GSO_NONE
	virtioGSOTCPv4 = 1    // VIRTIO_NET_HDR_GSO_TCPV4 (3 is UDP, UFO: IP fragmentation, refused)
	virtioGSOUDPL4 = 5    // VIRTIO_NET_HDR_GSO_UDP_L4
	virtioGSOTCPv6 = 4    // VIRTIO_NET_HDR_GSO_TCPV6
	virtioGSOECN   = 0x80 // VIRTIO_NET_HDR_GSO_ECN: the TCP segment has CWR set

	// Flags of the wire form (GSO.PutWire).
	gsoWireNeedsCsum = 1
	gsoWireECN       = 2

	tcpCsumOff  = 16 // offset of the checksum in the TCP header
	udpCsumOff  = 6  // in the UDP header
	tcpFlagsOff = 13 // offset of the flags byte in the TCP header
	tcpSeqOff   = 4  // of the sequence number
	ipv4IDOff   = 4  // of the IPv4 identification
	ipv4LenOff  = 2  // of the IPv4 total length
	ipv6LenOff  = 4  // of the IPv6 payload length
	udpLenOff   = 4  // of the UDP length
)

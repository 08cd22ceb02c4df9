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

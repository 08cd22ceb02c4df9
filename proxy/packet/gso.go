package packet

import (
	"encoding/binary"
	"errors"
)

// Generic segmentation offload (GSO). A Linux tun opened with IFF_VNET_HDR and
// offloads gives userspace, before each packet, a struct virtio_net_hdr saying
// whether the packet is a super-packet to cut into segments (TSO, USO) and
// whether its transport checksum is still partial (CHECKSUM_PARTIAL). GSO is
// that header; Segment does in software what the device would have done.

// Reasons the GSO functions refuse a header or packet, for callers to count
// drops by reason.
var (
	ErrGSOHeader   = errors.New("packet: malformed or unsupported GSO header")
	ErrGSOMismatch = errors.New("packet: GSO header does not match the packet")
	ErrGSOSegments = errors.New("packet: GSO packet has more than MaxSegments segments")
	ErrSegmentRoom = errors.New("packet: too few or too small buffers for the segments")
)

// GSO is the offload metadata of one packet: a struct virtio_net_hdr decoded.
type GSO struct {
	// Type says whether and how the packet is to be segmented.
	Type GSOType
	// NeedsCsum says the transport checksum at CsumStart+CsumOffset holds
	// only the folded pseudo-header sum, not complemented (Linux
	// CHECKSUM_PARTIAL); the checksum covers CsumStart to the end.
	NeedsCsum bool
	// ECN says the TCP super-packet has CWR set (VIRTIO_NET_HDR_GSO_ECN).
	ECN bool
	// HdrLen is the length of the IP and transport headers, in bytes, which
	// every segment repeats; Size the payload of each segment but the last
	// (the MSS, or the datagram size for USO). Both are 0 for GSONone.
	HdrLen, Size uint16
	// CsumStart is the offset of the transport header, CsumOffset that of
	// the checksum within it (16 for TCP, 6 for UDP); both 0 unless
	// NeedsCsum.
	CsumStart, CsumOffset uint16
}

// ParseVirtioHdr decodes the struct virtio_net_hdr at the start of b, in host
// byte order, as a tun gives it. It fails with ErrGSOHeader if b is shorter
// than VirtioHdrLen, the GSO type is unknown or UFO (VIRTIO_NET_HDR_GSO_UDP,
// which needs IP fragmentation), or a flag other than NEEDS_CSUM and
// DATA_VALID (ignored: the checksum was verified) is set. It checks nothing
// else: the kernel's hdr_len is only a hint (see [GSO.SetHdrLen]), and
// [GSO.Check] validates the rest against the packet.
func ParseVirtioHdr(b []byte) (GSO, error) {
	if len(b) < VirtioHdrLen {
		return GSO{}, ErrGSOHeader
	}
	if b[0]&^(virtioFlagNeedsCsum|virtioFlagDataValid) != 0 {
		return GSO{}, ErrGSOHeader
	}
	g := GSO{
		NeedsCsum:  b[0]&virtioFlagNeedsCsum != 0,
		ECN:        b[1]&virtioGSOECN != 0,
		HdrLen:     binary.NativeEndian.Uint16(b[2:]),
		Size:       binary.NativeEndian.Uint16(b[4:]),
		CsumStart:  binary.NativeEndian.Uint16(b[6:]),
		CsumOffset: binary.NativeEndian.Uint16(b[8:]),
	}
	switch b[1] &^ virtioGSOECN {
	case virtioGSONone:
		g.Type = GSONone
	case virtioGSOTCPv4:
		g.Type = GSOTCPv4
	case virtioGSOTCPv6:
		g.Type = GSOTCPv6
	case virtioGSOUDPL4:
		g.Type = GSOUDPL4
	default:
		return GSO{}, ErrGSOHeader
	}
	return g, nil
}

// PutVirtioHdr writes g as a struct virtio_net_hdr, in host byte order, to
// the first VirtioHdrLen bytes of b, which must have them: what a tun opened
// with IFF_VNET_HDR reads before the packet written to it.
func (g GSO) PutVirtioHdr(b []byte) {
	_ = b[VirtioHdrLen-1]
	b[0] = 0
	if g.NeedsCsum {
		b[0] = virtioFlagNeedsCsum
	}
	switch g.Type {
	case GSOTCPv4:
		b[1] = virtioGSOTCPv4
	case GSOTCPv6:
		b[1] = virtioGSOTCPv6
	case GSOUDPL4:
		b[1] = virtioGSOUDPL4
	default:
		b[1] = virtioGSONone
	}
	if g.ECN {
		b[1] |= virtioGSOECN
	}
	binary.NativeEndian.PutUint16(b[2:], g.HdrLen)
	binary.NativeEndian.PutUint16(b[4:], g.Size)
	binary.NativeEndian.PutUint16(b[6:], g.CsumStart)
	binary.NativeEndian.PutUint16(b[8:], g.CsumOffset)
}

// PutWire writes g in its portable form, big-endian, to the first GSOWireLen
// bytes of b, which must have them: for carrying a super-packet whole to a
// machine that may differ in byte order. The form is
//
//	0      type (a GSOType)
//	1      flags: 1 NeedsCsum, 2 ECN
//	2      HdrLen
//	4      Size
//	6      CsumStart
//	8      CsumOffset
func (g GSO) PutWire(b []byte) {
	_ = b[GSOWireLen-1]
	b[0] = byte(g.Type)
	b[1] = 0
	if g.NeedsCsum {
		b[1] |= gsoWireNeedsCsum
	}
	if g.ECN {
		b[1] |= gsoWireECN
	}
	binary.BigEndian.PutUint16(b[2:], g.HdrLen)
	binary.BigEndian.PutUint16(b[4:], g.Size)
	binary.BigEndian.PutUint16(b[6:], g.CsumStart)
	binary.BigEndian.PutUint16(b[8:], g.CsumOffset)
}

// ParseGSOWire decodes the portable form PutWire writes at the start of b. It
// fails with ErrGSOHeader if b is short, the type or a flag is unknown, or the
// fields cannot describe any packet (see [GSO.Check] for the rules); what
// depends on the packet is left to Check. Whatever it accepts, PutWire writes
// back byte for byte.
func ParseGSOWire(b []byte) (GSO, error) {
	if len(b) < GSOWireLen || b[0] > byte(GSOUDPL4) || b[1]&^(gsoWireNeedsCsum|gsoWireECN) != 0 {
		return GSO{}, ErrGSOHeader
	}
	g := GSO{
		Type:       GSOType(b[0]),
		NeedsCsum:  b[1]&gsoWireNeedsCsum != 0,
		ECN:        b[1]&gsoWireECN != 0,
		HdrLen:     binary.BigEndian.Uint16(b[2:]),
		Size:       binary.BigEndian.Uint16(b[4:]),
		CsumStart:  binary.BigEndian.Uint16(b[6:]),
		CsumOffset: binary.BigEndian.Uint16(b[8:]),
	}
	if !g.sane() {
		return GSO{}, ErrGSOHeader
	}
	return g, nil
}

// sane reports whether g could describe some packet, whatever its bytes: the
// rules of Check that do not need the packet.
func (g GSO) sane() bool {
	tcp := g.Type == GSOTCPv4 || g.Type == GSOTCPv6
	switch {
	case g.Type > GSOUDPL4, g.ECN && !tcp:
		return false
	case g.Type == GSONone:
		if g.HdrLen != 0 || g.Size != 0 {
			return false
		}
	case !g.NeedsCsum || g.Size == 0:
		return false
	}
	if !g.NeedsCsum {
		return g.CsumStart == 0 && g.CsumOffset == 0
	}
	if g.CsumStart < ipv4HeaderLen {
		return false
	}
	switch g.Type {
	case GSOTCPv4, GSOTCPv6:
		return g.CsumOffset == tcpCsumOff && g.HdrLen >= g.CsumStart+tcpHeaderLen
	case GSOUDPL4:
		return g.CsumOffset == udpCsumOff && g.HdrLen == g.CsumStart+udpHeaderLen
	}
	return g.CsumOffset == tcpCsumOff || g.CsumOffset == udpCsumOff
}

// SetHdrLen sets g.HdrLen to what Check requires of the packet p was decoded
// from: the length of its IP and TCP or UDP headers for a GSO type, 0 for
// GSONone. The hdr_len a tun gives is only a hint (skb_headlen: on the
// forwarding path, the whole first segment), so a reader of the tun calls this
// before Check; a header from a peer must not be corrected but checked.
func (g *GSO) SetHdrLen(p *Parsed) {
	g.HdrLen = 0
	if g.Type != GSONone {
		g.HdrLen = uint16(p.dataofs)
	}
}

// Check validates g, an untrusted header, against pkt, decoded into p: after
// it, Segment and CompleteChecksum (which check again, so that no input makes
// them panic) will succeed given enough room. The rules:
//
//   - GSONone has HdrLen and Size 0; ECN goes only with TCP types.
//   - GSOTCPv4 and GSOTCPv6 need a TCP packet of that IP version without SYN
//     or RST, GSOUDPL4 a UDP packet of either; neither a fragment nor
//     source-routed (whose pseudo-header holds another destination). HdrLen
//     is the length of the IP and transport headers (options and IPv6
//     extension headers included), Size > 0, the payload not empty and cut
//     into at most MaxSegments segments. A GSO type needs NeedsCsum, as
//     Linux always sets it.
//   - With NeedsCsum, the packet is TCP or UDP, not a fragment, CsumStart is
//     the offset of its transport header and CsumOffset that of the checksum
//     in it (16 for TCP, 6 for UDP); without, both are 0.
//
// It returns ErrBuffer if pkt is not what p was decoded from, ErrGSOSegments
// for too many segments, and ErrGSOMismatch for the rest. It does not look at
// the checksum field's value.
func (g GSO) Check(pkt []byte, p *Parsed) error {
	if p.IPVersion == 0 || len(pkt) < p.length || pkt[0]>>4 != p.IPVersion {
		return ErrBuffer
	}
	if !g.sane() {
		return ErrGSOMismatch
	}
	if g.NeedsCsum {
		if p.IPProto != ProtoTCP && p.IPProto != ProtoUDP || p.flags&flagFragment != 0 ||
			int(g.CsumStart) != p.subofs || int(g.CsumStart)+int(g.CsumOffset) != p.csumofs {
			return ErrGSOMismatch
		}
	}
	if g.Type == GSONone {
		return nil
	}
	switch {
	case g.Type == GSOTCPv4 && (p.IPVersion != 4 || p.IPProto != ProtoTCP),
		g.Type == GSOTCPv6 && (p.IPVersion != 6 || p.IPProto != ProtoTCP),
		g.Type == GSOUDPL4 && p.IPProto != ProtoUDP,
		p.IPProto == ProtoTCP && p.TCPFlags&(TCPSyn|TCPRst) != 0,
		p.flags&flagRouted != 0,
		int(g.HdrLen) != p.dataofs,
		p.end <= p.dataofs:
		return ErrGSOMismatch
	}
	if g.segments(p) > MaxSegments {
		return ErrGSOSegments
	}
	return nil
}

// Segments returns the number of packets Segment makes of the packet p was
// decoded from: 1 for GSONone. It is meaningful once Check has passed.
func (g GSO) Segments(p *Parsed) int {
	if g.Type == GSONone || g.Size == 0 {
		return 1
	}
	return g.segments(p)
}

func (g GSO) segments(p *Parsed) int {
	return (p.end - p.dataofs + int(g.Size) - 1) / int(g.Size)
}

// CompleteChecksum finishes the partial transport checksum of pkt, an
// ordinary packet (GSONone) with g.NeedsCsum, in place: it sums from
// CsumStart to the end of the TCP segment or UDP datagram with the field as it
// is (the pseudo-header sum) and stores the complement there, a UDP result of
// 0 as 0xffff (RFC 768), as Linux's skb_checksum_help does. Without NeedsCsum
// it does nothing. It returns Decode's or Check's error, or ErrGSOMismatch for
// a GSO type, and then leaves pkt unchanged. It does not allocate.
func CompleteChecksum(pkt []byte, g GSO) error {
	if g.Type != GSONone {
		return ErrGSOMismatch
	}
	var p Parsed
	if err := p.Decode(pkt); err != nil {
		return err
	}
	if err := g.Check(pkt, &p); err != nil {
		return err
	}
	if g.NeedsCsum {
		completeChecksum(pkt, &p)
	}
	return nil
}

// completeChecksum finishes the partial checksum of b, decoded into p, whose
// GSO passed Check with NeedsCsum.
func completeChecksum(b []byte, p *Parsed) {
	binary.BigEndian.PutUint16(b[p.csumofs:], transportChecksum(0, b[p.subofs:p.end], p.IPProto == ProtoUDP))
}

// Segment splits pkt, a packet with offload metadata g, into ordinary packets
// with every checksum complete, as a device doing TSO or USO would (Linux's
// tcp_gso_segment, __udp_gso_segment): the i-th is written to out[i][offset:]
// and its length to sizes[i], and n is their number. Each segment repeats the
// IP and transport headers with Size bytes of the payload, the last one what
// remains; its IPv4 total length and header checksum, IPv4 identification
// (incremented per segment, as Linux does without FIXEDID), IPv6 payload
// length, UDP length and TCP or UDP checksum (over its own pseudo-header) are
// its own. A TCP segment's sequence number advances by the payload before it;
// FIN and PSH stay only on the last segment, CWR only on the first. The
// checksum field of pkt is not read: every checksum is computed in full.
//
// A GSONone packet is copied to out[0] (n = 1), its partial checksum, with
// NeedsCsum, completed there.
//
// It returns Decode's or Check's error for an invalid pkt or g, and
// ErrSegmentRoom, having written nothing, if out or sizes has fewer than
// g.Segments entries or a buffer is shorter than offset plus its segment. out
// must not overlap pkt, which is not changed. It does not allocate.
func Segment(pkt []byte, g GSO, out [][]byte, sizes []int, offset int) (n int, err error) {
	var p Parsed
	if err := p.Decode(pkt); err != nil {
		return 0, err
	}
	if err := g.Check(pkt, &p); err != nil {
		return 0, err
	}
	if g.Type == GSONone {
		if len(out) < 1 || len(sizes) < 1 || offset < 0 || len(out[0]) < offset || len(out[0])-offset < p.length {
			return 0, ErrSegmentRoom
		}
		o := out[0][offset : offset+p.length]
		copy(o, pkt)
		if g.NeedsCsum {
			completeChecksum(o, &p)
		}
		sizes[0] = p.length
		return 1, nil
	}

	hl, size, payload := p.dataofs, int(g.Size), pkt[p.dataofs:p.end]
	n = g.segments(&p)
	if len(out) < n || len(sizes) < n || offset < 0 {
		return 0, ErrSegmentRoom
	}
	for i := range n {
		segLen := min(size, len(payload)-i*size)
		if len(out[i]) < offset || len(out[i])-offset < hl+segLen {
			return 0, ErrSegmentRoom
		}
	}

	ipl, tcp := p.subofs, p.IPProto == ProtoTCP
	pseudo := pseudoSum(p.Src.Addr(), p.Dst.Addr(), p.IPProto, 0)
	id := binary.BigEndian.Uint16(pkt[ipv4IDOff:])
	var seq uint32
	if tcp {
		seq = binary.BigEndian.Uint32(pkt[ipl+tcpSeqOff:])
	}
	for i := range n {
		data := payload[i*size : min((i+1)*size, len(payload))]
		total := hl + len(data)
		o := out[i][offset : offset+total]
		copy(o, pkt[:hl])
		copy(o[hl:], data)

		// IP header.
		if p.IPVersion == 4 {
			binary.BigEndian.PutUint16(o[ipv4LenOff:], uint16(total))
			binary.BigEndian.PutUint16(o[ipv4IDOff:], id+uint16(i))
			binary.BigEndian.PutUint16(o[ipv4CsumOff:], 0)
			binary.BigEndian.PutUint16(o[ipv4CsumOff:], ^fold(sum(0, o[:ipl])))
		} else {
			binary.BigEndian.PutUint16(o[ipv6LenOff:], uint16(total-ipv6HeaderLen))
		}

		// Transport header.
		t := o[ipl:]
		if tcp {
			binary.BigEndian.PutUint32(t[tcpSeqOff:], seq+uint32(i*size))
			if i < n-1 {
				t[tcpFlagsOff] &^= byte(TCPFin | TCPPsh)
			}
			if i > 0 {
				t[tcpFlagsOff] &^= byte(TCPCwr)
			}
		} else {
			binary.BigEndian.PutUint16(t[udpLenOff:], uint16(len(t)))
		}
		binary.BigEndian.PutUint16(o[p.csumofs:], 0)
		binary.BigEndian.PutUint16(o[p.csumofs:], transportChecksum(pseudo+uint64(len(t)), t, !tcp))
		sizes[i] = total
	}
	return n, nil
}

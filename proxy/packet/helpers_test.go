package packet

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// Addresses of the test packets: virtual addresses from the default pools, and
// the addresses rewrites move them to.
var (
	v4a = netip.MustParseAddr("100.64.1.2")
	v4b = netip.MustParseAddr("100.100.7.9")
	v4x = netip.MustParseAddr("100.127.255.254")
	v4y = netip.MustParseAddr("10.0.0.1")
	v6a = netip.MustParseAddr("fd7a:115c:a1e0::1")
	v6b = netip.MustParseAddr("fd7a:115c:a1e0:ab12:4843:cd96:626b:430b")
	v6x = netip.MustParseAddr("fd00::ffff:ffff")
	v6y = netip.MustParseAddr("2001:db8::2")
)

// sample is a valid packet with a name, for the table, rewrite, allocation and
// fuzz tests.
type sample struct {
	name string
	b    []byte
}

// samples builds valid packets of every kind the view knows.
func samples(tb testing.TB) []sample {
	tb.Helper()
	ap := func(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }
	mss := []byte{2, 4, 0x05, 0xb4} // TCP option: MSS 1460
	// IPv4 options: record route with room for 2 addresses, then a NOP.
	rr := []byte{7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	// IPv4 option: loose source route with one address left to visit.
	lsrr := []byte{ipv4OptLSRR, 7, 4, 192, 0, 2, 1, ipv4OptNop}
	body := bytes.Repeat([]byte("0123456789abcdef"), 100) // 1600 bytes

	s := []sample{
		{"tcp4-syn", mustBuild(tb, Header{Src: ap(v4a, 40000), Dst: ap(v4b, 80), Proto: ProtoTCP, TCPFlags: TCPSyn, TCPSeq: 1, TCPOptions: mss, DontFragment: true}, nil)},
		{"tcp4-data", mustBuild(tb, Header{Src: ap(v4a, 40000), Dst: ap(v4b, 80), Proto: ProtoTCP, TCPFlags: TCPAck | TCPPsh, TCPSeq: 2, TCPAck: 7}, []byte("GET / HTTP/1.0\r\n\r\n"))},
		{"tcp4-options", mustBuild(tb, Header{Src: ap(v4a, 21), Dst: ap(v4b, 20), Proto: ProtoTCP, TCPFlags: TCPFin | TCPAck, IPv4Options: rr}, []byte("odd"))},
		{"udp4", mustBuild(tb, Header{Src: ap(v4a, 5353), Dst: ap(v4b, 53), Proto: ProtoUDP}, []byte("query"))},
		{"udp4-nocsum", zeroUDPChecksum(mustBuild(tb, Header{Src: ap(v4a, 5353), Dst: ap(v4b, 53), Proto: ProtoUDP}, []byte("query")))},
		{"udp4-lsrr", mustBuild(tb, Header{Src: ap(v4a, 1), Dst: ap(v4b, 2), Proto: ProtoUDP, IPv4Options: lsrr}, []byte("routed"))},
		{"icmp4-echo", mustBuild(tb, Header{Src: ap(v4a, 0), Dst: ap(v4b, 0), Proto: ProtoICMPv4, ICMPType: ICMPv4EchoRequest, ICMPID: 7, ICMPSeq: 1}, []byte("ping"))},
		{"icmp4-reply", mustBuild(tb, Header{Src: ap(v4b, 0), Dst: ap(v4a, 0), Proto: ProtoICMPv4, ICMPType: ICMPv4EchoReply, ICMPID: 7, ICMPSeq: 1}, []byte("ping"))},
		{"gre4", mustBuild(tb, Header{Src: ap(v4a, 0), Dst: ap(v4b, 0), Proto: 47}, []byte{0, 0, 0x08, 0})},
		{"tcp6-syn", mustBuild(tb, Header{Src: ap(v6a, 40000), Dst: ap(v6b, 443), Proto: ProtoTCP, TCPFlags: TCPSyn, TCPOptions: mss}, nil)},
		{"tcp6-rst", mustBuild(tb, Header{Src: ap(v6b, 443), Dst: ap(v6a, 40000), Proto: ProtoTCP, TCPFlags: TCPRst | TCPAck}, nil)},
		{"udp6", mustBuild(tb, Header{Src: ap(v6a, 5353), Dst: ap(v6b, 53), Proto: ProtoUDP}, []byte("query"))},
		{"icmp6-echo", mustBuild(tb, Header{Src: ap(v6a, 0), Dst: ap(v6b, 0), Proto: ProtoICMPv6, ICMPType: ICMPv6EchoRequest, ICMPID: 9, ICMPSeq: 3}, []byte("ping6"))},
		{"icmp6-reply", mustBuild(tb, Header{Src: ap(v6b, 0), Dst: ap(v6a, 0), Proto: ProtoICMPv6, ICMPType: ICMPv6EchoReply, ICMPID: 9, ICMPSeq: 3}, []byte("ping6"))},
		{"nonext6", mustBuild(tb, Header{Src: ap(v6a, 0), Dst: ap(v6b, 0), Proto: 59}, nil)},
	}
	tcp6 := mustBuild(tb, Header{Src: ap(v6a, 22), Dst: ap(v6b, 2222), Proto: ProtoTCP, TCPFlags: TCPAck}, []byte("ssh"))
	// Destination options, then hop-by-hop in front of them: HBH stays first.
	ext := withExt6(withExt6(tcp6, protoDestOpts, padN(6)), protoHopByHop, padN(14))
	s = append(s, sample{"tcp6-ext", ext})
	udp6 := mustBuild(tb, Header{Src: ap(v6a, 1), Dst: ap(v6b, 2), Proto: ProtoUDP}, []byte("routing"))
	// Routing header type 0 with no segments left: the header's destination is final.
	s = append(s, sample{"udp6-rh0", withExt6(udp6, protoRouting, []byte{0, 0, 0, 0, 0, 0})})
	// A routing header with a segment left: the pseudo-header holds another address.
	rh := append([]byte{0, 1, 0, 0, 0, 0}, v6y.AsSlice()...)
	s = append(s, sample{"udp6-routed", withExt6(udp6, protoRouting, rh)})

	big4 := mustBuild(tb, Header{Src: ap(v4a, 4000), Dst: ap(v4b, 4001), Proto: ProtoUDP, IPID: 0x1234}, body)
	f4 := fragment4(tb, big4, 1000)
	s = append(s, sample{"udp4-frag-first", f4[0]}, sample{"udp4-frag-later", f4[1]})
	big6 := mustBuild(tb, Header{Src: ap(v6a, 4000), Dst: ap(v6b, 4001), Proto: ProtoUDP}, body)
	f6 := fragment6(tb, big6, 1000, 0xabcdef)
	s = append(s, sample{"udp6-frag-first", f6[0]}, sample{"udp6-frag-later", f6[1]})
	// An atomic fragment (offset 0, no M flag) is a whole packet (RFC 6946).
	s = append(s, sample{"udp6-atomic", fragment6(tb, udp6, 1000, 1)[0]})
	return s
}

func sampleNamed(tb testing.TB, name string) []byte {
	tb.Helper()
	for _, s := range samples(tb) {
		if s.name == name {
			return s.b
		}
	}
	tb.Fatalf("no sample %q", name)
	return nil
}

func mustBuild(tb testing.TB, h Header, payload []byte) []byte {
	tb.Helper()
	b, err := Build(h, payload)
	if err != nil {
		tb.Fatalf("Build(%+v): %v", h, err)
	}
	return b
}

func mustDecode(tb testing.TB, b []byte) *Parsed {
	tb.Helper()
	p := new(Parsed)
	if err := p.Decode(b); err != nil {
		tb.Fatalf("Decode(%x): %v", b, err)
	}
	return p
}

// zeroUDPChecksum sets the UDP checksum of IPv4 packet b to 0 ("none").
func zeroUDPChecksum(b []byte) []byte {
	hl := int(b[0]&0x0f) * 4
	binary.BigEndian.PutUint16(b[hl+6:], 0)
	return b
}

// recomputed returns a copy of b with every checksum computed in full (a UDP
// checksum of 0 over IPv4 stays 0): the reference for incremental updates.
func recomputed(tb testing.TB, b []byte) []byte {
	tb.Helper()
	c := bytes.Clone(b)
	var p Parsed
	if err := p.Decode(c); err != nil {
		tb.Fatalf("recomputed: %v", err)
	}
	fillChecksums(c, &p, true)
	return c
}

// padN returns an options body of n bytes (n+2 a multiple of 8): one PadN
// option.
func padN(n int) []byte {
	b := make([]byte, n)
	b[0], b[1] = 1, byte(n-2)
	return b
}

// withExt6 returns IPv6 packet b with an extension header of type typ inserted
// right after the fixed header; body is what follows its next-header and
// length bytes, and 2+len(body) must be a multiple of 8.
func withExt6(b []byte, typ IPProto, body []byte) []byte {
	l := 2 + len(body)
	out := make([]byte, 0, len(b)+l)
	out = append(out, b[:ipv6HeaderLen]...)
	out = append(out, b[6], byte(l/8-1))
	out = append(out, body...)
	out = append(out, b[ipv6HeaderLen:]...)
	out[6] = byte(typ)
	binary.BigEndian.PutUint16(out[4:], binary.BigEndian.Uint16(b[4:])+uint16(l))
	return out
}

// fragment4 splits IPv4 packet b into fragments carrying at most size bytes
// of payload each (rounded down to 8), options copied into every one.
func fragment4(tb testing.TB, b []byte, size int) [][]byte {
	tb.Helper()
	hl := int(b[0]&0x0f) * 4
	tl := int(binary.BigEndian.Uint16(b[2:]))
	size &^= 7
	var out [][]byte
	for off := hl; off < tl; off += size {
		end := min(off+size, tl)
		f := append(bytes.Clone(b[:hl]), b[off:end]...)
		binary.BigEndian.PutUint16(f[2:], uint16(len(f)))
		w := binary.BigEndian.Uint16(b[6:])&ipv4DF | uint16((off-hl)/8)
		if end < tl {
			w |= ipv4MF
		}
		binary.BigEndian.PutUint16(f[6:], w)
		p := mustDecode(tb, f)
		fillChecksums(f, p, true)
		out = append(out, f)
	}
	return out
}

// fragment6 splits IPv6 packet b, which must have no extension headers, into
// fragments carrying at most size bytes of fragmentable part each (rounded
// down to 8).
func fragment6(tb testing.TB, b []byte, size int, id uint32) [][]byte {
	tb.Helper()
	size &^= 7
	rest := b[ipv6HeaderLen:]
	var out [][]byte
	for off := 0; off < len(rest); off += size {
		end := min(off+size, len(rest))
		f := bytes.Clone(b[:ipv6HeaderLen])
		f[6] = byte(protoFragment)
		w := uint16(off)
		if end < len(rest) {
			w |= ipv6FragM
		}
		f = append(f, b[6], 0, byte(w>>8), byte(w))
		f = binary.BigEndian.AppendUint32(f, id)
		f = append(f, rest[off:end]...)
		binary.BigEndian.PutUint16(f[4:], uint16(len(f)-ipv6HeaderLen))
		out = append(out, f)
	}
	return out
}

// reassemble joins in-order fragments made by fragment4 or fragment6.
func reassemble(tb testing.TB, frags [][]byte) []byte {
	tb.Helper()
	first := frags[0]
	var b []byte
	if first[0]>>4 == 4 {
		hl := int(first[0]&0x0f) * 4
		b = bytes.Clone(first[:hl])
		for _, f := range frags {
			b = append(b, f[hl:]...)
		}
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		binary.BigEndian.PutUint16(b[6:], binary.BigEndian.Uint16(first[6:])&ipv4DF)
	} else {
		const fl = ipv6HeaderLen + 8
		b = bytes.Clone(first[:ipv6HeaderLen])
		b[6] = first[ipv6HeaderLen]
		for _, f := range frags {
			b = append(b, f[fl:]...)
		}
		binary.BigEndian.PutUint16(b[4:], uint16(len(b)-ipv6HeaderLen))
	}
	p := mustDecode(tb, b)
	if p.IPVersion == 4 {
		hl := ipv4HeaderLenOf(b)
		binary.BigEndian.PutUint16(b[ipv4CsumOff:], 0)
		binary.BigEndian.PutUint16(b[ipv4CsumOff:], ^fold(sum(0, b[:hl])))
	}
	return b
}

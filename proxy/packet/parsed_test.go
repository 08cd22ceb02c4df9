package packet

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// view is what a test expects Decode to see.
type view struct {
	ver      uint8
	proto    IPProto
	src, dst netip.AddrPort
	flags    TCPFlag
	icmp     [2]uint8 // type, code
	frag     bool
	later    bool
	df       bool
	length   int
	payload  string
}

func viewOf(p *Parsed, b []byte) view {
	return view{
		ver: p.IPVersion, proto: p.IPProto, src: p.Src, dst: p.Dst, flags: p.TCPFlags,
		icmp: [2]uint8{p.ICMPType, p.ICMPCode}, frag: p.IsFragment(), later: p.IsNonFirstFragment(),
		df: p.DontFragment(), length: p.Length(), payload: string(p.Payload(b)),
	}
}

func TestDecode(t *testing.T) {
	ap := netip.AddrPortFrom
	a4, b4 := ap(v4a, 0), ap(v4b, 0)
	a6, b6 := ap(v6a, 0), ap(v6b, 0)
	body := string(bytes.Repeat([]byte("0123456789abcdef"), 100))
	tests := []struct {
		name string
		want view
	}{
		{"tcp4-syn", view{ver: 4, proto: ProtoTCP, src: ap(v4a, 40000), dst: ap(v4b, 80), flags: TCPSyn, df: true, length: 44}},
		{"tcp4-data", view{ver: 4, proto: ProtoTCP, src: ap(v4a, 40000), dst: ap(v4b, 80), flags: TCPAck | TCPPsh, length: 58, payload: "GET / HTTP/1.0\r\n\r\n"}},
		{"tcp4-options", view{ver: 4, proto: ProtoTCP, src: ap(v4a, 21), dst: ap(v4b, 20), flags: TCPFin | TCPAck, length: 55, payload: "odd"}},
		{"udp4", view{ver: 4, proto: ProtoUDP, src: ap(v4a, 5353), dst: ap(v4b, 53), length: 33, payload: "query"}},
		{"udp4-nocsum", view{ver: 4, proto: ProtoUDP, src: ap(v4a, 5353), dst: ap(v4b, 53), length: 33, payload: "query"}},
		{"udp4-lsrr", view{ver: 4, proto: ProtoUDP, src: ap(v4a, 1), dst: ap(v4b, 2), length: 42, payload: "routed"}},
		{"icmp4-echo", view{ver: 4, proto: ProtoICMPv4, src: a4, dst: b4, icmp: [2]uint8{8, 0}, length: 32, payload: "ping"}},
		{"icmp4-reply", view{ver: 4, proto: ProtoICMPv4, src: b4, dst: a4, length: 32, payload: "ping"}},
		{"gre4", view{ver: 4, proto: 47, src: a4, dst: b4, length: 24, payload: "\x00\x00\x08\x00"}},
		{"tcp6-syn", view{ver: 6, proto: ProtoTCP, src: ap(v6a, 40000), dst: ap(v6b, 443), flags: TCPSyn, df: true, length: 64}},
		{"tcp6-rst", view{ver: 6, proto: ProtoTCP, src: ap(v6b, 443), dst: ap(v6a, 40000), flags: TCPRst | TCPAck, df: true, length: 60}},
		{"udp6", view{ver: 6, proto: ProtoUDP, src: ap(v6a, 5353), dst: ap(v6b, 53), df: true, length: 53, payload: "query"}},
		{"icmp6-echo", view{ver: 6, proto: ProtoICMPv6, src: a6, dst: b6, icmp: [2]uint8{128, 0}, df: true, length: 53, payload: "ping6"}},
		{"icmp6-reply", view{ver: 6, proto: ProtoICMPv6, src: b6, dst: a6, icmp: [2]uint8{129, 0}, df: true, length: 53, payload: "ping6"}},
		{"nonext6", view{ver: 6, proto: 59, src: a6, dst: b6, df: true, length: 40}},
		{"tcp6-ext", view{ver: 6, proto: ProtoTCP, src: ap(v6a, 22), dst: ap(v6b, 2222), flags: TCPAck, df: true, length: 87, payload: "ssh"}},
		{"udp6-rh0", view{ver: 6, proto: ProtoUDP, src: ap(v6a, 1), dst: ap(v6b, 2), df: true, length: 63, payload: "routing"}},
		{"udp6-routed", view{ver: 6, proto: ProtoUDP, src: ap(v6a, 1), dst: ap(v6b, 2), df: true, length: 79, payload: "routing"}},
		{"udp4-frag-first", view{ver: 4, proto: ProtoUDP, src: ap(v4a, 4000), dst: ap(v4b, 4001), frag: true, length: 1020, payload: body[:992]}},
		{"udp4-frag-later", view{ver: 4, proto: ProtoUDP, src: a4, dst: b4, frag: true, later: true, length: 628, payload: body[992:]}},
		{"udp6-frag-first", view{ver: 6, proto: ProtoUDP, src: ap(v6a, 4000), dst: ap(v6b, 4001), frag: true, df: true, length: 1048, payload: body[:992]}},
		{"udp6-frag-later", view{ver: 6, proto: ProtoUDP, src: a6, dst: b6, frag: true, later: true, df: true, length: 656, payload: body[992:]}},
		{"udp6-atomic", view{ver: 6, proto: ProtoUDP, src: ap(v6a, 1), dst: ap(v6b, 2), df: true, length: 63, payload: "routing"}},
	}
	all := samples(t)
	if len(tests) != len(all) {
		t.Errorf("%d tests for %d samples", len(tests), len(all))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := sampleNamed(t, tt.name)
			var p Parsed
			if err := p.Decode(b); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := viewOf(&p, b); got != tt.want {
				t.Errorf("Decode:\n got %+v\nwant %+v", got, tt.want)
			}
			if err := VerifyChecksums(b); err != nil {
				t.Errorf("VerifyChecksums: %v", err)
			}
			// Trailing bytes after the IP length change nothing.
			long := append(bytes.Clone(b), "trailing junk"...)
			var q Parsed
			if err := q.Decode(long); err != nil {
				t.Fatalf("Decode with trailing bytes: %v", err)
			}
			if got := viewOf(&q, long); got != tt.want {
				t.Errorf("Decode with trailing bytes:\n got %+v\nwant %+v", got, tt.want)
			}
			if n := testing.AllocsPerRun(100, func() { _ = p.Decode(b) }); n != 0 {
				t.Errorf("Decode allocates %v times", n)
			}
		})
	}
}

func TestTCPFlagAccessors(t *testing.T) {
	tests := []struct {
		name               string
		flags              TCPFlag
		syn, ack, fin, rst bool
	}{
		{"syn", TCPSyn, true, false, false, false},
		{"syn-ack", TCPSyn | TCPAck, true, true, false, false},
		{"fin-ack", TCPFin | TCPAck, false, true, true, false},
		{"rst", TCPRst, false, false, false, true},
		{"none", 0, false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustBuild(t, Header{Src: netip.AddrPortFrom(v4a, 1), Dst: netip.AddrPortFrom(v4b, 2), Proto: ProtoTCP, TCPFlags: tt.flags}, nil)
			p := mustDecode(t, b)
			if p.SYN() != tt.syn || p.ACK() != tt.ack || p.FIN() != tt.fin || p.RST() != tt.rst {
				t.Errorf("SYN %v ACK %v FIN %v RST %v, want %v %v %v %v", p.SYN(), p.ACK(), p.FIN(), p.RST(), tt.syn, tt.ack, tt.fin, tt.rst)
			}
		})
	}
	// Flags of a UDP packet are not TCP flags, whatever byte 13 holds.
	b := mustBuild(t, Header{Src: netip.AddrPortFrom(v4a, 1), Dst: netip.AddrPortFrom(v4b, 2), Proto: ProtoUDP}, bytes.Repeat([]byte{0xff}, 20))
	if p := mustDecode(t, b); p.SYN() || p.ACK() || p.FIN() || p.RST() || p.TCPFlags != 0 {
		t.Errorf("UDP packet has TCP flags %#x", p.TCPFlags)
	}
}

func TestDecodeMalformed(t *testing.T) {
	// edit returns a copy of sample name changed by f.
	edit := func(name string, f func(b []byte) []byte) []byte {
		return f(bytes.Clone(sampleNamed(t, name)))
	}
	put16 := func(off int, v uint16) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint16(b[off:], v); return b }
	}
	set := func(off int, v byte) func([]byte) []byte {
		return func(b []byte) []byte { b[off] = v; return b }
	}
	// A UDP packet behind n destination-options headers.
	manyExt := func(n int) []byte {
		b := sampleNamed(t, "udp6")
		for range n {
			b = withExt6(b, protoDestOpts, padN(6))
		}
		return b
	}
	udp6 := sampleNamed(t, "udp6")
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTooShort},
		{"ipv4-19-bytes", sampleNamed(t, "tcp4-syn")[:19], ErrTooShort},
		{"ipv6-39-bytes", udp6[:39], ErrTooShort},
		{"version-0", make([]byte, 40), ErrVersion},
		{"version-5", edit("tcp4-syn", set(0, 0x55)), ErrVersion},
		{"version-6-nibble-in-24-bytes", edit("gre4", set(0, 0x65)), ErrTooShort},
		{"ihl-4", edit("tcp4-syn", set(0, 0x44)), ErrHeaderLen},
		{"ihl-beyond-total", edit("icmp4-echo", set(0, 0x4f)), ErrHeaderLen},
		{"total-19", edit("tcp4-syn", put16(2, 19)), ErrHeaderLen},
		{"total-beyond-buffer", sampleNamed(t, "tcp4-data")[:57], ErrTruncated},
		{"payload-len-beyond-buffer", udp6[:len(udp6)-1], ErrTruncated},
		{"tcp4-short", edit("tcp4-data", put16(2, 20+19)), ErrTransport},
		{"tcp-data-offset-4", edit("tcp4-syn", set(20+12, 0x40)), ErrTCPDataOffset},
		{"tcp-data-offset-beyond", edit("tcp4-data", set(20+12, 0xf0)), ErrTCPDataOffset},
		{"tcp6-short", edit("tcp6-rst", put16(4, 19)), ErrTransport},
		{"udp4-short", edit("udp4", put16(2, 20+7)), ErrTransport},
		{"udp-len-7", edit("udp4", put16(20+4, 7)), ErrUDPLen},
		{"udp-len-beyond", edit("udp4", put16(20+4, 14)), ErrUDPLen},
		{"udp6-len-beyond", edit("udp6", put16(40+4, 14)), ErrUDPLen},
		{"udp-frag-len-7", edit("udp4-frag-first", put16(20+4, 7)), ErrUDPLen},
		{"icmp4-short", edit("icmp4-echo", put16(2, 20+7)), ErrTransport},
		{"icmp6-short", edit("icmp6-echo", put16(4, 7)), ErrTransport},
		{"ext-truncated", edit("tcp6-ext", put16(4, 7)), ErrExtHeader},
		{"ext-length-beyond", edit("tcp6-ext", set(41, 200)), ErrExtHeader},
		{"hop-by-hop-not-first", withExt6(withExt6(udp6, protoHopByHop, padN(6)), protoDestOpts, padN(6)), ErrExtHeader},
		{"fragment-header-truncated", edit("udp6-frag-later", put16(4, 4)), ErrExtHeader},
		{"ext-max", manyExt(MaxExtHeaders), nil},
		{"ext-too-many", manyExt(MaxExtHeaders + 1), ErrExtHeaderCount},
		{"frag4-first-tiny-tcp", edit("tcp4-data", func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[2:], 20+8)
			binary.BigEndian.PutUint16(b[6:], ipv4MF)
			return b
		}), ErrTransport},
		{"frag6-first-tiny-udp", edit("udp6-frag-first", put16(4, 8+4)), ErrTransport},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Parsed{IPVersion: 9, Src: netip.AddrPortFrom(v4a, 1)} // stale content
			err := p.Decode(tt.b)
			if err != tt.want {
				t.Fatalf("Decode = %v, want %v", err, tt.want)
			}
			if err != nil && p != (Parsed{}) {
				t.Errorf("failed Decode left %+v", p)
			}
		})
	}
}

func TestParsedString(t *testing.T) {
	tests := []struct{ name, want string }{
		{"tcp4-syn", "TCP 100.64.1.2:40000 > 100.100.7.9:80 len=44 [S]"},
		{"icmp6-echo", "ICMPv6 [fd7a:115c:a1e0::1]:0 > [fd7a:115c:a1e0:ab12:4843:cd96:626b:430b]:0 len=53 type=128 code=0"},
		{"udp4-frag-later", "UDP 100.64.1.2:0 > 100.100.7.9:0 len=628 frag"},
		{"gre4", "IPProto(47) 100.64.1.2:0 > 100.100.7.9:0 len=24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustDecode(t, sampleNamed(t, tt.name)).String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
	var p Parsed
	if got := p.String(); got != "invalid" {
		t.Errorf("zero Parsed String() = %q", got)
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"tcp4-data", "udp6", "tcp6-ext"} {
		pkt := sampleNamed(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var p Parsed
			for b.Loop() {
				if err := p.Decode(pkt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

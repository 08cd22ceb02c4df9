package packet

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// gsoOf returns the header Linux gives with super-packet b, cut into size
// bytes of payload: its GSO type, a partial checksum, and the header length.
func gsoOf(tb testing.TB, b []byte, size uint16) GSO {
	tb.Helper()
	p := mustDecode(tb, b)
	g := GSO{
		Type:       GSOTCPv6,
		NeedsCsum:  true,
		HdrLen:     uint16(p.dataofs),
		Size:       size,
		CsumStart:  uint16(p.subofs),
		CsumOffset: uint16(p.csumofs - p.subofs),
	}
	switch {
	case p.IPProto == ProtoUDP:
		g.Type = GSOUDPL4
	case p.IPVersion == 4:
		g.Type = GSOTCPv4
	}
	return g
}

// partial returns a copy of b whose transport checksum field holds what Linux
// leaves for the device to finish (CHECKSUM_PARTIAL): the folded sum of the
// pseudo-header over the whole transport length, not complemented.
func partial(tb testing.TB, b []byte) []byte {
	tb.Helper()
	c := bytes.Clone(b)
	p := mustDecode(tb, c)
	seg := c[p.subofs:p.end]
	binary.BigEndian.PutUint16(c[p.csumofs:], fold(pseudoSum(p.Src.Addr(), p.Dst.Addr(), p.IPProto, len(seg))))
	return c
}

// segBufs returns n zeroed buffers of size bytes each.
func segBufs(n, size int) ([][]byte, []int) {
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, size)
	}
	return out, make([]int, n)
}

// pattern returns n bytes that differ from one position to the next, so that
// a misplaced byte shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// gsoCase is a super-packet for the segmentation tests: h and a payload of
// payload bytes, IPv6 extension headers in front of the transport if ext, cut
// into size bytes each.
type gsoCase struct {
	name    string
	h       Header
	ext     bool
	payload int
	size    uint16
}

func gsoCases() []gsoCase {
	ap := netip.AddrPortFrom
	ts := []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2} // NOP NOP timestamps
	rr := []byte{7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1} // record route, NOP
	all := TCPAck | TCPPsh | TCPFin | TCPCwr | TCPEce
	return []gsoCase{
		// Sequence number and IPv4 id wrap on the way.
		{"tcp4-options", Header{Src: ap(v4a, 40000), Dst: ap(v4b, 80), Proto: ProtoTCP, TCPFlags: all, TCPSeq: 0xfffff000, TCPAck: 9, TCPOptions: ts, IPv4Options: rr, IPID: 0xfffe, DontFragment: true}, false, 10000, 1448},
		{"tcp4-exact", Header{Src: ap(v4a, 1), Dst: ap(v4b, 2), Proto: ProtoTCP, TCPFlags: TCPAck | TCPPsh, TCPSeq: 5}, false, 2 * 1448, 1448},
		{"tcp4-one", Header{Src: ap(v4a, 1), Dst: ap(v4b, 2), Proto: ProtoTCP, TCPFlags: all, TCPSeq: 5}, false, 1000, 1448},
		{"tcp4-tiny", Header{Src: ap(v4a, 1), Dst: ap(v4b, 2), Proto: ProtoTCP, TCPFlags: TCPAck, TCPSeq: 5}, false, 100, 8},
		{"tcp6", Header{Src: ap(v6a, 443), Dst: ap(v6b, 40000), Proto: ProtoTCP, TCPFlags: all, TCPSeq: 77, TCPOptions: ts}, false, 5000, 1208},
		{"tcp6-many", Header{Src: ap(v6a, 443), Dst: ap(v6b, 40000), Proto: ProtoTCP, TCPFlags: TCPAck | TCPFin, TCPSeq: 1}, false, 4001, 2},
		{"tcp6-ext", Header{Src: ap(v6a, 443), Dst: ap(v6b, 40000), Proto: ProtoTCP, TCPFlags: TCPAck | TCPCwr, TCPSeq: 77}, true, 5000, 1220},
		{"udp4", Header{Src: ap(v4a, 4433), Dst: ap(v4b, 443), Proto: ProtoUDP, IPID: 100}, false, 3000, 1200},
		{"udp4-last-byte", Header{Src: ap(v4a, 4433), Dst: ap(v4b, 443), Proto: ProtoUDP}, false, 2401, 1200},
		{"udp6", Header{Src: ap(v6a, 4433), Dst: ap(v6b, 443), Proto: ProtoUDP}, false, 2500, 1000},
		{"udp6-ext", Header{Src: ap(v6a, 4433), Dst: ap(v6b, 443), Proto: ProtoUDP}, true, 2500, 1000},
	}
}

// build returns the packet of h with payload, with c's extension headers.
func (c gsoCase) build(tb testing.TB, h Header, payload []byte) []byte {
	tb.Helper()
	b := mustBuild(tb, h, payload)
	if c.ext {
		b = withExt6(b, protoDestOpts, padN(6))
	}
	return b
}

// want returns the segments Linux's TSO or USO makes of c: each built in full.
func (c gsoCase) want(tb testing.TB) [][]byte {
	tb.Helper()
	payload := pattern(c.payload)
	var segs [][]byte
	size := int(c.size)
	for i := 0; i*size < len(payload); i++ {
		h := c.h
		h.TCPSeq += uint32(i * size)
		h.IPID += uint16(i)
		last := (i+1)*size >= len(payload)
		if !last {
			h.TCPFlags &^= TCPFin | TCPPsh
		}
		if i > 0 {
			h.TCPFlags &^= TCPCwr
		}
		segs = append(segs, c.build(tb, h, payload[i*size:min((i+1)*size, len(payload))]))
	}
	return segs
}

func TestSegment(t *testing.T) {
	const offset = 16
	fields := []struct {
		name string
		set  func(testing.TB, []byte) []byte
	}{
		{"partial", partial},
		{"complete", func(_ testing.TB, b []byte) []byte { return b }},
		{"garbage", func(tb testing.TB, b []byte) []byte {
			c := bytes.Clone(b)
			p := mustDecode(tb, c)
			c[p.csumofs] ^= 0x5a
			return c
		}},
	}
	for _, c := range gsoCases() {
		for _, field := range fields {
			t.Run(c.name+"/"+field.name, func(t *testing.T) {
				pkt := field.set(t, c.build(t, c.h, pattern(c.payload)))
				in := bytes.Clone(pkt)
				g := gsoOf(t, pkt, c.size)
				want := c.want(t)
				if err := g.Check(pkt, mustDecode(t, pkt)); err != nil {
					t.Fatalf("Check: %v", err)
				}
				if got := g.Segments(mustDecode(t, pkt)); got != len(want) {
					t.Errorf("Segments = %d, want %d", got, len(want))
				}
				out, sizes := segBufs(len(want)+1, offset+int(g.HdrLen)+int(g.Size))
				n, err := Segment(pkt, g, out, sizes, offset)
				if err != nil {
					t.Fatalf("Segment: %v", err)
				}
				if n != len(want) {
					t.Fatalf("%d segments, want %d", n, len(want))
				}
				if !bytes.Equal(pkt, in) {
					t.Error("Segment changed its input")
				}
				var payload []byte
				q := mustDecode(t, pkt)
				for i := range n {
					seg := out[i][offset : offset+sizes[i]]
					if !bytes.Equal(out[i][:offset], make([]byte, offset)) {
						t.Errorf("segment %d: bytes before offset written", i)
					}
					if err := VerifyChecksums(seg); err != nil {
						t.Errorf("segment %d: %v", i, err)
					}
					p := mustDecode(t, seg)
					if p.Src != q.Src || p.Dst != q.Dst || p.IPProto != q.IPProto {
						t.Errorf("segment %d: %v, super-packet %v", i, p, q)
					}
					payload = append(payload, p.Payload(seg)...)
					if !bytes.Equal(seg, want[i]) {
						t.Errorf("segment %d:\n got %x\nwant %x", i, seg, want[i])
					}
				}
				if !bytes.Equal(payload, mustDecode(t, pkt).Payload(pkt)) {
					t.Error("segments' payloads do not make the super-packet's")
				}
			})
		}
	}
}

func TestSegmentNone(t *testing.T) {
	for _, name := range []string{"tcp4-data", "tcp4-options", "udp4", "tcp6-ext", "udp6", "udp6-routed", "icmp4-echo", "udp4-frag-later"} {
		t.Run(name, func(t *testing.T) {
			orig := sampleNamed(t, name)
			p := mustDecode(t, orig)
			tests := []struct {
				name string
				pkt  []byte
				g    GSO
			}{
				{"copy", orig, GSO{}},
			}
			if p.csumofs != 0 && (p.IPProto == ProtoTCP || p.IPProto == ProtoUDP) && !p.IsFragment() {
				g := gsoOf(t, orig, 0)
				g.Type, g.HdrLen, g.Size = GSONone, 0, 0
				tests = append(tests, struct {
					name string
					pkt  []byte
					g    GSO
				}{"partial", partial(t, orig), g})
			}
			for _, tt := range tests {
				in := bytes.Clone(tt.pkt)
				out, sizes := segBufs(1, 2000)
				n, err := Segment(append(tt.pkt, "trailer"...), tt.g, out, sizes, 3)
				if err != nil || n != 1 {
					t.Fatalf("%s: Segment = %d, %v", tt.name, n, err)
				}
				if got := out[0][3 : 3+sizes[0]]; !bytes.Equal(got, orig) {
					t.Errorf("%s:\n got %x\nwant %x", tt.name, got, orig)
				}
				if !bytes.Equal(tt.pkt, in) {
					t.Errorf("%s: Segment changed its input", tt.name)
				}
			}
		})
	}
}

// udpZeroSum returns an IPv4 UDP packet whose checksum computes to 0 and is
// sent as 0xffff.
func udpZeroSum(tb testing.TB) []byte {
	tb.Helper()
	for port := range 0x10000 {
		b := mustBuild(tb, Header{Src: netip.AddrPortFrom(v4a, uint16(port)), Dst: netip.AddrPortFrom(v4b, 53), Proto: ProtoUDP}, []byte("query"))
		if binary.BigEndian.Uint16(b[ipv4HeaderLen+6:]) == 0xffff {
			return b
		}
	}
	tb.Fatal("no port gives a UDP checksum of 0")
	return nil
}

func TestCompleteChecksum(t *testing.T) {
	for _, name := range []string{"tcp4-data", "tcp4-options", "tcp4-syn", "udp4", "tcp6-ext", "tcp6-rst", "udp6", "udp6-rh0", "udp6-routed", "udp6-atomic", "udp0xffff"} {
		t.Run(name, func(t *testing.T) {
			var orig []byte
			if name == "udp0xffff" {
				orig = udpZeroSum(t)
			} else {
				orig = sampleNamed(t, name)
			}
			g := gsoOf(t, orig, 0)
			g.Type, g.HdrLen, g.Size = GSONone, 0, 0
			b := partial(t, orig)
			if err := CompleteChecksum(b, g); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, orig) {
				t.Errorf("completed:\n got %x\nwant %x", b, orig)
			}
		})
	}

	tcp4 := partial(t, sampleNamed(t, "tcp4-data"))
	ok := gsoOf(t, tcp4, 0)
	ok.Type, ok.HdrLen, ok.Size = GSONone, 0, 0
	with := func(f func(*GSO)) GSO {
		g := ok
		f(&g)
		return g
	}
	tests := []struct {
		name string
		b    []byte
		g    GSO
		want error
	}{
		{"no-csum", tcp4, GSO{}, nil},
		{"gso", tcp4, gsoOf(t, tcp4, 100), ErrGSOMismatch},
		{"garbage", []byte{0x45, 0}, ok, ErrTooShort},
		{"udp-offset", tcp4, with(func(g *GSO) { g.CsumOffset = udpCsumOff }), ErrGSOMismatch},
		{"start", tcp4, with(func(g *GSO) { g.CsumStart += 4 }), ErrGSOMismatch},
		{"icmp", sampleNamed(t, "icmp4-echo"), ok, ErrGSOMismatch},
		{"fragment", sampleNamed(t, "udp4-frag-first"), with(func(g *GSO) { g.CsumOffset = udpCsumOff }), ErrGSOMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Clone(tt.b)
			if err := CompleteChecksum(b, tt.g); err != tt.want {
				t.Errorf("CompleteChecksum = %v, want %v", err, tt.want)
			}
			if !bytes.Equal(b, tt.b) {
				t.Error("changed the packet")
			}
		})
	}
}

// TestPartialRewrite rewrites the addresses of a packet with a partial
// checksum and completes it: the result must be the rewritten complete packet,
// and the partial sum on the way the one of the new addresses.
func TestPartialRewrite(t *testing.T) {
	for _, name := range []string{"tcp4-data", "tcp4-options", "tcp4-syn", "udp4", "tcp6-syn", "tcp6-ext", "udp6", "udp6-rh0", "udp0xffff"} {
		t.Run(name, func(t *testing.T) {
			var orig []byte
			if name == "udp0xffff" {
				orig = udpZeroSum(t)
			} else {
				orig = sampleNamed(t, name)
			}
			want := bytes.Clone(orig)
			p := mustDecode(t, want)
			x, y := newAddrs(p)
			if err := p.SetSrcAddr(want, x); err != nil {
				t.Fatal(err)
			}
			if err := p.SetDstAddr(want, y); err != nil {
				t.Fatal(err)
			}

			b := partial(t, orig)
			p = mustDecode(t, b)
			if p.PartialChecksum() {
				t.Fatal("Decode left the partial flag set")
			}
			p.SetPartialChecksum(true)
			if err := p.SetSrcAddr(b, x); err != nil {
				t.Fatal(err)
			}
			if err := p.SetDstAddr(b, y); err != nil {
				t.Fatal(err)
			}
			if !p.PartialChecksum() {
				t.Error("rewrite cleared the partial flag")
			}
			if wp := partial(t, want); !bytes.Equal(b, wp) {
				t.Errorf("partial sum after rewrite:\n got %x\nwant %x", b, wp)
			}
			g := gsoOf(t, b, 0)
			g.Type, g.HdrLen, g.Size = GSONone, 0, 0
			if err := CompleteChecksum(b, g); err != nil {
				t.Fatal(err)
			}
			if err := VerifyChecksums(b); err != nil {
				t.Error(err)
			}
			if !bytes.Equal(b, want) {
				t.Errorf("rewritten partial, completed:\n got %x\nwant %x", b, want)
			}
			p.SetPartialChecksum(false)
			if p.PartialChecksum() {
				t.Error("SetPartialChecksum(false) did not clear")
			}
		})
	}
}

// TestPartialRewriteSegment rewrites a partial super-packet, as a proxy does
// before segmenting, and segments it: every segment must be valid and carry
// the new addresses.
func TestPartialRewriteSegment(t *testing.T) {
	for _, c := range gsoCases() {
		t.Run(c.name, func(t *testing.T) {
			b := partial(t, c.build(t, c.h, pattern(c.payload)))
			p := mustDecode(t, b)
			p.SetPartialChecksum(true)
			x, y := newAddrs(p)
			if err := p.SetSrcAddr(b, x); err != nil {
				t.Fatal(err)
			}
			if err := p.SetDstAddr(b, y); err != nil {
				t.Fatal(err)
			}
			h := c.h
			h.Src, h.Dst = netip.AddrPortFrom(x, h.Src.Port()), netip.AddrPortFrom(y, h.Dst.Port())
			if want := partial(t, c.build(t, h, pattern(c.payload))); !bytes.Equal(b, want) {
				t.Fatalf("rewritten super-packet:\n got %x\nwant %x", b, want)
			}
			out, sizes := segBufs(c.payload/int(c.size)+1, 2000)
			n, err := Segment(b, gsoOf(t, b, c.size), out, sizes, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if err := VerifyChecksums(out[i][:sizes[i]]); err != nil {
					t.Errorf("segment %d: %v", i, err)
				}
			}
		})
	}
}

func TestGSOCheck(t *testing.T) {
	c := gsoCases()[0]
	tcp4 := partial(t, c.build(t, c.h, pattern(c.payload)))
	ok := gsoOf(t, tcp4, c.size)
	with := func(g GSO, f func(*GSO)) GSO {
		f(&g)
		return g
	}
	udp6 := partial(t, sampleNamed(t, "udp6"))
	tcp6 := partial(t, sampleNamed(t, "tcp6-ext"))
	ack := partial(t, mustBuild(t, Header{Src: netip.AddrPortFrom(v4a, 1), Dst: netip.AddrPortFrom(v4b, 2), Proto: ProtoTCP, TCPFlags: TCPAck}, nil))
	synData := partial(t, mustBuild(t, Header{Src: netip.AddrPortFrom(v4a, 1), Dst: netip.AddrPortFrom(v4b, 2), Proto: ProtoTCP, TCPFlags: TCPSyn}, pattern(100)))
	frag := sampleNamed(t, "udp4-frag-first")
	routed := partial(t, sampleNamed(t, "udp6-routed"))
	big := partial(t, mustBuild(t, Header{Src: netip.AddrPortFrom(v4a, 1), Dst: netip.AddrPortFrom(v4b, 2), Proto: ProtoTCP}, pattern(MaxSegments+1)))
	tests := []struct {
		name string
		b    []byte
		g    GSO
		want error
	}{
		{"ok", tcp4, ok, nil},
		{"ok-ecn", tcp4, with(ok, func(g *GSO) { g.ECN = true }), nil},
		{"ok-udp6", udp6, gsoOf(t, udp6, 1), nil},
		{"ok-tcp6", tcp6, gsoOf(t, tcp6, 1), nil},
		{"ok-max-segments", big, gsoOf(t, big, 2), nil},
		{"none", tcp4, GSO{}, nil},
		{"tcp6-on-v4", tcp4, with(ok, func(g *GSO) { g.Type = GSOTCPv6 }), ErrGSOMismatch},
		{"tcp4-on-v6", tcp6, with(gsoOf(t, tcp6, 1), func(g *GSO) { g.Type = GSOTCPv4 }), ErrGSOMismatch},
		{"udp-on-tcp", tcp4, with(ok, func(g *GSO) { g.Type = GSOUDPL4 }), ErrGSOMismatch},
		{"tcp-on-udp", udp6, with(gsoOf(t, udp6, 1), func(g *GSO) { g.Type, g.CsumOffset = GSOTCPv6, tcpCsumOff }), ErrGSOMismatch},
		{"unknown-type", tcp4, with(ok, func(g *GSO) { g.Type = 9 }), ErrGSOMismatch},
		{"kernel-hdr-len", tcp4, with(ok, func(g *GSO) { g.HdrLen += 1448 }), ErrGSOMismatch},
		{"short-hdr-len", tcp4, with(ok, func(g *GSO) { g.HdrLen -= 12 }), ErrGSOMismatch},
		{"size-0", tcp4, with(ok, func(g *GSO) { g.Size = 0 }), ErrGSOMismatch},
		{"no-csum", tcp4, with(ok, func(g *GSO) { g.NeedsCsum, g.CsumStart, g.CsumOffset = false, 0, 0 }), ErrGSOMismatch},
		{"csum-offset", tcp4, with(ok, func(g *GSO) { g.CsumOffset = udpCsumOff }), ErrGSOMismatch},
		{"csum-start", tcp4, with(ok, func(g *GSO) { g.CsumStart -= 4 }), ErrGSOMismatch},
		{"csum-without-flag", tcp4, GSO{CsumStart: 32, CsumOffset: 16}, ErrGSOMismatch},
		{"none-size", tcp4, GSO{Size: 1000}, ErrGSOMismatch},
		{"none-ecn", tcp4, GSO{ECN: true}, ErrGSOMismatch},
		{"ecn-udp", udp6, with(gsoOf(t, udp6, 1), func(g *GSO) { g.ECN = true }), ErrGSOMismatch},
		{"syn", synData, gsoOf(t, synData, 10), ErrGSOMismatch},
		{"no-payload", ack, gsoOf(t, ack, 10), ErrGSOMismatch},
		{"fragment", frag, gsoOf(t, frag, 100), ErrGSOMismatch},
		{"routed", routed, gsoOf(t, routed, 2), ErrGSOMismatch},
		{"too-many", big, gsoOf(t, big, 1), ErrGSOSegments},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustDecode(t, tt.b)
			if err := tt.g.Check(tt.b, p); err != tt.want {
				t.Errorf("Check = %v, want %v", err, tt.want)
			}
			out, sizes := segBufs(MaxSegments, 0)
			for i := range out {
				out[i] = make([]byte, 100)
			}
			out[0] = make([]byte, 70000)
			_, err := Segment(tt.b, tt.g, out, sizes, 0)
			if tt.want != nil && err != tt.want {
				t.Errorf("Segment = %v, want %v", err, tt.want)
			}
		})
	}

	// The kernel's hdr_len corrected from the packet.
	g := with(ok, func(g *GSO) { g.HdrLen = 1500 })
	p := mustDecode(t, tcp4)
	g.SetHdrLen(p)
	if err := g.Check(tcp4, p); err != nil || g != ok {
		t.Errorf("after SetHdrLen: %+v, Check %v", g, err)
	}
	none := GSO{HdrLen: 54}
	none.SetHdrLen(p)
	if none.HdrLen != 0 {
		t.Errorf("SetHdrLen of GSONone left %d", none.HdrLen)
	}

	// A view that is not of the packet.
	for _, v := range []*Parsed{{}, mustDecode(t, tcp6)} {
		if err := ok.Check(tcp4, v); err != ErrBuffer {
			t.Errorf("Check with view %v = %v, want ErrBuffer", v, err)
		}
	}
	if err := ok.Check(tcp4[:100], mustDecode(t, tcp4)); err != ErrBuffer {
		t.Errorf("Check of a short buffer = %v, want ErrBuffer", err)
	}
	if _, err := Segment([]byte{0x60}, ok, nil, nil, 0); err != ErrTooShort {
		t.Errorf("Segment of garbage = %v, want ErrTooShort", err)
	}
}

func TestSegmentRoom(t *testing.T) {
	c := gsoCases()[0] // 7 segments: 6 of 1448 bytes, then 1312
	pkt := partial(t, c.build(t, c.h, pattern(c.payload)))
	g := gsoOf(t, pkt, c.size)
	full := int(g.HdrLen) + int(g.Size)
	last := int(g.HdrLen) + c.payload - 6*int(c.size)
	tests := []struct {
		name   string
		bufs   int
		sizes  int
		size   int
		last   int // size of the last buffer
		offset int
		want   error
	}{
		{"fits", 7, 7, full, last, 0, nil},
		{"fits-offset", 7, 7, full + 10, last + 10, 10, nil},
		{"few-buffers", 6, 7, full, full, 0, ErrSegmentRoom},
		{"few-sizes", 7, 6, full, full, 0, ErrSegmentRoom},
		{"small-buffer", 7, 7, full - 1, full, 0, ErrSegmentRoom},
		{"small-last", 7, 7, full, last - 1, 0, ErrSegmentRoom},
		{"offset", 7, 7, full, last, 1, ErrSegmentRoom},
		{"offset-beyond", 7, 7, full, last, full + 1, ErrSegmentRoom},
		{"negative-offset", 7, 7, full, last, -1, ErrSegmentRoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _ := segBufs(tt.bufs, tt.size)
			out[len(out)-1] = make([]byte, tt.last)
			sizes := make([]int, tt.sizes)
			n, err := Segment(pkt, g, out, sizes, tt.offset)
			if err != tt.want {
				t.Fatalf("Segment = %d, %v, want %v", n, err, tt.want)
			}
			if err == nil {
				return
			}
			if n != 0 {
				t.Errorf("n = %d with an error", n)
			}
			for i, o := range out {
				if !bytes.Equal(o, make([]byte, len(o))) {
					t.Errorf("buffer %d written", i)
				}
			}
		})
	}

	none := sampleNamed(t, "udp4")
	for _, out := range [][][]byte{nil, {make([]byte, len(none)-1)}} {
		if _, err := Segment(none, GSO{}, out, make([]int, 1), 0); err != ErrSegmentRoom {
			t.Errorf("GSONone into %d buffers: %v, want ErrSegmentRoom", len(out), err)
		}
	}
}

// virtioHdr returns a struct virtio_net_hdr in host byte order.
func virtioHdr(flags, typ uint8, hdrLen, size, start, off uint16) []byte {
	b := []byte{flags, typ}
	for _, v := range []uint16{hdrLen, size, start, off} {
		b = binary.NativeEndian.AppendUint16(b, v)
	}
	return b
}

func TestParseVirtioHdr(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want GSO
		err  error
	}{
		{"none", virtioHdr(0, 0, 0, 0, 0, 0), GSO{}, nil},
		{"csum", virtioHdr(1, 0, 0, 0, 20, 6), GSO{NeedsCsum: true, CsumStart: 20, CsumOffset: 6}, nil},
		{"tcpv4", virtioHdr(1, 1, 66, 1448, 20, 16), GSO{Type: GSOTCPv4, NeedsCsum: true, HdrLen: 66, Size: 1448, CsumStart: 20, CsumOffset: 16}, nil},
		{"tcpv6-ecn", virtioHdr(1, 0x84, 74, 1428, 40, 16), GSO{Type: GSOTCPv6, NeedsCsum: true, ECN: true, HdrLen: 74, Size: 1428, CsumStart: 40, CsumOffset: 16}, nil},
		{"udp-l4", virtioHdr(1, 5, 48, 1200, 40, 6), GSO{Type: GSOUDPL4, NeedsCsum: true, HdrLen: 48, Size: 1200, CsumStart: 40, CsumOffset: 6}, nil},
		{"data-valid", virtioHdr(2, 0, 0, 0, 0, 0), GSO{}, nil},
		{"ufo", virtioHdr(1, 3, 28, 1200, 20, 6), GSO{}, ErrGSOHeader},
		{"type-2", virtioHdr(1, 2, 0, 0, 0, 0), GSO{}, ErrGSOHeader},
		{"type-6", virtioHdr(1, 6, 0, 0, 0, 0), GSO{}, ErrGSOHeader},
		{"rsc-info", virtioHdr(4, 0, 0, 0, 0, 0), GSO{}, ErrGSOHeader},
		{"short", virtioHdr(0, 0, 0, 0, 0, 0)[:9], GSO{}, ErrGSOHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := ParseVirtioHdr(tt.b)
			if g != tt.want || err != tt.err {
				t.Fatalf("ParseVirtioHdr = %+v, %v; want %+v, %v", g, err, tt.want, tt.err)
			}
			if err != nil {
				return
			}
			b := bytes.Repeat([]byte{0xaa}, VirtioHdrLen+2)
			g.PutVirtioHdr(b)
			want := append(bytes.Clone(tt.b), 0xaa, 0xaa)
			want[0] &^= virtioFlagDataValid
			if !bytes.Equal(b, want) {
				t.Errorf("PutVirtioHdr = %x, want %x", b, want)
			}
		})
	}
}

func TestGSOWire(t *testing.T) {
	wire := func(typ, flags uint8, v ...uint16) []byte {
		b := []byte{typ, flags}
		for _, x := range v {
			b = binary.BigEndian.AppendUint16(b, x)
		}
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want GSO
		err  error
	}{
		{"none", wire(0, 0, 0, 0, 0, 0), GSO{}, nil},
		{"csum-udp", wire(0, 1, 0, 0, 20, 6), GSO{NeedsCsum: true, CsumStart: 20, CsumOffset: 6}, nil},
		{"tcpv4", wire(1, 1, 66, 1448, 20, 16), GSO{Type: GSOTCPv4, NeedsCsum: true, HdrLen: 66, Size: 1448, CsumStart: 20, CsumOffset: 16}, nil},
		{"tcpv6-ecn", wire(2, 3, 60, 1, 40, 16), GSO{Type: GSOTCPv6, NeedsCsum: true, ECN: true, HdrLen: 60, Size: 1, CsumStart: 40, CsumOffset: 16}, nil},
		{"udp-l4", wire(3, 1, 48, 1200, 40, 6), GSO{Type: GSOUDPL4, NeedsCsum: true, HdrLen: 48, Size: 1200, CsumStart: 40, CsumOffset: 6}, nil},
		{"short", wire(0, 0, 0, 0, 0, 0)[:9], GSO{}, ErrGSOHeader},
		{"type", wire(4, 1, 66, 1448, 20, 16), GSO{}, ErrGSOHeader},
		{"flag", wire(0, 4, 0, 0, 0, 0), GSO{}, ErrGSOHeader},
		{"none-size", wire(0, 0, 0, 1, 0, 0), GSO{}, ErrGSOHeader},
		{"none-hdr-len", wire(0, 0, 54, 0, 0, 0), GSO{}, ErrGSOHeader},
		{"none-ecn", wire(0, 2, 0, 0, 0, 0), GSO{}, ErrGSOHeader},
		{"none-csum-start", wire(0, 0, 0, 0, 20, 0), GSO{}, ErrGSOHeader},
		{"csum-offset", wire(0, 1, 0, 0, 20, 8), GSO{}, ErrGSOHeader},
		{"csum-start", wire(0, 1, 0, 0, 19, 6), GSO{}, ErrGSOHeader},
		{"tcp-no-csum", wire(1, 0, 66, 1448, 0, 0), GSO{}, ErrGSOHeader},
		{"tcp-size-0", wire(1, 1, 66, 0, 20, 16), GSO{}, ErrGSOHeader},
		{"tcp-udp-offset", wire(1, 1, 66, 1448, 20, 6), GSO{}, ErrGSOHeader},
		{"tcp-hdr-len", wire(1, 1, 39, 1448, 20, 16), GSO{}, ErrGSOHeader},
		{"udp-hdr-len", wire(3, 1, 60, 1200, 40, 6), GSO{}, ErrGSOHeader},
		{"udp-ecn", wire(3, 3, 48, 1200, 40, 6), GSO{}, ErrGSOHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := ParseGSOWire(tt.b)
			if g != tt.want || err != tt.err {
				t.Fatalf("ParseGSOWire = %+v, %v; want %+v, %v", g, err, tt.want, tt.err)
			}
			if err != nil {
				return
			}
			b := bytes.Repeat([]byte{0xaa}, GSOWireLen+2)
			g.PutWire(b)
			if want := append(bytes.Clone(tt.b), 0xaa, 0xaa); !bytes.Equal(b, want) {
				t.Errorf("PutWire = %x, want %x", b, want)
			}
		})
	}
}

func TestGSOTypeString(t *testing.T) {
	for typ, want := range map[GSOType]string{GSONone: "none", GSOTCPv4: "tcpv4", GSOTCPv6: "tcpv6", GSOUDPL4: "udp_l4", 7: "GSOType(7)"} {
		if got := typ.String(); got != want {
			t.Errorf("%d: %q, want %q", uint8(typ), got, want)
		}
	}
}

// super64k returns a 64 KB TCP/IPv4 super-packet, partial checksum, and its
// header for 1400-byte segments.
func super64k(tb testing.TB) ([]byte, GSO) {
	tb.Helper()
	h := Header{Src: netip.AddrPortFrom(v4a, 40000), Dst: netip.AddrPortFrom(v4b, 80), Proto: ProtoTCP, TCPFlags: TCPAck | TCPPsh, DontFragment: true}
	pkt := partial(tb, mustBuild(tb, h, pattern(0xffff-ipv4HeaderLen-tcpHeaderLen)))
	return pkt, gsoOf(tb, pkt, 1400)
}

func TestSegmentAllocs(t *testing.T) {
	pkt, g := super64k(t)
	out, sizes := segBufs(64, 1500)
	none := partial(t, sampleNamed(t, "udp4"))
	gn := gsoOf(t, none, 0)
	gn.Type, gn.HdrLen, gn.Size = GSONone, 0, 0
	scratch := bytes.Clone(none)
	n := testing.AllocsPerRun(20, func() {
		if _, err := Segment(pkt, g, out, sizes, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := Segment(none, gn, out, sizes, 0); err != nil {
			t.Fatal(err)
		}
		if err := CompleteChecksum(scratch, gn); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("Segment and CompleteChecksum allocate %v times", n)
	}
}

func BenchmarkSegment(b *testing.B) {
	pkt, g := super64k(b)
	out, sizes := segBufs(64, 1500)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Segment(pkt, g, out, sizes, 0); err != nil {
			b.Fatal(err)
		}
	}
}

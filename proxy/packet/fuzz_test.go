package packet

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzDecode/built-* from samples()")

const seedDir = "testdata/fuzz/FuzzDecode"

var sentinels = []error{
	ErrTooShort, ErrVersion, ErrHeaderLen, ErrTruncated, ErrExtHeader,
	ErrExtHeaderCount, ErrTransport, ErrTCPDataOffset, ErrUDPLen,
}

// FuzzDecode checks that no input panics Decode or makes it read outside b,
// that every rejection is a sentinel, that an accepted packet's view is
// consistent, and that rewriting its addresses keeps its checksums right: as
// given when they were valid, and after computing them in full in any case.
// It also answers the packet with an ICMP error and checks the answer.
//
// Seeds (testdata/fuzz/FuzzDecode): real-* were sent by the Linux kernel into
// a tun (testdata/capture), built-* are samples() (go test -update-seeds).
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		var p Parsed
		err := p.Decode(b)
		if !bytes.Equal(b, in) {
			t.Fatal("Decode changed its input")
		}
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error %v is not a sentinel", err)
			}
			if p != (Parsed{}) {
				t.Fatalf("failed Decode left %+v", p)
			}
			return
		}
		checkView(t, &p, b)
		src, dst := derivedAddrs(&p)
		checkRewrite(t, b, src, dst)
		checkRewrite(t, recomputed(t, b), src, dst)
		checkICMPError(t, &p, b)
	})
}

// FuzzRewrite builds a valid packet from the fuzzer's fields, rewrites its
// addresses and checks the result against full recomputation and against the
// packet built with the new addresses; fragments are rewritten one by one.
//
// kind: bit 0 family (0 IPv4, 1 IPv6); bits 1-2 protocol (TCP, UDP, ICMP,
// other); bits 3-4 variant (plain, IPv4 options or IPv6 extension headers, UDP
// checksum 0 over IPv4, fragmented).
func FuzzRewrite(f *testing.F) {
	a4, b4, x4, y4 := v4a.AsSlice(), v4b.AsSlice(), v4x.AsSlice(), v4y.AsSlice()
	a6, b6, x6, y6 := v6a.AsSlice(), v6b.AsSlice(), v6x.AsSlice(), v6y.AsSlice()
	for kind := range 32 {
		if kind&1 == 0 {
			f.Add(uint8(kind), a4, b4, x4, y4, uint16(1234), uint16(80), []byte("payload"))
		} else {
			f.Add(uint8(kind), a6, b6, x6, y6, uint16(1234), uint16(80), bytes.Repeat([]byte("payload "), 200))
		}
	}
	f.Add(uint8(2), []byte{255, 255, 255, 255}, []byte{255, 255, 255, 255}, []byte{0, 0, 0, 0}, []byte{0, 0, 0, 0}, uint16(0), uint16(0), []byte{})
	f.Fuzz(func(t *testing.T, kind uint8, src, dst, nsrc, ndst []byte, sport, dport uint16, payload []byte) {
		if len(payload) > 4000 {
			payload = payload[:4000]
		}
		n := 4
		if kind&1 != 0 {
			n = 16
		}
		addr := func(b []byte) netip.Addr {
			var a [16]byte
			copy(a[:n], b)
			x, _ := netip.AddrFromSlice(a[:n])
			return x
		}
		h := Header{Src: netip.AddrPortFrom(addr(src), sport), Dst: netip.AddrPortFrom(addr(dst), dport), TCPFlags: TCPAck, ICMPType: ICMPv4EchoRequest}
		switch kind >> 1 & 3 {
		case 0:
			h.Proto = ProtoTCP
		case 1:
			h.Proto = ProtoUDP
		case 2:
			h.Proto, h.ICMPType = ProtoICMPv4, ICMPv4EchoRequest
			if n == 16 {
				h.Proto, h.ICMPType = ProtoICMPv6, ICMPv6EchoRequest
			}
		case 3:
			h.Proto = 132 // SCTP: no header of ours
		}
		variant := kind >> 3 & 3
		if variant == 1 && n == 4 {
			h.IPv4Options = []byte{7, 7, 4, 0, 0, 0, 0, ipv4OptNop}
		}
		build := func(h Header) [][]byte {
			b, err := Build(h, payload)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			switch {
			case variant == 1 && n == 16:
				return [][]byte{withExt6(withExt6(b, protoDestOpts, padN(6)), protoHopByHop, padN(6))}
			case variant == 2 && n == 4 && h.Proto == ProtoUDP:
				return [][]byte{zeroUDPChecksum(b)}
			case variant == 3 && n == 4:
				return fragment4(t, b, 600)
			case variant == 3:
				return fragment6(t, b, 1232, 5)
			}
			return [][]byte{b}
		}
		to, tdst := addr(nsrc), addr(ndst)
		pkts := build(h)
		for _, b := range pkts {
			checkRewrite(t, b, to, tdst)
			p := mustDecode(t, b)
			if err := p.SetSrcAddr(b, to); err != nil {
				t.Fatal(err)
			}
			if err := p.SetDstAddr(b, tdst); err != nil {
				t.Fatal(err)
			}
		}
		h.Src = netip.AddrPortFrom(to, sport)
		h.Dst = netip.AddrPortFrom(tdst, dport)
		want := build(h)
		for i := range want {
			if !bytes.Equal(pkts[i], want[i]) {
				t.Fatalf("packet %d of %d rewritten:\n got %x\nwant %x (built)", i, len(want), pkts[i], want[i])
			}
		}
		if len(pkts) > 1 {
			if err := VerifyChecksums(reassemble(t, pkts)); err != nil {
				t.Fatalf("reassembled rewritten fragments: %v", err)
			}
		}
	})
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if err == s {
			return true
		}
	}
	return false
}

// checkView checks the invariants of a view Decode accepted.
func checkView(t *testing.T, p *Parsed, b []byte) {
	t.Helper()
	if p.IPVersion != 4 && p.IPVersion != 6 {
		t.Fatalf("IPVersion %d", p.IPVersion)
	}
	for _, a := range []netip.Addr{p.Src.Addr(), p.Dst.Addr()} {
		if a.Is4() != (p.IPVersion == 4) || a.Is6() != (p.IPVersion == 6) {
			t.Fatalf("address %v in an IPv%d packet", a, p.IPVersion)
		}
	}
	if !(0 < p.subofs && p.subofs <= p.dataofs && p.dataofs <= p.end && p.end <= p.length && p.length <= len(b)) {
		t.Fatalf("offsets: sub %d data %d end %d length %d, buffer %d", p.subofs, p.dataofs, p.end, p.length, len(b))
	}
	if p.csumofs != 0 && (p.csumofs < p.subofs || p.csumofs+2 > p.dataofs) {
		t.Fatalf("checksum at %d outside the transport header [%d, %d)", p.csumofs, p.subofs, p.dataofs)
	}
	if p.IsNonFirstFragment() && (!p.IsFragment() || p.Src.Port() != 0 || p.Dst.Port() != 0 || p.csumofs != 0 || p.dataofs != p.subofs) {
		t.Fatalf("later fragment with a transport header: %+v", p)
	}
	if got := len(p.Payload(b)); got != p.end-p.dataofs {
		t.Fatalf("payload of %d bytes, want %d", got, p.end-p.dataofs)
	}
	_ = p.String()
}

// derivedAddrs returns addresses to rewrite p to that depend on its own: the
// source's bytes reversed, the destination's complemented.
func derivedAddrs(p *Parsed) (src, dst netip.Addr) {
	s, d := p.Src.Addr().AsSlice(), p.Dst.Addr().AsSlice()
	for i := range s {
		d[i] = ^d[i]
	}
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	src, _ = netip.AddrFromSlice(s)
	dst, _ = netip.AddrFromSlice(d)
	return src, dst
}

// checkRewrite rewrites both addresses of packet orig to src and dst and back.
// The view must stay true. If orig's checksums were valid they must stay
// valid; if they were also what full computation gives (canonical), the
// rewritten packet must equal its full recomputation and the round trip must
// restore orig exactly.
func checkRewrite(t *testing.T, orig []byte, src, dst netip.Addr) {
	t.Helper()
	b := bytes.Clone(orig)
	p := mustDecode(t, b)
	before := *p
	valid := VerifyChecksums(orig) == nil
	canonical := valid && bytes.Equal(orig, recomputed(t, orig))
	if p.csumofs != 0 && p.IPProto != ProtoUDP && binary.BigEndian.Uint16(orig[p.csumofs:]) == 0xffff {
		// A TCP or ICMPv6 checksum no sender computes (the sum of non-zero
		// data is never 0), which recomputed leaves alone in a fragment or
		// routed packet. It is the other form of zero: updates keep it
		// valid but may turn it into 0x0000.
		canonical = false
	}
	if err := p.SetSrcAddr(b, src); err != nil {
		t.Fatalf("SetSrcAddr(%v): %v", src, err)
	}
	if err := p.SetDstAddr(b, dst); err != nil {
		t.Fatalf("SetDstAddr(%v): %v", dst, err)
	}
	if q := mustDecode(t, b); *q != *p {
		t.Fatalf("view after rewrite differs from a fresh Decode:\n got %+v\nwant %+v", *p, *q)
	}
	if valid {
		if err := VerifyChecksums(b); err != nil {
			t.Fatalf("valid packet invalid after rewrite: %v\n in %x\nout %x", err, orig, b)
		}
	}
	if canonical {
		if want := recomputed(t, b); !bytes.Equal(b, want) {
			t.Fatalf("incremental update differs from full recomputation:\n got %x\nwant %x", b, want)
		}
	}
	if err := p.SetSrcAddr(b, before.Src.Addr()); err != nil {
		t.Fatal(err)
	}
	if err := p.SetDstAddr(b, before.Dst.Addr()); err != nil {
		t.Fatal(err)
	}
	if *p != before {
		t.Fatalf("round trip changed the view:\n got %+v\nwant %+v", *p, before)
	}
	if canonical && !bytes.Equal(b, orig) {
		t.Fatalf("round trip changed the packet:\n got %x\nwant %x", b, orig)
	}
}

// checkICMPError answers b with the ICMP error of its family and checks the
// answer, or that the refusal is one of the documented ones.
func checkICMPError(t *testing.T, p *Parsed, b []byte) {
	t.Helper()
	var out []byte
	var err error
	limit := icmpv4ErrorMax
	if p.IPVersion == 4 {
		out, err = AppendICMPFragNeeded(nil, b, 576)
	} else {
		out, err = AppendICMPv6PacketTooBig(nil, b, 1280)
		limit = icmpv6ErrorMax
	}
	if err != nil {
		if err != ErrNoICMP {
			t.Fatalf("ICMP error for a decoded packet: %v", err)
		}
		return
	}
	if len(out) > limit {
		t.Fatalf("ICMP error of %d bytes", len(out))
	}
	checkICMPAnswer(t, out, b, p.IPVersion)
}

// readSeed reads a file in the fuzzing engine's corpus format holding one
// []byte.
func readSeed(tb testing.TB, path string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
		tb.Fatalf("%s: not a one-[]byte corpus file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return []byte(s)
}

// TestSeedCorpus keeps the seed files honest: built-* are today's samples();
// real-* (packets the Linux kernel sent, with checksums it computed) decode,
// pass VerifyChecksums, equal their full recomputation and survive a rewrite.
// Other files are fuzzer finds, run by FuzzDecode itself.
func TestSeedCorpus(t *testing.T) {
	if *updateSeeds {
		for _, s := range samples(t) {
			seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s.b)
			if err := os.WriteFile(filepath.Join(seedDir, "built-"+s.name), []byte(seed), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	built := 0
	for _, s := range samples(t) {
		path := filepath.Join(seedDir, "built-"+s.name)
		if _, err := os.Stat(path); err != nil {
			t.Errorf("no seed for sample %s (go test -run TestSeedCorpus -update-seeds)", s.name)
			continue
		}
		if b := readSeed(t, path); !bytes.Equal(b, s.b) {
			t.Errorf("%s differs from its sample (go test -run TestSeedCorpus -update-seeds)", path)
		}
		built++
	}
	real, err := filepath.Glob(filepath.Join(seedDir, "real-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(real) < 20 {
		t.Errorf("%d real packets, want at least 20", len(real))
	}
	for _, path := range real {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b := readSeed(t, path)
			p := mustDecode(t, b)
			if err := VerifyChecksums(b); err != nil {
				t.Fatalf("kernel packet %v: %v", p, err)
			}
			if c := recomputed(t, b); !bytes.Equal(c, b) {
				t.Fatalf("kernel checksums differ from ours:\nkernel %x\n  ours %x", b, c)
			}
			src, dst := derivedAddrs(p)
			checkRewrite(t, b, src, dst)
		})
	}
}

// TestRealSourceRoute checks, on a packet the kernel sent with a segment
// routing header, why a routed packet's transport checksum is left alone: the
// kernel computed it over the final destination (the first segment), not the
// header's destination.
func TestRealSourceRoute(t *testing.T) {
	b := readSeed(t, filepath.Join(seedDir, "real-udp6-srh-1"))
	p := mustDecode(t, b)
	if p.flags&flagRouted == 0 {
		t.Fatal("segment routing header with a segment left not seen as routed")
	}
	// Routing header: 8 bytes, then the segment list, segment 0 final.
	final, _ := netip.AddrFromSlice(b[ipv6HeaderLen+8 : ipv6HeaderLen+24])
	seg := b[p.subofs:p.end]
	if fold(sum(pseudoSum(p.Src.Addr(), final, ProtoUDP, len(seg)), seg)) != 0xffff {
		t.Errorf("checksum does not hold with the final destination %v", final)
	}
	if fold(sum(pseudoSum(p.Src.Addr(), p.Dst.Addr(), ProtoUDP, len(seg)), seg)) == 0xffff {
		t.Errorf("checksum holds with the header's destination %v", p.Dst.Addr())
	}
}

// FuzzParseVirtioHdr checks that ParseVirtioHdr never panics and that what it
// accepts PutVirtioHdr writes back (DATA_VALID, ignored, aside), in exactly
// VirtioHdrLen bytes, and parses to the same GSO; a header that could describe
// a packet survives the wire form too.
func FuzzParseVirtioHdr(f *testing.F) {
	f.Add(virtioHdr(0, 0, 0, 0, 0, 0))
	f.Add(virtioHdr(1, 0, 0, 0, 20, 16))
	f.Add(virtioHdr(1, 1, 66, 1448, 20, 16))
	f.Add(virtioHdr(3, 0x84, 74, 1428, 40, 16))
	f.Add(virtioHdr(1, 5, 48, 1200, 40, 6))
	f.Add(virtioHdr(1, 3, 28, 1200, 20, 6)) // UFO
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		g, err := ParseVirtioHdr(b)
		if !bytes.Equal(b, in) {
			t.Fatal("ParseVirtioHdr changed its input")
		}
		if err != nil {
			if err != ErrGSOHeader || g != (GSO{}) {
				t.Fatalf("ParseVirtioHdr = %+v, %v", g, err)
			}
			return
		}
		out := bytes.Repeat([]byte{0xaa}, VirtioHdrLen+1)
		g.PutVirtioHdr(out)
		want := append(bytes.Clone(b[:VirtioHdrLen]), 0xaa)
		want[0] &^= virtioFlagDataValid
		if !bytes.Equal(out, want) {
			t.Fatalf("PutVirtioHdr(%+v) = %x, want %x", g, out, want)
		}
		if g2, err := ParseVirtioHdr(out); g2 != g || err != nil {
			t.Fatalf("round trip: %+v, %v; want %+v", g2, err, g)
		}
		if g.sane() {
			w := make([]byte, GSOWireLen)
			g.PutWire(w)
			if g2, err := ParseGSOWire(w); g2 != g || err != nil {
				t.Fatalf("wire round trip: %+v, %v; want %+v", g2, err, g)
			}
		}
	})
}

// FuzzParseGSOWire checks that ParseGSOWire never panics, that what it accepts
// PutWire writes back byte for byte and the virtio form carries unchanged.
func FuzzParseGSOWire(f *testing.F) {
	var b [GSOWireLen]byte
	for _, c := range gsoCases() {
		pkt := c.build(f, c.h, pattern(c.payload))
		gsoOf(f, pkt, c.size).PutWire(b[:])
		f.Add(bytes.Clone(b[:]))
	}
	GSO{}.PutWire(b[:])
	f.Add(bytes.Clone(b[:]))
	GSO{NeedsCsum: true, CsumStart: 40, CsumOffset: 6}.PutWire(b[:])
	f.Add(bytes.Clone(b[:]))
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		g, err := ParseGSOWire(b)
		if !bytes.Equal(b, in) {
			t.Fatal("ParseGSOWire changed its input")
		}
		if err != nil {
			if err != ErrGSOHeader || g != (GSO{}) {
				t.Fatalf("ParseGSOWire = %+v, %v", g, err)
			}
			return
		}
		out := bytes.Repeat([]byte{0xaa}, GSOWireLen+1)
		g.PutWire(out)
		if want := append(bytes.Clone(b[:GSOWireLen]), 0xaa); !bytes.Equal(out, want) {
			t.Fatalf("PutWire(%+v) = %x, want %x", g, out, want)
		}
		v := make([]byte, VirtioHdrLen)
		g.PutVirtioHdr(v)
		if g2, err := ParseVirtioHdr(v); g2 != g || err != nil {
			t.Fatalf("virtio round trip: %+v, %v; want %+v", g2, err, g)
		}
	})
}

// FuzzSegment gives Segment room for at most segmentCount segments: a header
// that passes Check but makes more is refused with ErrSegmentRoom. Thousands
// of segments (Size 1) take milliseconds to make and check, and the code
// cutting them is the same for 2 and for MaxSegments (TestSegment,
// tcp6-many).
const segmentCount = 256

// FuzzSegment gives Check, CompleteChecksum and Segment random bytes and a
// random header; none may panic or change its input. Where Check passes,
// Segment must too: a GSONone packet is copied with its partial checksum
// completed, and every segment of a super-packet decodes with the
// super-packet's addresses, ports and protocol, passes VerifyChecksums, and
// carries the next bytes of its payload (and a TCP segment the sequence
// number of its first byte). Where Check fails, Segment fails alike.
//
// flags: bit 0 NeedsCsum, bit 1 ECN; bit 2 takes HdrLen, CsumStart and
// CsumOffset from the decoded packet (as a tun reader does), so that random
// packets pass Check more often; bit 3 writes the right partial sum in the
// checksum field first.
func FuzzSegment(f *testing.F) {
	for _, c := range gsoCases() {
		pkt := partial(f, c.build(f, c.h, pattern(c.payload)))
		g := gsoOf(f, pkt, c.size)
		f.Add(pkt, uint8(g.Type), uint8(1), g.HdrLen, g.Size, g.CsumStart, g.CsumOffset)
		f.Add(pkt, uint8(g.Type), uint8(5), uint16(0), uint16(1), uint16(0), uint16(0))
	}
	for _, s := range samples(f) {
		f.Add(s.b, uint8(GSONone), uint8(0), uint16(0), uint16(0), uint16(0), uint16(0))
		f.Add(s.b, uint8(GSONone), uint8(13), uint16(0), uint16(0), uint16(0), uint16(0))
		f.Add(s.b, uint8(GSOUDPL4), uint8(5), uint16(0), uint16(3), uint16(0), uint16(0))
		// GSOTCPv4 for an IPv4 packet, GSOTCPv6 for IPv6.
		f.Add(s.b, s.b[0]>>4/2-1, uint8(5), uint16(0), uint16(7), uint16(0), uint16(0))
	}
	f.Fuzz(func(t *testing.T, pkt []byte, typ, flags uint8, hdrLen, size, csumStart, csumOffset uint16) {
		g := GSO{Type: GSOType(typ % 5), NeedsCsum: flags&1 != 0, ECN: flags&2 != 0, HdrLen: hdrLen, Size: size, CsumStart: csumStart, CsumOffset: csumOffset}
		var p Parsed
		decErr := p.Decode(pkt)
		if decErr == nil && flags&4 != 0 {
			g.SetHdrLen(&p)
			if g.NeedsCsum {
				g.CsumStart, g.CsumOffset = uint16(p.subofs), uint16(max(p.csumofs-p.subofs, 0))
			}
		}
		checkErr := g.Check(pkt, &p)
		if decErr != nil && checkErr == nil {
			t.Fatalf("Check passed a packet Decode refused (%v)", decErr)
		}
		if checkErr == nil && g.NeedsCsum && flags&8 != 0 {
			seg := pkt[p.subofs:p.end]
			binary.BigEndian.PutUint16(pkt[p.csumofs:], fold(pseudoSum(p.Src.Addr(), p.Dst.Addr(), p.IPProto, len(seg))))
		}
		in := bytes.Clone(pkt)

		completed := bytes.Clone(pkt)
		ccErr := CompleteChecksum(completed, g)
		switch {
		case g.Type == GSONone && ccErr != checkErr && decErr == nil:
			t.Fatalf("CompleteChecksum = %v, Check %v", ccErr, checkErr)
		case ccErr != nil && !bytes.Equal(completed, pkt):
			t.Fatalf("CompleteChecksum failed (%v) and changed the packet", ccErr)
		}

		// Buffers: exactly the room Check's verdict calls for, up to
		// segmentCount segments; a little otherwise.
		const offset = 3
		n, room := 1, p.length
		if checkErr == nil && g.Type != GSONone {
			n = g.Segments(&p)
			room = n*p.dataofs + p.end - p.dataofs
		}
		var out [][]byte
		var sizes []int
		if checkErr == nil && n <= segmentCount {
			backing := make([]byte, n*offset+room)
			for i := range n {
				l := offset + p.length
				if g.Type != GSONone {
					l = offset + p.dataofs + min(int(g.Size), p.end-p.dataofs-i*int(g.Size))
				}
				out, backing = append(out, backing[:l:l]), backing[l:]
			}
			sizes = make([]int, n)
		} else {
			out, sizes = segBufs(4, 256)
		}

		got, err := Segment(pkt, g, out, sizes, offset)
		if !bytes.Equal(pkt, in) {
			t.Fatal("Segment changed its input")
		}
		switch {
		case decErr != nil:
			if err != decErr {
				t.Fatalf("Segment = %v, Decode %v", err, decErr)
			}
			return
		case checkErr != nil:
			if err != checkErr {
				t.Fatalf("Segment = %v, Check %v", err, checkErr)
			}
			return
		case n > segmentCount:
			if err != ErrSegmentRoom {
				t.Fatalf("Segment into small buffers = %v", err)
			}
			return
		case err != nil || got != n:
			t.Fatalf("Segment = %d, %v after Check passed %+v (want %d)", got, err, g, n)
		}

		if g.Type == GSONone {
			if o := out[0][offset : offset+sizes[0]]; !bytes.Equal(o, completed[:p.length]) {
				t.Fatalf("GSONone:\n got %x\nwant %x", o, completed[:p.length])
			}
			if g.NeedsCsum && flags&8 != 0 {
				if err := VerifyChecksums(completed); err != nil && err != ErrHeaderChecksum {
					t.Fatalf("completed checksum: %v", err)
				}
			}
			return
		}
		payload := pkt[p.dataofs:p.end]
		seq := binary.BigEndian.Uint32(pkt[p.subofs+tcpSeqOff:])
		for i := range n {
			seg := out[i][offset : offset+sizes[i]]
			if err := VerifyChecksums(seg); err != nil {
				t.Fatalf("segment %d of %d: %v\n%x", i, n, err, seg)
			}
			q := mustDecode(t, seg)
			if q.Src != p.Src || q.Dst != p.Dst || q.IPProto != p.IPProto || q.IPVersion != p.IPVersion {
				t.Fatalf("segment %d: %v, super-packet %v", i, q, &p)
			}
			want := payload[i*int(g.Size) : min((i+1)*int(g.Size), len(payload))]
			if !bytes.Equal(q.Payload(seg), want) {
				t.Fatalf("segment %d carries the wrong bytes", i)
			}
			if p.IPProto == ProtoTCP {
				if s := binary.BigEndian.Uint32(seg[q.subofs+tcpSeqOff:]); s != seq+uint32(i*int(g.Size)) {
					t.Fatalf("segment %d: seq %d, want %d", i, s, seq+uint32(i*int(g.Size)))
				}
			}
		}
	})
}

package packet

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// newAddrs returns the addresses a rewrite test moves a packet of b's family to.
func newAddrs(p *Parsed) (src, dst netip.Addr) {
	if p.IPVersion == 4 {
		return v4x, v4y
	}
	return v6x, v6y
}

// mayChange returns the offsets of b that rewriting p's source (src) or
// destination (dst) may change: the addresses, the IPv4 header checksum and
// the transport checksum whose pseudo-header holds them.
func mayChange(p *Parsed, b []byte, src, dst bool) map[int]bool {
	m := make(map[int]bool)
	add := func(off, n int) {
		for i := range n {
			m[off+i] = true
		}
	}
	if p.IPVersion == 4 {
		add(ipv4CsumOff, 2)
		if src {
			add(ipv4SrcOff, 4)
		}
		if dst {
			add(ipv4DstOff, 4)
		}
	} else {
		if src {
			add(ipv6SrcOff, 16)
		}
		if dst {
			add(ipv6DstOff, 16)
		}
	}
	pseudo := src || dst && p.flags&flagRouted == 0
	udpNone := p.IPProto == ProtoUDP && binary.BigEndian.Uint16(b[p.csumofs:]) == 0
	if p.csumofs != 0 && pseudo && !udpNone {
		add(p.csumofs, 2)
	}
	return m
}

func TestRewrite(t *testing.T) {
	for _, s := range samples(t) {
		for _, which := range []string{"src", "dst", "both"} {
			t.Run(s.name+"/"+which, func(t *testing.T) {
				b := bytes.Clone(s.b)
				p := mustDecode(t, b)
				before := *p
				x, y := newAddrs(p)
				doSrc, doDst := which != "dst", which != "src"
				wantSrc, wantDst := p.Src, p.Dst
				if doSrc {
					if err := p.SetSrcAddr(b, x); err != nil {
						t.Fatalf("SetSrcAddr: %v", err)
					}
					wantSrc = netip.AddrPortFrom(x, wantSrc.Port())
				}
				if doDst {
					if err := p.SetDstAddr(b, y); err != nil {
						t.Fatalf("SetDstAddr: %v", err)
					}
					wantDst = netip.AddrPortFrom(y, wantDst.Port())
				}
				if p.Src != wantSrc || p.Dst != wantDst {
					t.Errorf("view after rewrite: %v > %v, want %v > %v", p.Src, p.Dst, wantSrc, wantDst)
				}
				q := mustDecode(t, b)
				if *q != *p {
					t.Errorf("view after rewrite differs from a fresh Decode:\n got %+v\nwant %+v", *p, *q)
				}
				if err := VerifyChecksums(b); err != nil {
					t.Errorf("VerifyChecksums after rewrite: %v", err)
				}
				if want := recomputed(t, b); !bytes.Equal(b, want) {
					t.Errorf("incremental update differs from full recomputation:\n got %x\nwant %x", b, want)
				}
				allowed := mayChange(&before, s.b, doSrc, doDst)
				for i := range b {
					if b[i] != s.b[i] && !allowed[i] {
						t.Errorf("byte %d changed: %#x -> %#x", i, s.b[i], b[i])
					}
				}

				// Back to the original addresses: the original bytes.
				if err := p.SetSrcAddr(b, before.Src.Addr()); err != nil {
					t.Fatal(err)
				}
				if err := p.SetDstAddr(b, before.Dst.Addr()); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, s.b) {
					t.Errorf("round trip changed the packet:\n got %x\nwant %x", b, s.b)
				}
				if *p != before {
					t.Errorf("round trip changed the view:\n got %+v\nwant %+v", *p, before)
				}
			})
		}
	}
}

// TestRewriteFragments rewrites each fragment of a datagram on its own and
// checks that the result is, byte for byte, the fragments of the datagram built
// with the new addresses, and that it reassembles into a valid datagram.
func TestRewriteFragments(t *testing.T) {
	body := bytes.Repeat([]byte("fragmented datagram "), 150)
	tests := []struct {
		name                 string
		src, dst, nsrc, ndst netip.Addr
		proto                IPProto
	}{
		{"udp4", v4a, v4b, v4x, v4y, ProtoUDP},
		{"tcp4", v4a, v4b, v4x, v4y, ProtoTCP},
		{"icmp4", v4a, v4b, v4x, v4y, ProtoICMPv4},
		{"udp6", v6a, v6b, v6x, v6y, ProtoUDP},
		{"tcp6", v6a, v6b, v6x, v6y, ProtoTCP},
		{"icmp6", v6a, v6b, v6x, v6y, ProtoICMPv6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Header{Src: netip.AddrPortFrom(tt.src, 1000), Dst: netip.AddrPortFrom(tt.dst, 2000), Proto: tt.proto, TCPFlags: TCPAck, ICMPType: ICMPv4EchoRequest}
			if tt.proto == ProtoICMPv6 {
				h.ICMPType = ICMPv6EchoRequest
			}
			frags := func(h Header) [][]byte {
				b := mustBuild(t, h, body)
				if tt.src.Is4() {
					return fragment4(t, b, 1200)
				}
				return fragment6(t, b, 1200, 77)
			}
			got := frags(h)
			if len(got) != 3 {
				t.Fatalf("%d fragments, want 3", len(got))
			}
			for i, f := range got {
				p := mustDecode(t, f)
				if p.IsNonFirstFragment() != (i > 0) {
					t.Errorf("fragment %d: IsNonFirstFragment = %v", i, p.IsNonFirstFragment())
				}
				if err := p.SetSrcAddr(f, tt.nsrc); err != nil {
					t.Fatal(err)
				}
				if err := p.SetDstAddr(f, tt.ndst); err != nil {
					t.Fatal(err)
				}
			}
			h.Src = netip.AddrPortFrom(tt.nsrc, 1000)
			h.Dst = netip.AddrPortFrom(tt.ndst, 2000)
			want := frags(h)
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("fragment %d:\n got %x\nwant %x", i, got[i], want[i])
				}
			}
			whole := reassemble(t, got)
			if err := VerifyChecksums(whole); err != nil {
				t.Errorf("reassembled datagram: %v", err)
			}
			if p := mustDecode(t, whole); p.Src.Addr() != tt.nsrc || p.Dst.Addr() != tt.ndst {
				t.Errorf("reassembled datagram: %v > %v", p.Src, p.Dst)
			}
		})
	}
}

// TestRewriteChecksumEdges picks new source addresses that make the full
// checksum come out as 0, where the two representations of zero differ: TCP
// and ICMPv6 then carry 0x0000, UDP 0xffff (0 would mean "none"), and the IPv4
// header 0x0000. The incremental update must land on the same value, there
// and back.
func TestRewriteChecksumEdges(t *testing.T) {
	tests := []struct {
		sample string
		header bool   // aim at the IPv4 header checksum rather than the transport's
		want   uint16 // the checksum reached
	}{
		{"tcp4-data", false, 0x0000},
		{"udp4", false, 0xffff},
		{"tcp6-syn", false, 0x0000},
		{"udp6", false, 0xffff},
		{"icmp6-echo", false, 0x0000},
		{"icmp4-echo", true, 0x0000},
		{"udp4-frag-later", true, 0x0000},
	}
	for _, tt := range tests {
		t.Run(tt.sample, func(t *testing.T) {
			orig := sampleNamed(t, tt.sample)
			p := mustDecode(t, orig)
			off := p.csumofs
			if tt.header {
				off = ipv4CsumOff
			}
			// Try source addresses differing in their last 16 bits until the
			// full computation gives the edge value.
			srcOff := ipv4SrcOff
			if p.IPVersion == 6 {
				srcOff = ipv6SrcOff
			}
			base := p.Src.Addr().AsSlice()
			var target []byte
			for w := range 0x10000 {
				c := bytes.Clone(orig)
				binary.BigEndian.PutUint16(base[len(base)-2:], uint16(w))
				copy(c[srcOff:], base)
				fillChecksums(c, mustDecode(t, c), true)
				if binary.BigEndian.Uint16(c[off:]) == tt.want {
					target = c
					break
				}
			}
			if target == nil {
				t.Fatal("no address gives the edge checksum")
			}
			b := bytes.Clone(orig)
			a, _ := netip.AddrFromSlice(base)
			if err := p.SetSrcAddr(b, a); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, target) {
				t.Errorf("rewrite to %v:\n got %x\nwant %x", a, b, target)
			}
			if err := VerifyChecksums(b); err != nil {
				t.Error(err)
			}
			p = mustDecode(t, b)
			if err := p.SetSrcAddr(b, mustDecode(t, orig).Src.Addr()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, orig) {
				t.Errorf("back from the edge:\n got %x\nwant %x", b, orig)
			}
		})
	}
}

func TestRewriteErrors(t *testing.T) {
	tcp4 := sampleNamed(t, "tcp4-data")
	tcp6 := sampleNamed(t, "tcp6-syn")
	tests := []struct {
		name string
		pkt  []byte // decoded into p
		b    []byte // passed to the rewrite
		a    netip.Addr
		want error
	}{
		{"v6-into-v4", tcp4, tcp4, v6x, ErrFamily},
		{"v4-into-v6", tcp6, tcp6, v4x, ErrFamily},
		{"invalid-addr", tcp4, tcp4, netip.Addr{}, ErrFamily},
		{"4in6-into-v4", tcp4, tcp4, netip.MustParseAddr("::ffff:1.2.3.4"), ErrFamily},
		{"not-decoded", nil, tcp4, v4x, ErrBuffer},
		{"short-buffer", tcp4, tcp4[:len(tcp4)-1], v4x, ErrBuffer},
		{"other-packet", tcp4, tcp6, v4x, ErrBuffer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Parsed
			if tt.pkt != nil {
				p = *mustDecode(t, tt.pkt)
			}
			before := p
			for _, set := range []func([]byte, netip.Addr) error{p.SetSrcAddr, p.SetDstAddr} {
				b := bytes.Clone(tt.b)
				if err := set(b, tt.a); err != tt.want {
					t.Errorf("got %v, want %v", err, tt.want)
				}
				if !bytes.Equal(b, tt.b) {
					t.Errorf("refused rewrite changed the packet")
				}
				if p != before {
					t.Errorf("refused rewrite changed the view")
				}
			}
		})
	}

	// A v4-mapped IPv6 address is an IPv6 address, and zones are dropped.
	b := bytes.Clone(tcp6)
	p := mustDecode(t, b)
	if err := p.SetSrcAddr(b, netip.MustParseAddr("::ffff:1.2.3.4")); err != nil {
		t.Errorf("v4-mapped source: %v", err)
	}
	if err := p.SetDstAddr(b, netip.MustParseAddr("fe80::1%eth0")); err != nil {
		t.Errorf("zoned destination: %v", err)
	}
	if q := mustDecode(t, b); *q != *p || p.Dst.Addr().Zone() != "" {
		t.Errorf("view %+v, fresh decode %+v", *p, *q)
	}
}

func TestRewriteAllocs(t *testing.T) {
	for _, s := range samples(t) {
		b := bytes.Clone(s.b)
		p := mustDecode(t, b)
		x, y := newAddrs(p)
		n := testing.AllocsPerRun(100, func() {
			_ = p.SetSrcAddr(b, x)
			_ = p.SetDstAddr(b, y)
		})
		if n != 0 {
			t.Errorf("%s: SetSrcAddr+SetDstAddr allocate %v times", s.name, n)
		}
	}
}

func BenchmarkSetDstAddr(b *testing.B) {
	for _, name := range []string{"tcp4-data", "udp6"} {
		pkt := bytes.Clone(sampleNamed(b, name))
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			p := mustDecode(b, pkt)
			addrs := [2]netip.Addr{p.Dst.Addr(), v4y}
			if p.IPVersion == 6 {
				addrs[1] = v6y
			}
			i := 0
			for b.Loop() {
				i ^= 1
				if err := p.SetDstAddr(pkt, addrs[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

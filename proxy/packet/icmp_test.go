package packet

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strconv"
	"testing"
)

// u32max is a variable so that int(u32max) compiles where int has 32 bits.
var u32max uint64 = 1<<32 - 1

func TestAppendICMPFragNeeded(t *testing.T) {
	ap := netip.AddrPortFrom
	big := mustBuild(t, Header{Src: ap(v4a, 40000), Dst: ap(v4b, 80), Proto: ProtoTCP, TCPFlags: TCPAck, DontFragment: true, IPv4Options: []byte{1, 1, 1, 0}}, make([]byte, 1400))
	small := sampleNamed(t, "udp4")
	tests := []struct {
		name   string
		orig   []byte
		mtu    int
		length int // of the answer
	}{
		{"big", big, 1280, 576},
		{"small", small, 68, 20 + 8 + len(small)},
		{"max-mtu", small, 65535, 20 + 8 + len(small)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("kept")
			out, err := AppendICMPFragNeeded(bytes.Clone(prefix), tt.orig, tt.mtu)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(out, prefix) {
				t.Fatalf("dst's bytes not kept: %q", out[:4])
			}
			b := out[len(prefix):]
			if len(b) != tt.length {
				t.Fatalf("length %d, want %d", len(b), tt.length)
			}
			checkICMPAnswer(t, b, tt.orig, 4)
			if mtu := binary.BigEndian.Uint16(b[20+6:]); int(mtu) != tt.mtu {
				t.Errorf("next-hop MTU %d, want %d", mtu, tt.mtu)
			}
		})
	}
}

func TestAppendICMPv6PacketTooBig(t *testing.T) {
	ap := netip.AddrPortFrom
	big := mustBuild(t, Header{Src: ap(v6a, 40000), Dst: ap(v6b, 443), Proto: ProtoTCP, TCPFlags: TCPAck}, make([]byte, 1500))
	small := sampleNamed(t, "icmp6-echo")
	tests := []struct {
		name   string
		orig   []byte
		mtu    int
		length int
	}{
		{"big", big, 1400, 1280},
		{"small", small, 1280, 40 + 8 + len(small)},
		{"ext-headers", sampleNamed(t, "tcp6-ext"), 9000, 40 + 8 + 87},
		{"later-fragment", sampleNamed(t, "udp6-frag-later"), 1280, 40 + 8 + 656},
	}
	if strconv.IntSize == 64 {
		tests = append(tests, struct {
			name   string
			orig   []byte
			mtu    int
			length int
		}{"max-mtu", small, int(u32max), 40 + 8 + len(small)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := AppendICMPv6PacketTooBig([]byte("kept"), tt.orig, tt.mtu)
			if err != nil {
				t.Fatal(err)
			}
			if string(out[:4]) != "kept" {
				t.Fatalf("dst's bytes not kept: %q", out[:4])
			}
			b := out[4:]
			if len(b) != tt.length {
				t.Fatalf("length %d, want %d", len(b), tt.length)
			}
			checkICMPAnswer(t, b, tt.orig, 6)
			if mtu := binary.BigEndian.Uint32(b[40+4:]); int(mtu) != tt.mtu {
				t.Errorf("MTU %d, want %d", mtu, tt.mtu)
			}
		})
	}
}

// checkICMPAnswer checks b, the ICMP error of IP version 4 ("fragmentation
// needed") or 6 ("packet too big") answering orig: from orig's destination to
// its source, quoting the start of orig after the IP and ICMP headers, with
// good checksums.
func checkICMPAnswer(t *testing.T, b, orig []byte, version uint8) {
	t.Helper()
	proto, typ, code, headers := ProtoICMPv4, uint8(3), uint8(4), 20+8
	if version == 6 {
		proto, typ, code, headers = ProtoICMPv6, 2, 0, 40+8
	}
	p := mustDecode(t, b)
	o := mustDecode(t, orig)
	if p.IPVersion != version || p.IPProto != proto || p.ICMPType != typ || p.ICMPCode != code {
		t.Errorf("answer is %v", p)
	}
	if p.Src.Addr() != o.Dst.Addr() || p.Dst.Addr() != o.Src.Addr() {
		t.Errorf("answer %v > %v to a packet %v > %v", p.Src, p.Dst, o.Src, o.Dst)
	}
	if q := b[headers:]; !bytes.Equal(q, orig[:len(q)]) {
		t.Errorf("quote is not the start of the original")
	}
	if err := VerifyChecksums(b); err != nil {
		t.Error(err)
	}
}

func TestICMPErrorRefusals(t *testing.T) {
	ap := netip.AddrPortFrom
	udp := func(src, dst string) []byte {
		return mustBuild(t, Header{Src: ap(netip.MustParseAddr(src), 1), Dst: ap(netip.MustParseAddr(dst), 2), Proto: ProtoUDP}, nil)
	}
	unreach4 := mustBuild(t, Header{Src: ap(v4a, 0), Dst: ap(v4b, 0), Proto: ProtoICMPv4, ICMPType: ICMPv4DestUnreachable, ICMPCode: 3}, sampleNamed(t, "udp4")[:28])
	unreach6 := mustBuild(t, Header{Src: ap(v6a, 0), Dst: ap(v6b, 0), Proto: ProtoICMPv6, ICMPType: 1}, nil)
	tests := []struct {
		name string
		f    func(dst, orig []byte, mtu int) ([]byte, error)
		orig []byte
		mtu  int
		want error
	}{
		{"v4-malformed", AppendICMPFragNeeded, []byte{0x45, 0}, 1280, ErrTooShort},
		{"v4-of-v6", AppendICMPFragNeeded, sampleNamed(t, "udp6"), 1280, ErrFamily},
		{"v4-mtu-67", AppendICMPFragNeeded, sampleNamed(t, "udp4"), 67, ErrMTU},
		{"v4-mtu-65536", AppendICMPFragNeeded, sampleNamed(t, "udp4"), 65536, ErrMTU},
		{"v4-icmp-error", AppendICMPFragNeeded, unreach4, 1280, ErrNoICMP},
		{"v4-later-fragment", AppendICMPFragNeeded, sampleNamed(t, "udp4-frag-later"), 576, ErrNoICMP},
		{"v4-to-multicast", AppendICMPFragNeeded, udp("10.0.0.1", "224.0.0.251"), 1280, ErrNoICMP},
		{"v4-to-broadcast", AppendICMPFragNeeded, udp("10.0.0.1", "255.255.255.255"), 1280, ErrNoICMP},
		{"v4-from-zero", AppendICMPFragNeeded, udp("0.0.0.0", "10.0.0.1"), 1280, ErrNoICMP},
		{"v4-from-loopback", AppendICMPFragNeeded, udp("127.0.0.1", "10.0.0.1"), 1280, ErrNoICMP},
		{"v6-malformed", AppendICMPv6PacketTooBig, []byte{0x60}, 1280, ErrTooShort},
		{"v6-of-v4", AppendICMPv6PacketTooBig, sampleNamed(t, "udp4"), 1280, ErrFamily},
		{"v6-mtu-1279", AppendICMPv6PacketTooBig, sampleNamed(t, "udp6"), 1279, ErrMTU},
		{"v6-icmp-error", AppendICMPv6PacketTooBig, unreach6, 1280, ErrNoICMP},
		{"v6-to-multicast", AppendICMPv6PacketTooBig, udp("fd00::1", "ff02::fb"), 1280, ErrNoICMP},
		{"v6-from-unspecified", AppendICMPv6PacketTooBig, udp("::", "fd00::1"), 1280, ErrNoICMP},
	}
	if strconv.IntSize == 64 {
		tests = append(tests, struct {
			name string
			f    func(dst, orig []byte, mtu int) ([]byte, error)
			orig []byte
			mtu  int
			want error
		}{"v6-mtu-2^32", AppendICMPv6PacketTooBig, sampleNamed(t, "udp6"), int(u32max + 1), ErrMTU})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("kept")
			out, err := tt.f(dst, tt.orig, tt.mtu)
			if err != tt.want {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if string(out) != "kept" {
				t.Errorf("refusal changed dst to %q", out)
			}
		})
	}
}

func TestICMPErrorAllocs(t *testing.T) {
	big4 := mustBuild(t, Header{Src: netip.AddrPortFrom(v4a, 1), Dst: netip.AddrPortFrom(v4b, 2), Proto: ProtoUDP, DontFragment: true}, make([]byte, 2000))
	big6 := mustBuild(t, Header{Src: netip.AddrPortFrom(v6a, 1), Dst: netip.AddrPortFrom(v6b, 2), Proto: ProtoUDP}, make([]byte, 2000))
	buf := make([]byte, 0, 1500)
	if n := testing.AllocsPerRun(100, func() { _, _ = AppendICMPFragNeeded(buf[:0], big4, 1280) }); n != 0 {
		t.Errorf("AppendICMPFragNeeded allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = AppendICMPv6PacketTooBig(buf[:0], big6, 1280) }); n != 0 {
		t.Errorf("AppendICMPv6PacketTooBig allocates %v times", n)
	}
}

func BenchmarkAppendICMPv6PacketTooBig(b *testing.B) {
	big6 := mustBuild(b, Header{Src: netip.AddrPortFrom(v6a, 1), Dst: netip.AddrPortFrom(v6b, 2), Proto: ProtoUDP}, make([]byte, 2000))
	buf := make([]byte, 0, 1500)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AppendICMPv6PacketTooBig(buf[:0], big6, 1280); err != nil {
			b.Fatal(err)
		}
	}
}

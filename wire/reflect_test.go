package wire

import (
	"bytes"
	"net/netip"
	"testing"
)

func TestReflect(t *testing.T) {
	v4 := netip.MustParseAddrPort("198.18.0.5:40001")
	v6 := netip.MustParseAddrPort("[2001:db8::7]:53")
	mapped := netip.AddrPortFrom(netip.AddrFrom16(v4.Addr().As16()), v4.Port())
	ping := func(n int) []byte {
		b := make([]byte, n)
		b[0] = PingBit | 0x02 | PingReflect
		return b
	}
	for _, c := range []struct {
		name string
		b    []byte
		a    netip.AddrPort
		want netip.AddrPort // zero: left unchanged
	}{
		{"ipv4", ping(ReflectLen), v4, v4},
		{"ipv4 exact", ping(8), v4, v4},
		{"ipv4-mapped", ping(ReflectLen), mapped, v4},
		{"ipv6", ping(ReflectLen), v6, v6},
		{"ipv6 long", ping(100), v6, v6},
		{"ipv4 short", ping(7), v4, netip.AddrPort{}},
		{"ipv6 short", ping(19), v6, netip.AddrPort{}},
		{"one byte", ping(1), v4, netip.AddrPort{}},
		{"not reflecting", append([]byte{0x03}, make([]byte, 19)...), v4, netip.AddrPort{}},
		{"not a ping", append([]byte{0x14}, make([]byte, 19)...), v4, netip.AddrPort{}},
		{"invalid address", ping(ReflectLen), netip.AddrPort{}, netip.AddrPort{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := bytes.Clone(c.b)
			if len(b) > 20 { // a dirty tail, which PutReflected zeroes
				b[len(b)-1] = 0xaa
			}
			orig := bytes.Clone(b)
			ok := PutReflected(b, c.a)
			if ok != c.want.IsValid() {
				t.Fatalf("PutReflected = %v", ok)
			}
			if !ok {
				if !bytes.Equal(b, orig) {
					t.Fatalf("changed %x -> %x", orig, b)
				}
				if _, ok := Reflected(b); ok && IsReflectPing(b) {
					t.Fatalf("Reflected of an unreflected ping %x", b)
				}
				return
			}
			if len(b) != len(orig) || b[0] != orig[0] {
				t.Fatalf("length or kind changed: %x -> %x", orig, b)
			}
			got, ok := Reflected(b)
			if !ok || got != c.want {
				t.Fatalf("Reflected(%x) = %v %v, want %v", b, got, ok, c.want)
			}
		})
	}
	// What an original server sends back: the zeros, unknown.
	if a, ok := Reflected(ping(ReflectLen)); ok {
		t.Errorf("zeros read as %v", a)
	}
	b := ping(ReflectLen)
	if a := testing.AllocsPerRun(100, func() { PutReflected(b, v6) }); a != 0 {
		t.Errorf("PutReflected: %.1f allocations", a)
	}
}

// FuzzReflected: Reflected never panics, and what it reads is written back
// by PutReflected into a ping of the same size to the same bytes, up to an
// IPv4-mapped IPv6 address (written as IPv4: then it reads the same).
func FuzzReflected(f *testing.F) {
	f.Add([]byte{0x07})
	f.Add(append([]byte{0x07}, make([]byte, 19)...))
	for _, a := range []string{"10.0.0.1:1", "[::1]:2", "[::ffff:1.2.3.4]:5"} {
		b := make([]byte, ReflectLen)
		b[0] = 0x07
		ap := netip.MustParseAddrPort(a)
		ad := IPAddr(ap)
		if ap.Addr().Is4In6() {
			ad = Addr{Kind: AddrIPv6, IP: ap}
		}
		ad.AppendTo(b[1:1])
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok := Reflected(b)
		if !ok {
			return
		}
		if !a.IsValid() || a.Addr().Is4In6() {
			t.Fatalf("Reflected(%x) = %v", b, a)
		}
		c := bytes.Clone(b)
		if !PutReflected(c, a) {
			t.Fatalf("PutReflected(%x, %v) refused", b, a)
		}
		if got, ok := Reflected(c); !ok || got != a {
			t.Fatalf("round trip %v -> %v %v", a, got, ok)
		}
		if b[1] == byte(AddrIPv4) || !netip.AddrFrom16([16]byte(b[2:18])).Is4In6() {
			if !bytes.Equal(c, b) {
				t.Fatalf("round trip changed the bytes: %x -> %x", b, c)
			}
		}
	})
}

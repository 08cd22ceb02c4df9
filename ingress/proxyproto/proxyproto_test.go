package proxyproto

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// sig is the spec's signature, written out byte by byte (proxy-protocol.txt §2.2).
var sig = []byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestHeaderIPv4Layout(t *testing.T) {
	src := netip.MustParseAddrPort("192.0.2.7:51000")
	dst := netip.MustParseAddrPort("198.51.100.10:443")
	want := cat(sig,
		[]byte{0x21, 0x11, 0x00, 0x0C}, // v2 PROXY, TCP over IPv4, 12 bytes
		[]byte{192, 0, 2, 7},
		[]byte{198, 51, 100, 10},
		[]byte{0xC7, 0x38}, // 51000
		[]byte{0x01, 0xBB}, // 443
	)
	if got := Header(src, dst); !bytes.Equal(got, want) {
		t.Fatalf("Header:\n got % x\nwant % x", got, want)
	}
}

func TestHeaderIPv6Layout(t *testing.T) {
	src := netip.MustParseAddrPort("[2001:db8::1]:22")
	dst := netip.MustParseAddrPort("[2001:db8:1::a]:2222")
	want := cat(sig,
		[]byte{0x21, 0x21, 0x00, 0x24}, // v2 PROXY, TCP over IPv6, 36 bytes
		[]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01},
		[]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a},
		[]byte{0x00, 0x16}, []byte{0x08, 0xAE},
	)
	if got := Header(src, dst); !bytes.Equal(got, want) {
		t.Fatalf("Header:\n got % x\nwant % x", got, want)
	}
}

func TestHeaderUnmapsAndMixes(t *testing.T) {
	mapped := netip.MustParseAddrPort("[::ffff:192.0.2.7]:1")
	v4 := netip.MustParseAddrPort("198.51.100.10:2")
	if got, want := Header(mapped, v4), Header(netip.MustParseAddrPort("192.0.2.7:1"), v4); !bytes.Equal(got, want) {
		t.Fatalf("4-in-6 not unmapped: % x", got)
	}
	v6 := netip.MustParseAddrPort("[2001:db8::1]:3")
	h := Header(v4, v6)
	if h[13] != 0x21 || len(h) != 16+36 {
		t.Fatalf("mixed families: want TCP over IPv6, got % x", h)
	}
	src, dst, n, err := Parse(h)
	if err != nil || n != len(h) || src != v4 || dst != v6 {
		t.Fatalf("Parse(mixed) = %v %v %d %v", src, dst, n, err)
	}
}

func TestHeaderInvalidIsLocal(t *testing.T) {
	want := cat(sig, []byte{0x20, 0x00, 0x00, 0x00})
	if got := Header(netip.AddrPort{}, netip.MustParseAddrPort("192.0.2.1:1")); !bytes.Equal(got, want) {
		t.Fatalf("Header(invalid) = % x, want LOCAL % x", got, want)
	}
	src, dst, n, err := Parse(append(want, "payload"...))
	if err != nil || n != 16 || src.IsValid() || dst.IsValid() {
		t.Fatalf("Parse(LOCAL) = %v %v %d %v", src, dst, n, err)
	}
}

func TestParseKeepsPayloadAndSkipsTLVs(t *testing.T) {
	src := netip.MustParseAddrPort("192.0.2.7:51000")
	dst := netip.MustParseAddrPort("198.51.100.10:443")
	h := Header(src, dst)
	tlv := []byte{0x04, 0x00, 0x02, 0xAA, 0xBB} // PP2_TYPE_NOOP, 2 bytes
	withTLV := cat(h[:14], []byte{0x00, 12 + 5}, h[16:], tlv, []byte("GET /"))
	s, d, n, err := Parse(withTLV)
	if err != nil || s != src || d != dst || string(withTLV[n:]) != "GET /" {
		t.Fatalf("Parse = %v %v %d %v", s, d, n, err)
	}
}

func TestParseRejects(t *testing.T) {
	good := Header(netip.MustParseAddrPort("192.0.2.7:1"), netip.MustParseAddrPort("192.0.2.8:2"))
	with := func(i int, b byte) []byte { c := bytes.Clone(good); c[i] = b; return c }
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"fixed part cut", good[:15], ErrShort},
		{"addresses cut", good[:len(good)-1], ErrShort},
		{"version 1 text", []byte("PROXY TCP4 192.0.2.7 192.0.2.8 1 2\r\n"), ErrSignature},
		{"bad signature", with(11, 0x0B), ErrSignature},
		{"version 3", with(12, 0x31), ErrVersion},
		{"unknown command", with(12, 0x22), ErrVersion},
		{"UDP over IPv4", with(13, 0x12), ErrFamily},
		{"unix stream", with(13, 0x31), ErrFamily},
		{"PROXY UNSPEC", with(13, 0x00), ErrFamily},
		{"length below IPv4 block", with(15, 11), ErrLength},
		{"IPv6 family, IPv4 length", with(13, 0x21), ErrLength},
		{"truncated TLV", cat(good[:14], []byte{0, 14}, good[16:], []byte{0x04, 0x00}), ErrTLV},
		{"TLV longer than header", cat(good[:14], []byte{0, 16}, good[16:], []byte{0x04, 0x00, 0x09, 0}), ErrTLV},
	}
	for _, c := range cases {
		_, _, n, err := Parse(c.in)
		if !errors.Is(err, c.want) || n != 0 {
			t.Errorf("%s: Parse = n %d, err %v; want %v", c.name, n, err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Header(netip.MustParseAddrPort("192.0.2.7:51000"), netip.MustParseAddrPort("198.51.100.10:443")), []byte{})
	f.Add(Header(netip.MustParseAddrPort("[2001:db8::1]:22"), netip.MustParseAddrPort("[2001:db8::2]:2")), []byte{1})
	f.Add(cat(sig, []byte{0x20, 0x00, 0x00, 0x03, 0x04, 0x00, 0x00}), []byte("x"))
	f.Fuzz(func(t *testing.T, b, tail []byte) {
		src, dst, n, err := Parse(append(b, tail...))
		if err != nil {
			return
		}
		if n < FixedLen || n > len(b)+len(tail) {
			t.Fatalf("n = %d out of range", n)
		}
		if src.IsValid() != dst.IsValid() {
			t.Fatalf("one address only: %v %v", src, dst)
		}
		if src.IsValid() {
			roundTrip(t, src, dst)
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{192, 0, 2, 7}, uint16(1), []byte{198, 51, 100, 10}, uint16(443))
	f.Add(bytes.Repeat([]byte{0x20}, 16), uint16(0), []byte{10, 0, 0, 1}, uint16(65535))
	f.Fuzz(func(t *testing.T, s []byte, sp uint16, d []byte, dp uint16) {
		sa, ok1 := netip.AddrFromSlice(s)
		da, ok2 := netip.AddrFromSlice(d)
		if !ok1 || !ok2 {
			return
		}
		roundTrip(t, netip.AddrPortFrom(sa, sp), netip.AddrPortFrom(da, dp))
	})
}

// roundTrip checks Parse(Header(src, dst)) == src, dst (unmapped).
func roundTrip(t *testing.T, src, dst netip.AddrPort) {
	t.Helper()
	h := Header(src, dst)
	s, d, n, err := Parse(append(h, 'x'))
	unmap := func(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }
	if err != nil || n != len(h) || s != unmap(src) || d != unmap(dst) {
		t.Fatalf("Parse(Header(%v, %v)) = %v %v %d %v", src, dst, s, d, n, err)
	}
}

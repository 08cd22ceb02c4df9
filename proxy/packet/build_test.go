package packet

import (
	"net/netip"
	"testing"
)

func TestBuildErrors(t *testing.T) {
	ap := netip.AddrPortFrom
	ok4 := Header{Src: ap(v4a, 1), Dst: ap(v4b, 2), Proto: ProtoUDP}
	ok6 := Header{Src: ap(v6a, 1), Dst: ap(v6b, 2), Proto: ProtoUDP}
	with := func(h Header, f func(*Header)) Header { f(&h); return h }
	tests := []struct {
		name    string
		h       Header
		payload int
	}{
		{"no-source", with(ok4, func(h *Header) { h.Src = netip.AddrPort{} }), 0},
		{"mixed-families", with(ok4, func(h *Header) { h.Dst = ap(v6b, 2) }), 0},
		{"ipv4-options-in-v6", with(ok6, func(h *Header) { h.IPv4Options = []byte{1, 1, 1, 1} }), 0},
		{"ipv4-options-odd", with(ok4, func(h *Header) { h.IPv4Options = []byte{1, 1, 1} }), 0},
		{"ipv4-options-44", with(ok4, func(h *Header) { h.IPv4Options = make([]byte, 44) }), 0},
		{"tcp-options-odd", with(ok4, func(h *Header) { h.Proto, h.TCPOptions = ProtoTCP, []byte{1} }), 0},
		{"icmpv4-in-v6", with(ok6, func(h *Header) { h.Proto = ProtoICMPv4 }), 0},
		{"icmpv6-in-v4", with(ok4, func(h *Header) { h.Proto = ProtoICMPv6 }), 0},
		{"v4-too-long", ok4, 0xffff - 27},
		{"udp6-too-long", ok6, 0xffff - 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if b, err := Build(tt.h, make([]byte, tt.payload)); err == nil {
				t.Errorf("Build made %d bytes, want an error", len(b))
			}
		})
	}
	// The largest packets still build.
	for _, h := range []Header{ok4, ok6} {
		n := 0xffff - 28
		if h.Src.Addr().Is6() {
			n = 0xffff - 8
		}
		b, err := Build(h, make([]byte, n))
		if err != nil {
			t.Fatalf("largest %v packet: %v", h.Proto, err)
		}
		if err := VerifyChecksums(b); err != nil {
			t.Error(err)
		}
	}
}

func TestBuildDefaults(t *testing.T) {
	b := mustBuild(t, Header{Src: netip.AddrPortFrom(v4a, 1), Dst: netip.AddrPortFrom(v4b, 2), Proto: ProtoUDP}, nil)
	if b[8] != 64 {
		t.Errorf("TTL %d, want 64", b[8])
	}
	b = mustBuild(t, Header{Src: netip.AddrPortFrom(v6a, 1), Dst: netip.AddrPortFrom(v6b, 2), Proto: ProtoUDP, TTL: 3}, nil)
	if b[7] != 3 {
		t.Errorf("hop limit %d, want 3", b[7])
	}
}

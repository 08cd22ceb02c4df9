package wire

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/i3net/i3net/id"
)

// packetFor returns the Packet that DataHeader h stands for, built with the
// Packet encoder's own types: the reference the writers are checked against.
func packetFor(h *DataHeader) Packet {
	p := Packet{Flags: h.Flags&^FlagOptions | FlagData, Stack: StackOf(h.IDs...)}
	if h.Sender.IsValid() {
		p.AddOption(Option{Type: OptSender, Addr: IPAddr(h.Sender)})
	}
	return p
}

func sampleHeaders() []DataHeader {
	ids := make([]id.ID, MaxStack)
	for i := range ids {
		ids[i] = id.FromName(string(rune('a' + i)))
	}
	v4 := netip.MustParseAddrPort("198.18.0.7:4000")
	v6 := netip.MustParseAddrPort("[2001:db8::1]:4433")
	mapped := netip.MustParseAddrPort("[::ffff:10.0.0.1]:80")
	return []DataHeader{
		{IDs: ids[:1]},
		{Flags: FlagShortcut, IDs: ids[:1]},
		{Flags: FlagData | FlagFirstHop, IDs: ids[:2]},
		{Flags: FlagOptions, IDs: ids[:1]}, // FlagOptions without a sender is not written
		{Flags: FlagFirstHop, IDs: ids[:1], Sender: v4},
		{Flags: FlagFirstHop | FlagShortcut, IDs: ids[:3], Sender: v6},
		{Flags: 0x0f, IDs: ids, Sender: v6}, // the largest
		{IDs: ids, Sender: mapped},
		{Flags: FlagOptions | FlagData, IDs: ids[:7], Sender: netip.AddrPortFrom(netip.IPv4Unspecified(), 0)},
	}
}

// TestDataHeaderIsPacketEncoding checks every DataHeader writer against the
// Packet encoder: the same bytes, Len right, and PutBefore writes exactly in
// front of the payload.
func TestDataHeaderIsPacketEncoding(t *testing.T) {
	for i, h := range sampleHeaders() {
		p := packetFor(&h)
		want := p.AppendTo(nil)
		got := h.AppendTo(nil)
		if !bytes.Equal(got, want) {
			t.Errorf("header %d: AppendTo\n got %x\nwant %x", i, got, want)
		}
		if h.Len() != len(want) || h.Len() > MaxDataHeader {
			t.Errorf("header %d: Len %d, encoding %d bytes (max %d)", i, h.Len(), len(want), MaxDataHeader)
		}
		checkPutBefore(t, &h, want)
	}
}

// checkPutBefore writes h in place in front of a payload, in a buffer
// filled with a marker, and checks the datagram and that nothing else moved.
func checkPutBefore(t *testing.T, h *DataHeader, want []byte) {
	t.Helper()
	const headroom, payload = 512, "payload!"
	buf := bytes.Repeat([]byte{0xee}, headroom+len(payload)+16)
	copy(buf[headroom:], payload)
	off := h.PutBefore(buf, headroom)
	if !bytes.Equal(buf[off:headroom], want) || string(buf[headroom:headroom+len(payload)]) != payload {
		t.Errorf("PutBefore: datagram %x", buf[off:headroom+len(payload)])
	}
	if bytes.Count(buf[:off], []byte{0xee}) != off || bytes.Count(buf[headroom+len(payload):], []byte{0xee}) != 16 {
		t.Errorf("PutBefore wrote outside the header")
	}
	var p Packet
	if err := p.Decode(buf[off : headroom+len(payload)]); err != nil || string(p.Payload) != payload {
		t.Errorf("PutBefore: decode: %v, payload %q", err, p.Payload)
	}
}

// appendPiecewise encodes p with the piecewise writers, as a sender that
// builds no Packet does.
func appendPiecewise(b []byte, p *Packet) []byte {
	b = AppendHeader(b, p.Flags, p.Stack.Slice())
	if p.Flags&FlagOptions != 0 {
		var list int
		b, list = StartOptions(b)
		for i := range p.Options {
			b = appendOptionPiecewise(b, &p.Options[i])
		}
		EndOptions(b, list)
	}
	if p.Flags&FlagData != 0 {
		b = append(b, p.Payload...)
	}
	return b
}

// appendOptionPiecewise appends o with the most specific writer there is.
func appendOptionPiecewise(b []byte, o *Option) []byte {
	var r Replica
	switch {
	case o.Type == OptSender && o.Addr.IsIP() && o.Addr.Kind == IPAddr(o.Addr.IP).Kind:
		return AppendSender(b, o.Addr.IP)
	case o.Type == ExtReplicate && ParseReplicate(o.Body, &r) == nil:
		return r.AppendOption(b)
	case o.Type == ExtPadding && len(o.Body) == bytes.Count(o.Body, []byte{0}):
		return AppendPadding(b, ExtHeaderLen+len(o.Body))
	case o.Type.IsExtension():
		return AppendExt(b, o.Type, o.Body)
	}
	return AppendOption(b, o)
}

func TestPiecewiseIsPacketEncoding(t *testing.T) {
	ps := samplePackets()
	ps = append(ps,
		Packet{Flags: FlagOptions | FlagFirstHop, Stack: StackOf(id.FromName("x")), Options: []Option{
			{Type: OptRequestForCache}, {Type: OptSender, Addr: IPAddr(netip.MustParseAddrPort("[2001:db8::5]:1"))},
			HelloOption(), PaddingOption(30), PaddingOption(0)}},
	)
	for _, v := range loadVectors(t) {
		var p Packet
		if err := p.Decode(v.B); err != nil {
			t.Fatalf("vector line %d: %v", v.Line, err)
		}
		ps = append(ps, p)
	}
	for i := range ps {
		want := ps[i].AppendTo(nil)
		if got := appendPiecewise(nil, &ps[i]); !bytes.Equal(got, want) {
			t.Errorf("packet %d:\n got %x\nwant %x", i, got, want)
		}
	}
}

// TestControlHeader checks the option-only datagram servers send each other.
func TestControlHeader(t *testing.T) {
	rs := sampleReplicas()
	var p Packet
	p.Flags = FlagOptions
	b := AppendControlHeader(nil)
	if len(b) != ControlHeaderLen {
		t.Fatalf("control header of %d bytes, want %d", len(b), ControlHeaderLen)
	}
	for i := range rs {
		n := len(b)
		b = rs[i].AppendOption(b)
		if len(b)-n != rs[i].OptionLen() {
			t.Errorf("replica %d: %d bytes, OptionLen %d", i, len(b)-n, rs[i].OptionLen())
		}
		p.AddOption(ReplicateOption(&rs[i]))
	}
	EndControl(b)
	if want := p.AppendTo(nil); !bytes.Equal(b, want) {
		t.Errorf("control datagram\n got %x\nwant %x", b, want)
	}
}

func TestPadding(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 27, 300} {
		o := PaddingOption(n)
		want := o.appendTo(nil)
		if got := AppendPadding(nil, n); !bytes.Equal(got, want) {
			t.Errorf("AppendPadding(%d) = %x, PaddingOption gives %x", n, got, want)
		}
	}
	tests := []struct{ have, size, want int }{
		{50, 80, 80}, {78, 80, 81}, {79, 80, 82}, {80, 80, 80}, {90, 80, 90},
	}
	for _, tt := range tests {
		if got := len(PadTo(make([]byte, tt.have), tt.size)); got != tt.want {
			t.Errorf("PadTo(%d bytes, %d) gives %d bytes, want %d", tt.have, tt.size, got, tt.want)
		}
	}
}

func TestClearFlags(t *testing.T) {
	h := DataHeader{Flags: FlagFirstHop | FlagShortcut, IDs: []id.ID{id.FromName("a")}}
	b := h.AppendTo(nil)
	ClearFlags(b, FlagFirstHop)
	h.Flags = FlagShortcut
	if want := h.AppendTo(nil); !bytes.Equal(b, want) {
		t.Errorf("got %x, want %x", b, want)
	}
}

// TestWritersAllocateNothing: every writer, into a buffer with room.
func TestWritersAllocateNothing(t *testing.T) {
	hs := sampleHeaders()
	rs := sampleReplicas()
	buf := make([]byte, 0, 4096)
	x := [1]id.ID{id.FromName("x")}
	e := ErrorBody{Code: ErrCodeRateLimited, ID: x[0], Message: "slow down"}
	hello := []byte{ExtVersion}
	tests := []struct {
		name string
		f    func()
	}{
		{"DataHeader.AppendTo", func() {
			for i := range hs {
				_ = hs[i].AppendTo(buf[:0])
			}
		}},
		{"DataHeader.PutBefore", func() {
			for i := range hs {
				_ = hs[i].PutBefore(buf[:cap(buf)], 1024)
			}
		}},
		{"control datagram", func() {
			b := AppendControlHeader(buf[:0])
			for i := range rs {
				b = rs[i].AppendOption(b)
			}
			EndControl(b)
		}},
		{"cache request", func() {
			b := AppendHeader(buf[:0], FlagOptions|FlagFirstHop, x[:])
			b, list := StartOptions(b)
			b = AppendSender(b, hs[5].Sender)
			b = AppendExt(b, ExtHello, hello)
			b = PadTo(b, 200)
			EndOptions(b, list)
			ClearFlags(b, FlagFirstHop)
		}},
		{"option bodies", func() {
			b := e.AppendTo(buf[:0])
			addrs := [2]Addr{IPAddr(hs[4].Sender), IPAddr(hs[5].Sender)}
			_ = AppendServerList(b, addrs[:])
		}},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %.0f allocations", tt.name, n)
		}
	}
}

// FuzzHeaderWriters checks the writers against the Packet encoder on
// arbitrary input: a DataHeader made from the fuzzer's bytes, and every
// datagram that decodes, written back piecewise.
func FuzzHeaderWriters(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.B)
	}
	for _, p := range samplePackets() {
		f.Add(p.AppendTo(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h := headerFrom(b)
		want := packetFor(&h)
		if got := h.AppendTo(nil); !bytes.Equal(got, want.AppendTo(nil)) || len(got) != h.Len() {
			t.Fatalf("DataHeader %+v:\n got %x\nwant %x", h, got, want.AppendTo(nil))
		}
		checkPutBefore(t, &h, want.AppendTo(nil))
		var p Packet
		if p.Decode(b) != nil {
			return
		}
		if got, want := appendPiecewise(nil, &p), p.AppendTo(nil); !bytes.Equal(got, want) {
			t.Fatalf("piecewise:\n got %x\nwant %x", got, want)
		}
	})
}

// headerFrom makes a DataHeader of fuzz input b: flags, a count of ids, an
// address family, then address, port and ids bytes as far as b goes.
func headerFrom(b []byte) DataHeader {
	get := func(n int) []byte {
		out := make([]byte, n)
		b = b[copy(out, b):]
		return out
	}
	hd := get(3)
	h := DataHeader{Flags: hd[0], IDs: make([]id.ID, 1+int(hd[1])%MaxStack)}
	switch hd[2] % 3 {
	case 1:
		h.Sender = netip.AddrPortFrom(netip.AddrFrom4([4]byte(get(4))), uint16(hd[2]))
	case 2:
		h.Sender = netip.AddrPortFrom(netip.AddrFrom16([16]byte(get(16))), uint16(hd[1])<<8)
	}
	for i := range h.IDs {
		copy(h.IDs[i][:], get(id.Len))
	}
	return h
}

func BenchmarkDataHeader(b *testing.B) {
	hs := sampleHeaders()
	buf := make([]byte, 2048)
	b.ReportAllocs()
	for b.Loop() {
		_ = hs[0].PutBefore(buf, 1024)
		_ = hs[5].PutBefore(buf, 1024)
	}
}

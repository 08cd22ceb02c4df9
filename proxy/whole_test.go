//go:build linux

package proxy_test

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/proxytest"
)

// superPacket returns a TCP super-packet from src to dst with n segments of
// mss bytes of payload (the last one shorter), as a kernel with segmentation
// offload hands it to a tun device: a virtio-net header (TCP GSO, checksum
// to complete) and the packet, whose TCP checksum field holds the
// pseudo-header sum only. It also returns the payload.
func superPacket(t *testing.T, src, dst netip.AddrPort, n, mss int) (raw, payload []byte) {
	t.Helper()
	payload = make([]byte, n*mss-mss/3)
	for i := range payload {
		payload[i] = byte(i*31 + i>>8)
	}
	pkt, err := packet.Build(packet.Header{Src: src, Dst: dst, Proto: packet.ProtoTCP, TCPSeq: 1000, TCPAck: 7,
		TCPFlags: packet.TCPAck | packet.TCPPsh, TCPOptions: []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}}, payload)
	if err != nil {
		t.Fatal(err)
	}
	var pp packet.Parsed
	if err := pp.Decode(pkt); err != nil {
		t.Fatal(err)
	}
	g := packet.GSO{Type: packet.GSOTCPv4, NeedsCsum: true, Size: uint16(mss)}
	if src.Addr().Is6() {
		g.Type = packet.GSOTCPv6
	}
	g.SetHdrLen(&pp)
	g.CsumStart, g.CsumOffset = uint16(g.HdrLen)-32, 16 // 20-byte TCP header and 12 of options
	l4 := pkt[g.CsumStart:]
	binary.BigEndian.PutUint16(l4[16:], pseudoHeaderSum(src.Addr(), dst.Addr(), packet.ProtoTCP, len(l4)))
	raw = make([]byte, packet.VirtioHdrLen+len(pkt))
	g.PutVirtioHdr(raw)
	copy(raw[packet.VirtioHdrLen:], pkt)
	return raw, payload
}

// pseudoHeaderSum is the folded, not complemented, TCP pseudo-header sum
// Linux leaves in a packet whose checksum the device is to complete.
func pseudoHeaderSum(src, dst netip.Addr, proto packet.IPProto, length int) uint16 {
	var sum uint64
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint64(binary.BigEndian.Uint16(b[i:]))
		}
	}
	add(src.AsSlice())
	add(dst.AsSlice())
	sum += uint64(proto) + uint64(length)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// rawPair starts laptop and home, laptop's tun device with offloads and
// home's with them if homeRaw, and opens their session with a ping.
func rawPair(t *testing.T, homeRaw bool) (laptop, home *host) {
	o := newOverlay(t)
	laptop, home = o.host("laptop"), o.host("home")
	laptop.Raw = proxytest.NewRawTun(t)
	if homeRaw {
		home.Raw = proxytest.NewRawTun(t)
	}
	names(t, laptop, map[string]*host{"home": home})
	names(t, home, map[string]*host{"laptop": laptop})
	o.start(home, nil)
	o.start(laptop, nil)
	l4, _ := laptop.Self()
	h4 := homeAddr4(t, laptop)
	laptop.Raw.Inject(t, append(make([]byte, packet.VirtioHdrLen), echo(t, l4, h4, 1)...))
	if got := proxytest.Decode(t, home.Tun.Next(t)); got.Dst.Addr() != h4 {
		t.Fatalf("home got %v", got.String())
	}
	return laptop, home
}

// TestLargePacketCrossesWhole: a TCP super-packet laptop's kernel hands its
// proxy reaches home's kernel whole, the same bytes behind the same offload
// header, when both proxies take large packets whole.
func TestLargePacketCrossesWhole(t *testing.T) {
	laptop, home := rawPair(t, true)
	l4, _ := laptop.Self()
	h4 := homeAddr4(t, laptop)
	raw, _ := superPacket(t, netip.AddrPortFrom(l4, 40000), netip.AddrPortFrom(h4, 5201), 40, 1308)
	laptop.Raw.Inject(t, raw)
	got := home.Raw.NextRaw(t)
	if !bytes.Equal(got, raw) {
		g, _ := packet.ParseVirtioHdr(got)
		t.Fatalf("home's kernel got %d bytes (offloads %+v), not the %d laptop's handed over", len(got), g, len(raw))
	}
	if c := laptop.Counter("whole_out"); c != 1 {
		t.Errorf("laptop whole_out = %d, want 1", c)
	}
	if p := peerStatus(t, laptop, "home"); !p.WholePackets {
		t.Errorf("laptop's status of home: whole_packets false, want true: %+v", p)
	}
	// Counted once the write returned, which may be after the kernel's
	// side read it.
	testwait.For(t, "home's whole_in to count the packet", func() bool { return home.Counter("whole_in") == 1 })
}

// TestLargePacketTinySegmentsSplit: a super-packet of segments smaller
// than 512 bytes (its receiver announced a tiny MSS) is split even for a
// peer that takes large packets whole, whose gateway's kernel would
// otherwise cut it into hundreds.
func TestLargePacketTinySegmentsSplit(t *testing.T) {
	laptop, home := rawPair(t, true)
	l4, _ := laptop.Self()
	h4 := homeAddr4(t, laptop)
	const segs, mss = 30, 400
	raw, payload := superPacket(t, netip.AddrPortFrom(l4, 40000), netip.AddrPortFrom(h4, 5201), segs, mss)
	laptop.Raw.Inject(t, raw)
	if got := nextPieces(t, home, segs, nil); !bytes.Equal(got, payload) {
		t.Fatalf("segments carry %d bytes, not the %d of the super-packet's payload", len(got), len(payload))
	}
	if w, s := laptop.Counter("whole_out"), laptop.Counter("split_out"); w != 0 || s != 1 {
		t.Errorf("laptop whole_out %d split_out %d, want 0 and 1", w, s)
	}
}

// TestLargePacketSplitForPeer: to a proxy that does not take large packets
// whole (no offloads on its device), laptop's proxy splits the super-packet
// into ordinary packets, each with valid checksums, carrying the payload in
// order.
func TestLargePacketSplitForPeer(t *testing.T) {
	laptop, home := rawPair(t, false)
	l4, _ := laptop.Self()
	h4 := homeAddr4(t, laptop)
	const segs, mss = 20, 1308
	raw, payload := superPacket(t, netip.AddrPortFrom(l4, 40000), netip.AddrPortFrom(h4, 5201), segs, mss)
	laptop.Raw.Inject(t, raw)
	seq := uint32(1000)
	got := nextPieces(t, home, segs, func(i int, pkt, data []byte) {
		if s := binary.BigEndian.Uint32(pkt[int(pkt[0]&0x0f)*4+4:]); s != seq {
			t.Fatalf("segment %d: seq %d, want %d", i, s, seq)
		}
		seq += uint32(len(data))
	})
	if !bytes.Equal(got, payload) {
		t.Fatalf("segments carry %d bytes, not the %d of the super-packet's payload", len(got), len(payload))
	}
	if c := laptop.Counter("split_out"); c != 1 {
		t.Errorf("laptop split_out = %d, want 1", c)
	}
	if c := laptop.Counter("whole_out"); c != 0 {
		t.Errorf("laptop whole_out = %d, want 0", c)
	}
	if p := peerStatus(t, laptop, "home"); p.WholePackets {
		t.Errorf("laptop's status of home, which takes no large packet whole: whole_packets true")
	}
}

// TestLargeUDPPacketSplit: a UDP super-packet (a program's UDP_SEGMENT) is
// split even for a peer that takes TCP ones whole: each datagram arrives
// with its own valid checksum, in order.
func TestLargeUDPPacketSplit(t *testing.T) {
	laptop, home := rawPair(t, true)
	l4, _ := laptop.Self()
	h4 := homeAddr4(t, laptop)
	const segs, size = 5, 1000
	payload := make([]byte, segs*size-300)
	for i := range payload {
		payload[i] = byte(i)
	}
	pkt, err := packet.Build(packet.Header{Src: netip.AddrPortFrom(l4, 4433), Dst: netip.AddrPortFrom(h4, 443), Proto: packet.ProtoUDP}, payload)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint16(pkt[20+6:], pseudoHeaderSum(l4, h4, packet.ProtoUDP, len(pkt)-20))
	g := packet.GSO{Type: packet.GSOUDPL4, NeedsCsum: true, Size: size, HdrLen: 28, CsumStart: 20, CsumOffset: 6}
	raw := make([]byte, packet.VirtioHdrLen+len(pkt))
	g.PutVirtioHdr(raw)
	copy(raw[packet.VirtioHdrLen:], pkt)
	laptop.Raw.Inject(t, raw)
	got := nextPieces(t, home, segs, nil)
	if !bytes.Equal(got, payload) {
		t.Fatalf("datagrams carry %d bytes, not the %d sent", len(got), len(payload))
	}
	if w, s := laptop.Counter("whole_out"), laptop.Counter("split_out"); w != 0 || s != 1 {
		t.Errorf("laptop whole_out %d split_out %d, want 0 and 1", w, s)
	}
}

// nextPieces reads the n packets home's proxy wrote through its device for a
// super-packet split in software, checks each one's checksums, hands each
// (and its payload) to check if set, and returns the payloads joined.
func nextPieces(t *testing.T, home *host, n int, check func(i int, pkt, data []byte)) []byte {
	t.Helper()
	var got []byte
	for i := range n {
		pkt := home.Tun.Next(t)
		if err := packet.VerifyChecksums(pkt); err != nil {
			t.Fatalf("piece %d: %v", i, err)
		}
		pp := proxytest.Decode(t, pkt)
		data := pp.Payload(pkt)
		if check != nil {
			check(i, pkt, data)
		}
		got = append(got, data...)
	}
	return got
}

// peerStatus returns h's status of its peer called name.
func peerStatus(t *testing.T, h *host, name string) proxy.PeerStatus {
	t.Helper()
	for _, p := range h.PX.Status().Peers {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("%s's status has no peer %s", h.Name, name)
	return proxy.PeerStatus{}
}

package proxy_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/packet"
)

// TestQueueLimit: packets from the overlay that waited in the socket longer
// than the queue target, for longer than the interval, are marked CE (with a
// valid checksum) when their sender understands ECN and dropped otherwise,
// counted both ways; packets that did not wait pass untouched.
func TestQueueLimit(t *testing.T) {
	_, laptop, _ := pair(t, func(c *proxy.Config) {
		c.QueueTarget, c.QueueInterval = time.Millisecond, 5*time.Millisecond
	}, nil)
	build := func(ecn byte) []byte {
		pkt, err := packet.Build(packet.Header{Src: netip.MustParseAddrPort("100.64.0.2:2000"), Dst: netip.MustParseAddrPort("100.64.0.1:1000"), Proto: packet.ProtoUDP}, []byte("payload"))
		if err != nil {
			t.Fatal(err)
		}
		pkt[1] |= ecn
		binary.BigEndian.PutUint16(pkt[10:], 0)
		binary.BigEndian.PutUint16(pkt[10:], ipv4HeaderChecksum(pkt[:20]))
		return pkt
	}
	counters := func() (ce, dropped uint64) {
		c := laptop.PX.Status().Counters
		return c["queue_ce"], c["drop_queue"]
	}
	now := int64(1)
	const step = int64(100 * time.Microsecond)

	// No wait: nothing is marked or dropped, however long it goes on.
	for range 1000 {
		now += step
		if pkt := build(0); !proxy.LimitQueue(laptop.PX, pkt, 0, now) {
			t.Fatal("a packet that did not wait was dropped")
		}
	}
	if ce, dropped := counters(); ce+dropped != 0 {
		t.Fatalf("without a queue: %d marked, %d dropped", ce, dropped)
	}

	// A standing queue of 50 ms for 200 ms: ECN-capable packets are
	// marked, the others dropped, alternately sent.
	marked, dropped := 0, 0
	for i := range 2000 {
		now += step
		pkt := build(byte(2 * (i % 2))) // ECT(0) every other packet
		if !proxy.LimitQueue(laptop.PX, pkt, 50*time.Millisecond, now) {
			if pkt[1]&0x03 != 0 {
				t.Fatal("an ECN-capable packet was dropped")
			}
			dropped++
			continue
		}
		if pkt[1]&0x03 == 0x03 {
			if err := packet.VerifyChecksums(pkt); err != nil {
				t.Fatalf("marked packet: %v", err)
			}
			marked++
		}
	}
	if marked == 0 || dropped == 0 {
		t.Fatalf("200 ms of a 50 ms standing queue: %d marked, %d dropped; want both", marked, dropped)
	}
	if ce, d := counters(); ce != uint64(marked) || d != uint64(dropped) {
		t.Errorf("counters queue_ce %d, drop_queue %d; the packets say %d and %d", ce, d, marked, dropped)
	}
}

func ipv4HeaderChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

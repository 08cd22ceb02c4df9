package overlays

import (
	"testing"

	"github.com/i3net/i3net/proxy/proxytest"
)

// FuzzDispatch: any bytes a program writes into the tun device are routed
// to one port, or counted as without a route or malformed; never a panic,
// never a packet in two places.
func FuzzDispatch(f *testing.F) {
	f.Add(udpTo(f, "100.96.0.7"))
	f.Add(udpTo(f, "fd7a:115c:a1e0::53"))
	f.Add([]byte{0x45})
	f.Add([]byte{0x60, 0, 0, 0})
	f.Add([]byte{})
	d := NewDispatcher(proxytest.NewTun(), 1360, []Route{routeI3, routeLab}, 4)
	bufs, sizes := [][]byte{make([]byte, 2000)}, []int{0}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		before := d.Stats()
		d.dispatch(pkt)
		after := d.Stats()
		queued := 0
		for _, p := range d.ports {
			for len(p.queue) > 0 {
				p.Read(bufs, sizes, 0)
				queued++
			}
		}
		counted := int(after.NoRoute-before.NoRoute+after.Malformed-before.Malformed) + queued
		for i := range after.QueueFull {
			counted += int(after.QueueFull[i] - before.QueueFull[i])
		}
		if counted != 1 {
			t.Fatalf("a packet of %d bytes went to %d places", len(pkt), counted)
		}
	})
}

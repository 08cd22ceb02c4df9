package client

import (
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/racebuild"
	"github.com/i3net/i3net/server/servertest"
)

// TestSendToAllocs: SendTo, Send and SendBatch allocate nothing in steady
// state (a live cache hint, pools warm), nor do sends along a shortcut. Every
// receive through x/net's batch read allocates the source address (the
// server's and the clients' alike), and AllocsPerRun counts the whole
// process, so the packets go to a socket nobody reads: a server the cache
// hints at, standing in for the real one, and a receiver at the end of a
// shortcut. The background work (lists, round trips, liveness) is off.
func TestSendToAllocs(t *testing.T) {
	if racebuild.Enabled {
		t.Skip("the race detector allocates; run without -race")
	}
	checkLeaks(t)
	sink := listenLoopback(t)
	sinkAddr := addrOf(sink)
	srv := servertest.Start(t, nil)
	send, _ := newClient(t, srv.Addr(), func(c *Config) {
		c.Servers = append(c.Servers, sinkAddr)
		c.CacheTTL = DefaultConfig().CacheTTL
		c.ListInterval, c.ProbeInterval, c.FailoverAfter, c.AddrCheckInterval = 0, 0, 0, 0
		c.ShortcutTimeout = time.Hour
	})
	x, y, z := id.Random(), id.Random(), id.Random()
	send.cache.put(x, sinkAddr, send.clock.Now())
	send.cache.put(y, sinkAddr, send.clock.Now())
	send.cache.put(z, sinkAddr, send.clock.Now())
	send.SendWith([]id.ID{z}, nil, SendShortcut) // the first probe
	sc := send.shortcuts.lookup(z)
	sc.mu.Lock()
	sc.direct, sc.lastOffer = sinkAddr, send.clock.Now()
	sc.mu.Unlock()
	p := make([]byte, 1000)
	stack := []id.ID{x, y}
	batch := []Message{{Stack: stack[:1], Payload: p}, {Stack: stack, Payload: p}, {Stack: []id.ID{z}, Payload: p, Flags: SendShortcut}}
	tests := []struct {
		name string
		f    func()
	}{
		{"SendTo", func() { send.SendTo(x, p) }},
		{"Send", func() { send.Send(stack, p) }},
		{"SendBatch", func() { send.SendBatch(batch) }},
		{"SendWith shortcut", func() { send.SendWith([]id.ID{z}, p, SendShortcut) }},
	}
	for _, tt := range tests {
		tt.f() // warm the pools
		if n := testing.AllocsPerRun(1000, tt.f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tt.name, n)
		}
	}
	if s := send.Stats(); s.SendErrors != 0 || s.Sent < 5000 || s.ShortcutSent < 2000 {
		t.Errorf("stats %+v", s)
	}
}

// BenchmarkRoundTrip: client → server → client, one packet at a time, on
// loopback (ns/op is the round trip).
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(sizeName(size), func(b *testing.B) {
			srv := servertest.Start(b, nil).Addr()
			got := make(chan struct{}, 1)
			c := newClientB(b, srv, func(d Delivery) { got <- struct{}{} })
			x := id.Random()
			insertB(b, c, x)
			p := make([]byte, size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for b.Loop() {
				if err := c.SendTo(x, p); err != nil {
					b.Fatal(err)
				}
				<-got
			}
		})
	}
}

// BenchmarkSendTo: the cost of one SendTo (route, header, copy, sendto) with
// a live cache hint, to a socket nobody reads: the client's cost alone.
func BenchmarkSendTo(b *testing.B) {
	c, x := sinkClient(b)
	benchSendTo(b, c, x)
}

// BenchmarkSendBatch: SendBatch of 32 packets (one sendmmsg with the default
// BatchSize) to a socket nobody reads, reported per packet too.
func BenchmarkSendBatch(b *testing.B) {
	c, x := sinkClient(b)
	p := make([]byte, 1000)
	ms := make([]Message, 32)
	for i := range ms {
		ms[i] = Message{Stack: []id.ID{x}, Payload: p}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(p) * len(ms)))
	for b.Loop() {
		if _, err := c.SendBatch(ms); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ms)), "ns/packet")
}

// BenchmarkSendToViaServer: SendTo to a trigger of another client through the
// real server. On a small machine the sender, the server and the receiver
// share the cores, so this measures the three of them: compare with
// BenchmarkSendTo for the client's own part. Allocations are the server's and
// the receiver's batch reads (x/net allocates each datagram's source address).
func BenchmarkSendToViaServer(b *testing.B) {
	srv := servertest.Start(b, nil).Addr()
	sink := newClientB(b, srv, nil)
	x := id.Random()
	insertB(b, sink, x)
	c := newClientB(b, srv, nil)
	benchSendTo(b, c, x)
}

// sinkClient returns a client whose packets to the returned id go, by a cache
// hint, to a socket nobody reads.
func sinkClient(b *testing.B) (*Client, id.ID) {
	sink := listenLoopback(b)
	c := newClientB(b, addrOf(sink), nil)
	x := id.Random()
	c.cache.put(x, c.cfg.Servers[0], c.clock.Now())
	return c, x
}

func sizeName(n int) string {
	if n >= 1000 {
		return "1400B"
	}
	return "64B"
}

func newClientB(b *testing.B, srv netip.AddrPort, h func(Delivery)) *Client {
	b.Helper()
	cfg := DefaultConfig()
	cfg.Servers = []netip.AddrPort{srv}
	cfg.Handler = h
	cfg.Logger = TestConfig().Logger
	c, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func insertB(b *testing.B, c *Client, x id.ID) { insert(b, c, Trigger{ID: x}) }

// BenchmarkSendToBaseline: a bare WriteToUDPAddrPort of the same datagram
// size to a socket nobody reads: what SendTo costs above it is the client's.
func BenchmarkSendToBaseline(b *testing.B) {
	sink := listenLoopback(b)
	conn := listenLoopback(b)
	to := addrOf(sink)
	p := make([]byte, 1000+45)
	b.ReportAllocs()
	b.SetBytes(1000)
	for b.Loop() {
		if _, err := conn.WriteToUDPAddrPort(p, to); err != nil {
			b.Fatal(err)
		}
	}
}

// benchSendTo times c.SendTo(x) of 1000-byte payloads.
func benchSendTo(b *testing.B, c *Client, x id.ID) {
	p := make([]byte, 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if err := c.SendTo(x, p); err != nil {
			b.Fatal(err)
		}
	}
}

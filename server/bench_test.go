package server

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/mmsg"
)

// BenchmarkForwardInProcess measures the data path without sockets: decode,
// source limit, one lookup among 100,000 triggers, header rewritten in place,
// handed to a writer that does nothing. One op is one one-id data packet
// (64-byte payload) from one of 256 sources.
func BenchmarkForwardInProcess(b *testing.B) {
	const triggers = 100000
	s, conn := newInProcess(b, func(c *Config) {
		c.BatchSize, c.MaxTriggersPerSource = 64, triggers
	})
	owner := netip.MustParseAddr("198.18.0.1")
	ids := make([]id.ID, triggers)
	for i := range ids {
		ids[i] = id.Random()
		to := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), 5000)
		s.install(ipTrigger(ids[i], to), owner)
	}
	if s.table.len() != triggers {
		b.Fatalf("%d triggers installed", s.table.len())
	}
	const npkts, nsrcs = 4096, 256
	pkts := make([][]byte, npkts)
	for i := range pkts {
		pkts[i] = dataPacket(make([]byte, 64), netip.AddrPort{}, ids[(i*7919)%triggers]).AppendTo(nil)
	}
	s.feedBench(b, pkts, benchSources(nsrcs))
	if st := s.Stats(); st.Delivered != uint64(b.N) || conn.n != b.N {
		b.Fatalf("delivered %d of %d (stats %+v)", st.Delivered, b.N, st)
	}
}

// BenchmarkForwardLoopback measures a server end to end on loopback: a sender
// socket writes one-id data packets (64-byte payload) in batches of 64
// (sendmmsg), the server forwards them to a receiver socket that reads in
// batches (recvmmsg); all three through internal/mmsg. The sender keeps at most a window of packets in flight.
// One op is one packet; "lost" counts packets that never arrived (socket
// buffers overflowing on a shared machine). The "direct" case sends the same
// packets straight to the receiver: the ratio of the two is the server's cost.
func BenchmarkForwardLoopback(b *testing.B) {
	b.Run("via-server", func(b *testing.B) {
		srv := startServer(b, func(c *Config) { c.BatchSize, c.DataRate, c.SocketBuffer = 64, 0, 4<<20 })
		recv, send := newHost(b), newHost(b)
		x := id.Random()
		srv.install(ipTrigger(x, recv.addr), recv.addr.Addr())
		loopback(b, send, recv, srv.Addr(), dataPacket(make([]byte, 64), netip.AddrPort{}, x).AppendTo(nil))
	})
	b.Run("direct", func(b *testing.B) {
		recv, send := newHost(b), newHost(b)
		loopback(b, send, recv, recv.addr, dataPacket(make([]byte, 64), netip.AddrPort{}, id.Random()).AppendTo(nil))
	})
}

// loopback sends b.N copies of pkt from send to dst and counts what recv gets.
func loopback(b *testing.B, send, recv *host, dst netip.AddrPort, pkt []byte) {
	recv.conn.SetReadBuffer(4 << 20)
	send.conn.SetWriteBuffer(4 << 20)
	const batch, window = 64, 1024 // 1024 small packets fit a 4 MiB socket buffer
	var received atomic.Int64
	progress := make(chan struct{}, 1)
	done := make(chan struct{}) // the receiver has stopped
	to := net.UDPAddrFromAddrPort(dst)
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		pc := mmsg.New(send.conn)
		ms := make([]ipv4.Message, batch)
		for i := range ms {
			ms[i].Buffers, ms[i].Addr = [][]byte{pkt}, to
		}
		for sent := 0; sent < b.N; {
			if int64(sent)-received.Load() > window {
				select {
				case <-progress:
					continue
				case <-done:
					return
				case <-time.After(50 * time.Millisecond): // packets were lost: send on
				}
			}
			n, err := pc.WriteBatch(ms[:min(batch, b.N-sent)], 0)
			if err != nil {
				b.Errorf("send: %v", err)
				return
			}
			sent += n
		}
	}()
	pc := mmsg.New(recv.conn)
	ms := make([]ipv4.Message, batch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	last := start
	for received.Load() < int64(b.N) {
		recv.conn.SetReadDeadline(time.Now().Add(time.Second))
		n, err := pc.ReadBatch(ms, 0)
		if err != nil {
			break // a second without packets: the rest was lost
		}
		received.Add(int64(n))
		last = time.Now()
		select {
		case progress <- struct{}{}:
		default:
		}
	}
	b.StopTimer()
	close(done)
	wg.Wait()
	got := received.Load()
	b.ReportMetric(float64(got)/last.Sub(start).Seconds(), "packets/s")
	b.ReportMetric(float64(int64(b.N)-got), "lost")
}

// benchSources returns n source addresses, 203.0.113.i:4000.
func benchSources(n int) []netip.AddrPort {
	srcs := make([]netip.AddrPort, n)
	for i := range srcs {
		srcs[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 4000)
	}
	return srcs
}

// feedBench hands s's worker b.N datagrams in batches, timed: the i-th is
// pkts[i%len(pkts)] from srcs[i%len(pkts)%len(srcs)]. It reports packets/s.
func (s *Server) feedBench(b *testing.B, pkts [][]byte, srcs []netip.AddrPort) {
	w := s.worker
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		k := min(len(w.in), b.N-i)
		for j := range k {
			m := &w.in[j]
			p := (i + j) % len(pkts)
			m.n = copy(m.buf, pkts[p])
			m.addr = srcs[p%len(srcs)]
		}
		w.processBatch(w.in[:k])
		i += k
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

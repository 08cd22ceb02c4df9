package server

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/mmsg"
	"github.com/i3net/i3net/internal/racebuild"
	"github.com/i3net/i3net/internal/testwait"
)

// TestSocketZeroAllocs: forwarding through the server's socket allocates
// nothing per datagram, the system calls included: a sender writes a batch of
// data packets to a running server, which forwards them to a receiver. The
// count covers every goroutine: the sender's and receiver's batch calls
// (internal/mmsg) and the server's worker reading, forwarding and writing.
func TestSocketZeroAllocs(t *testing.T) {
	if racebuild.Enabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	srv := startServer(t, func(c *Config) { c.BatchSize, c.DataRate = 64, 0 })
	recv, send := newHost(t), newHost(t)
	x := id.Random()
	srv.install(ipTrigger(x, recv.addr), recv.addr.Addr())
	tx, rx := mmsg.New(send.conn), mmsg.New(recv.conn)
	pkt := dataPacket(make([]byte, 64), netip.AddrPort{}, x).AppendTo(nil)
	const batch = 8
	ms := make([]ipv4.Message, batch)
	for i := range ms {
		ms[i].Buffers, ms[i].Addr = [][]byte{pkt}, net.UDPAddrFromAddrPort(srv.Addr())
	}
	rms := make([]ipv4.Message, batch)
	for i := range rms {
		rms[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	_ = recv.conn.SetReadDeadline(time.Now().Add(testwait.Timeout))
	var failed error
	allocs := testing.AllocsPerRun(200, func() {
		for off := 0; off < batch && failed == nil; {
			n, err := tx.WriteBatch(ms[off:], 0)
			off, failed = off+n, err
		}
		for got := 0; got < batch && failed == nil; {
			n, err := rx.ReadBatch(rms, 0)
			got, failed = got+n, err
		}
	})
	if failed != nil {
		t.Fatalf("%v (stats %+v)", failed, srv.Stats())
	}
	if allocs != 0 {
		t.Errorf("%.1f allocations per batch of %d forwarded", allocs, batch)
	}
}

package client

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/server"
)

// Helpers for tests with several servers: a ring of real servers on
// 127.0.0.1 (gossip on free ports, the "lan" failure detector), and a fake
// server that echoes pings late.

// startRing starts n servers in one ring and waits until each sees all n.
func startRing(t *testing.T, n int) []*testServer {
	t.Helper()
	var ring []*testServer
	for i := range n {
		cfg := server.TestConfig()
		cfg.Ring = true
		cfg.GossipAddr = "127.0.0.1:0"
		if i > 0 {
			cfg.Join = []string{ring[0].s.Ring().GossipAddr().String()}
		}
		ring = append(ring, startServer(t, &cfg))
	}
	eventually(t, "the ring converged", func() bool {
		for _, s := range ring {
			if s.s.Stats().RingMembers != uint64(n) {
				return false
			}
		}
		return true
	})
	return ring
}

// crash stops ts without leaving the ring, as kill -9 would: the others
// notice through their failure detector.
func (ts *testServer) crash() {
	ts.s.Ring().Shutdown()
	ts.stop()
}

// owner returns the server of ring that owns x, as the first one running
// sees it.
func owner(t *testing.T, ring []*testServer, x id.ID) int {
	t.Helper()
	from := 0
	for ring[from].s == nil {
		from++
	}
	a := ring[from].s.Ring().Snapshot().Responsible(x.Key()).Data
	for i, s := range ring {
		if s.addr == a {
			return i
		}
	}
	t.Fatalf("no server of the ring at %v", a)
	return -1
}

// idOwnedBy returns a random id that ring[i] owns: random first, and if
// ring[i]'s part of the ring is too small to hit, one at its position.
func idOwnedBy(t *testing.T, ring []*testServer, i int) id.ID {
	t.Helper()
	for range 200 {
		if x := id.Random(); owner(t, ring, x) == i {
			return x
		}
	}
	x := id.Random()
	pos := ring[i].s.Ring().Local().Position
	copy(x[:], pos[:])
	x = x.WithPublic(false)
	if owner(t, ring, x) != i {
		t.Fatalf("no id owned by server %d (%v); ring %v", i, ring[i].addr, ring[i].s.Ring().Snapshot().Members())
	}
	return x
}

// addrs returns the data addresses of servers.
func addrs(servers ...*testServer) []netip.AddrPort {
	var out []netip.AddrPort
	for _, s := range servers {
		out = append(out, s.addr)
	}
	return out
}

// slowServer is a fake server that echoes ping datagrams after delay and
// ignores everything else: a server far away.
type slowServer struct {
	conn *net.UDPConn
	addr netip.AddrPort
	wg   sync.WaitGroup
}

func startSlowServer(t *testing.T, delay time.Duration) *slowServer {
	t.Helper()
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	s := &slowServer{conn: conn, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if n == 0 || buf[0]&1 == 0 {
				continue
			}
			b := append([]byte(nil), buf[:n]...)
			time.AfterFunc(delay, func() { conn.WriteToUDPAddrPort(b, from) })
		}
	}()
	t.Cleanup(func() { conn.Close(); s.wg.Wait() })
	return s
}

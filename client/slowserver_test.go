package client

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// A fake server that echoes pings late, for tests with several servers
// (rings of real servers: servertest.StartRing).

// slowServer is a fake server that echoes ping datagrams after delay and
// ignores everything else: a server far away.
type slowServer struct {
	conn *net.UDPConn
	addr netip.AddrPort
	wg   sync.WaitGroup
}

func startSlowServer(t *testing.T, delay time.Duration) *slowServer {
	t.Helper()
	conn := listenLoopback(t)
	s := &slowServer{conn: conn, addr: addrOf(conn)}
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

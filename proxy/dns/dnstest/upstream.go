package dnstest

import (
	"net"
	"net/netip"
	"testing"

	mdns "github.com/miekg/dns"
)

// portTries bounds the search for a port free for both UDP and TCP.
const portTries = 20

// Start serves h over UDP and TCP on one port of 127.0.0.1 until the test
// ends, and returns that address.
func Start(t testing.TB, h mdns.Handler) netip.AddrPort {
	t.Helper()
	pc, ln := listenBoth(t)
	Serve(t, h, pc, ln)
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

// Serve serves h on pc (UDP) and ln (TCP) until the test ends; it returns
// once both servers run. The test opened the sockets; Serve closes them.
func Serve(t testing.TB, h mdns.Handler, pc net.PacketConn, ln net.Listener) {
	t.Helper()
	for _, s := range []*mdns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
		t.Cleanup(func() { s.Shutdown() })
	}
}

// IsTCP says whether w answers a query that came over TCP.
func IsTCP(w mdns.ResponseWriter) bool {
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	return tcp
}

// listenBoth opens a UDP socket and a TCP listener on one port of 127.0.0.1.
func listenBoth(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range portTries {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatalf("no port of 127.0.0.1 free for both UDP and TCP in %d tries", portTries)
	return nil, nil
}

// SilentUpstream is a UDP socket on 127.0.0.1 that reads queries and never
// answers, until the test ends.
func SilentUpstream(t testing.TB) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	Silent(t, pc)
	return netip.MustParseAddrPort(pc.LocalAddr().String())
}

// Silent reads and drops every datagram pc receives until the test ends,
// then closes pc: an upstream that never answers.
func Silent(t testing.TB, pc net.PacketConn) {
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
}

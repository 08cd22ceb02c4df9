package client

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/wire"
)

// TestHeadersAreThePacketEncoding: the data headers (Send, SendBatch,
// probes) and the cache requests the client writes piecewise are the bytes
// the wire.Packet encoder gives for the same packet.
func TestHeadersAreThePacketEncoding(t *testing.T) {
	checkLeaks(t)
	fake, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	fakeAddr := fake.LocalAddr().(*net.UDPAddr).AddrPort()
	c, _ := newClient(t, fakeAddr, func(c *Config) { c.ListInterval, c.ProbeInterval, c.FailoverAfter = 0, 0, 0 })
	sender := wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(c.self())}

	ids := make([]id.ID, wire.MaxStack)
	for i := range ids {
		ids[i] = id.Random()
	}
	for _, n := range []int{1, 2, wire.MaxStack} {
		for _, extra := range []byte{0, wire.FlagShortcut} {
			want := (&wire.Packet{Flags: wire.FlagData | wire.FlagOptions | wire.FlagFirstHop | extra,
				Stack: wire.StackOf(ids[:n]...), Options: []wire.Option{sender}}).AppendTo(nil)
			if got := c.appendDataHeader(nil, ids[:n], extra); !bytes.Equal(got, want) {
				t.Errorf("data header, %d ids, flags %#x:\n got %x\nwant %x", n, extra, got, want)
			}
		}
	}

	// A cache request: REQUEST_FOR_CACHE, SENDER, EXT_HELLO, and padding to
	// the size of its answer, a CACHE_ADDR naming a server.
	c.requestHint(ids[0], fakeAddr)
	buf := make([]byte, 4096)
	fake.SetReadDeadline(time.Now().Add(waitLong))
	n, _, err := fake.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	answer := wire.Packet{Flags: wire.FlagOptions}
	answer.AddOption(wire.Option{Type: wire.OptCacheAddr, Trigger: wire.Trigger{Target: wire.IPAddr(c.self())}})
	req := wire.Packet{Flags: wire.FlagOptions | wire.FlagFirstHop, Stack: wire.StackOf(ids[0])}
	req.AddOption(wire.Option{Type: wire.OptRequestForCache})
	req.AddOption(sender)
	req.AddOption(wire.HelloOption())
	if pad := answer.HeaderLen() - req.HeaderLen(); pad > 0 {
		req.AddOption(wire.PaddingOption(pad))
	}
	if want := req.AppendTo(nil); !bytes.Equal(buf[:n], want) {
		t.Errorf("cache request:\n got %x\nwant %x", buf[:n], want)
	}
}

package client

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/racebuild"
	"github.com/i3net/i3net/wire"
)

// TestHeadersAreThePacketEncoding: the data headers (Send, SendBatch,
// probes) and the cache requests the client writes piecewise are the bytes
// the wire.Packet encoder gives for the same packet.
func TestHeadersAreThePacketEncoding(t *testing.T) {
	ids := make([]id.ID, wire.MaxStack)
	for i := range ids {
		ids[i] = id.Random()
	}
	for _, self := range []string{"192.0.2.1:4000", "[2001:db8::1]:4000"} {
		var c Client
		c.stated.Store(newStatedSelf(netip.MustParseAddrPort(self)))
		sender := wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(c.self())}
		for _, n := range []int{1, 2, wire.MaxStack} {
			for _, extra := range []byte{0, wire.FlagShortcut} {
				want := (&wire.Packet{Flags: wire.FlagData | wire.FlagOptions | wire.FlagFirstHop | extra,
					Stack: wire.StackOf(ids[:n]...), Options: []wire.Option{sender}}).AppendTo(nil)
				if got := c.appendDataHeader(nil, ids[:n], extra); !bytes.Equal(got, want) {
					t.Errorf("%s: data header, %d ids, flags %#x:\n got %x\nwant %x", self, n, extra, got, want)
				}
			}
		}
		for _, noExt := range []bool{false, true} {
			c.cfg.NoExtensions = noExt
			if got, want := c.appendHintRequest(nil, ids[0], !noExt), hintRequest(ids[0], sender, noExt); !bytes.Equal(got, want) {
				t.Errorf("%s: cache request (no extensions %v):\n got %x\nwant %x", self, noExt, got, want)
			}
		}
	}
}

// hintRequest is the cache request for x as the Packet encoder writes it:
// REQUEST_FOR_CACHE, SENDER and, with extensions, EXT_HELLO and padding to
// the size of its answer, a CACHE_ADDR naming a server of the sender's family.
func hintRequest(x id.ID, sender wire.Option, noExt bool) []byte {
	req := wire.Packet{Flags: wire.FlagOptions | wire.FlagFirstHop, Stack: wire.StackOf(x)}
	req.AddOption(wire.Option{Type: wire.OptRequestForCache})
	req.AddOption(sender)
	if noExt {
		return req.AppendTo(nil)
	}
	req.AddOption(wire.HelloOption())
	answer := wire.Packet{Flags: wire.FlagOptions}
	answer.AddOption(wire.Option{Type: wire.OptCacheAddr, Trigger: wire.Trigger{Target: sender.Addr}})
	if pad := answer.HeaderLen() - req.HeaderLen(); pad > 0 {
		req.AddOption(wire.PaddingOption(pad))
	}
	return req.AppendTo(nil)
}

// TestHeaderWritersAllocs: the client's header writers allocate nothing.
func TestHeaderWritersAllocs(t *testing.T) {
	if racebuild.Enabled {
		t.Skip("the race detector allocates; run without -race")
	}
	var c Client
	c.stated.Store(newStatedSelf(netip.MustParseAddrPort("[2001:db8::1]:4000")))
	buf := make([]byte, 0, 2048)
	stack := []id.ID{id.Random(), id.Random()}
	if n := testing.AllocsPerRun(1000, func() {
		_ = c.appendDataHeader(buf[:0], stack, wire.FlagShortcut)
		_ = c.appendHintRequest(buf[:0], stack[0], true)
	}); n != 0 {
		t.Errorf("%v allocations per header, want 0", n)
	}
}

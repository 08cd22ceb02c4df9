package server

import (
	"net/netip"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/wire"
)

// fuzzIDs are the ids of the original vectors (testdata/fuzz/FuzzHandle holds
// the 70 captured datagrams): the fuzz server holds triggers on them so that
// mutated vectors reach delivery, multicast, stack expansion and removal.
var fuzzIDs = []string{
	"db7c02ce510846a371861179cd42452460ad6babb03338422a70bf59f48713d0",
	"3d57308b45eddaa0f5777c8372f40a05647047b7ce13fa56cfdcaa369eba735b",
	"a8f45f0e1dc25a74976d286ac207019494e13f0b78274ddc4bc8b623b262615b",
	"7468697320697320e51656ba7d8bff7de873490936a5ca8d7267657474686973",
	"746869732069732061207465737420690a746869732069732061207465737420",
	"83704357f6821f8f1e337bbda06b256117bbb63c4a92d4465679941266d03d69",
}

// FuzzHandle feeds arbitrary datagrams to a server's in-process handler (no
// socket), from the address of the original proxies, twice: no panic, every
// datagram is counted exactly once on arrival, everything sent is counted, and
// everything sent other than a ping echo is a well-formed packet; data copies
// carry no options and a control reply no data. The control replies total
// no more bytes than the datagrams that caused them (no amplification,
// control.go), but for an ACK to the address its challenge went to.
func FuzzHandle(f *testing.F) {
	f.Add([]byte{0x11, 0x22})
	x, y := id.MustParse(fuzzIDs[0]), id.MustParse(fuzzIDs[1])
	f.Add(dataPacket([]byte("two ids"), netip.MustParseAddrPort("127.0.0.1:20000"), x, y).AppendTo(nil))
	f.Add(dataPacket([]byte("stack"), netip.AddrPort{}, id.MustParse(fuzzIDs[4])).AppendTo(nil))
	from := netip.MustParseAddrPort("127.0.0.1:20000")
	f.Fuzz(func(t *testing.T, b []byte) {
		fc := clock.NewFake()
		s, conn := newInProcess(t, func(c *Config) {
			c.Clock, c.BatchSize, c.RequireSignedPublic = fc, 2, false
			c.DataRate, c.InsertRate, c.ReplyRate = 0, 0, 0
			c.MaxFanout = 8
		})
		conn.record = true
		for i, h := range fuzzIDs {
			x := id.MustParse(h)
			s.install(ipTrigger(x, netip.AddrPortFrom(from.Addr(), uint16(20000+i))), from.Addr())
			s.install(ipTrigger(x, netip.MustParseAddrPort("127.0.0.2:20001")), from.Addr())
		}
		s.install(stackTrigger(id.MustParse(fuzzIDs[4]), id.MustParse(fuzzIDs[3]), id.MustParse(fuzzIDs[0])), from.Addr())
		s.install(stackTrigger(id.MustParse(fuzzIDs[5]), id.MustParse(fuzzIDs[5])), from.Addr()) // a loop

		s.feed(from, b, b)
		fc.Advance(time.Minute)
		s.feed(from, b)

		st := s.Stats()
		arrived := st.Pings + st.Handled + st.Drops[DropTooBig] + st.Drops[DropRateLimited]
		for r := DropTruncated; r <= DropNoIDs; r++ {
			arrived += st.Drops[r]
		}
		if st.PacketsIn != 3 || arrived != 3 {
			t.Fatalf("in %d, accounted for %d: %+v", st.PacketsIn, arrived, st)
		}
		if st.PacketsOut != uint64(conn.n) || uint64(len(conn.sent)) != st.PacketsOut {
			t.Fatalf("out %d, conn saw %d", st.PacketsOut, conn.n)
		}
		if st.Triggers != uint64(s.table.len()) || st.Delivered > 3*uint64(s.cfg.MaxFanout) {
			t.Fatalf("stats %+v", st)
		}
		replies := 0
		for _, m := range conn.sent {
			if wire.IsPing(m.buf) {
				continue
			}
			var p wire.Packet
			if err := p.Decode(m.buf); err != nil {
				t.Fatalf("sent a malformed datagram %x: %v", m.buf, err)
			}
			if p.Flags&wire.FlagData == 0 {
				ack := p.Option(wire.OptTriggerAck)
				if ack == nil || ack.Trigger.Target.IsIP() && ack.Trigger.Target.IP != m.addr {
					replies += len(m.buf)
				}
			}
			if p.Flags&wire.FlagData != 0 && (p.Flags&wire.FlagOptions != 0 || p.Stack.N == 0) {
				t.Fatalf("data copy %s", describe(&p))
			}
			if p.Flags&wire.FlagData == 0 && p.Stack.N != 0 {
				t.Fatalf("control reply %s", describe(&p))
			}
		}
		if replies > 3*len(b) {
			t.Fatalf("%d bytes of control replies to 3 datagrams of %d", replies, len(b))
		}
	})
}

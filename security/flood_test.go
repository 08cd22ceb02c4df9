package security

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/server"
	"github.com/i3net/i3net/wire"
)

// Attack 4: a server as an amplifier. Each kind of request a server answers
// is sent at its smallest, by a requester that names a third party wherever
// the protocol lets it (a trigger's target, SENDER without FIRST_HOP); every
// datagram the server sends because of it, to either, is caught. The replies
// to one datagram never total more bytes than it had, with one exception that
// amplifies toward nobody: the ACK of an insertion whose nonce the server had
// sent to the ACK's own destination (it asked, and proved it) keeps its
// CACHE_ADDR, as the original server sent it. What does not fit is left out
// (CACHE_ADDR, the end of an EXT_ERROR message, addresses of a server list)
// or withheld and counted (reply_too_big); padding buys the full answer.
func TestNoAmplification(t *testing.T) {
	srv := startServer(t, nil)
	// limited refuses all but the first insertion of a source: EXT_ERROR
	// "rate limited" answers the rest.
	limited := startServer(t, func(c *server.Config) { c.InsertRate, c.InsertBurst = 0.001, 1 })
	req := newRaw(t, "127.0.0.21")   // the requester
	third := newRaw(t, "127.0.0.22") // the third party its requests name
	ownerKey, _ := identity.Generate()

	// Minimal requests. Without stack ids an insertion goes by its
	// trigger's id; without SENDER replies go to the observed source.
	insertion := func(tr wire.Trigger, extra ...wire.Option) []byte {
		p := &wire.Packet{Flags: wire.FlagFirstHop}
		p.AddOption(wire.Option{Type: wire.OptTriggerInsert, Trigger: tr})
		for _, o := range extra {
			p.AddOption(o)
		}
		return p.AppendTo(nil)
	}
	removal := func(tr wire.Trigger, extra ...wire.Option) []byte {
		p := &wire.Packet{Flags: wire.FlagFirstHop}
		p.AddOption(wire.Option{Type: wire.OptTriggerRemove, Trigger: tr})
		for _, o := range extra {
			p.AddOption(o)
		}
		return p.AppendTo(nil)
	}
	atThird := func() wire.Trigger {
		return wire.Trigger{ID: id.Random(), PrefixLen: 256, Target: wire.IPAddr(third.addr)}
	}
	withNonce := func(tr wire.Trigger) wire.Trigger {
		rand.Read(tr.Nonce[:])
		return tr
	}
	cacheRequest := func(extra ...wire.Option) []byte {
		p := &wire.Packet{Flags: wire.FlagFirstHop, Stack: wire.StackOf(id.Random())}
		p.AddOption(wire.Option{Type: wire.OptRequestForCache})
		for _, o := range extra {
			p.AddOption(o)
		}
		return p.AppendTo(nil)
	}
	serverList := func(pad int, hello bool) []byte {
		p := &wire.Packet{}
		p.AddOption(wire.Option{Type: wire.ExtServerList, Body: make([]byte, pad)})
		if hello {
			p.AddOption(wire.HelloOption())
		}
		return p.AppendTo(nil)
	}
	// Data without FIRST_HOP: its SENDER (the third party) is believed, as
	// another server's would be; no payload.
	dataToAbsent := func() []byte {
		p := dataPacket(id.Random(), third.addr, nil)
		p.Flags &^= wire.FlagFirstHop
		return p.AppendTo(nil)
	}
	publicAtThird := wire.Trigger{ID: ownerKey.ID(), PrefixLen: 256, Target: wire.IPAddr(third.addr)}
	two := func() []byte {
		p := &wire.Packet{Flags: wire.FlagFirstHop}
		p.AddOption(wire.Option{Type: wire.OptTriggerInsert, Trigger: atThird()})
		p.AddOption(wire.Option{Type: wire.OptTriggerInsert, Trigger: atThird()})
		return p.AppendTo(nil)
	}
	garbage := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		b[0] = wire.Version // not a ping
		return b
	}

	// exchange sends b from the requester to s and returns the datagrams
	// that reached the requester and the third party, and the bytes the
	// server counted out meanwhile.
	exchange := func(s *server.Server, b []byte) (toReq, toThird [][]byte, out uint64) {
		t.Helper()
		before := s.Stats()
		req.sendRaw(s.Addr(), b)
		waitFor(t, "the server to take the request", func() bool { return s.Stats().PacketsIn > before.PacketsIn })
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); toReq = req.drain(100 * time.Millisecond) }()
		go func() { defer wg.Done(); toThird = third.drain(100 * time.Millisecond) }()
		wg.Wait()
		return toReq, toThird, s.Stats().BytesOut - before.BytesOut
	}
	total := func(bs [][]byte) (n int) {
		for _, b := range bs {
			n += len(b)
		}
		return n
	}
	describe := func(bs [][]byte) string {
		s := ""
		for _, b := range bs {
			var p wire.Packet
			if wire.IsPing(b) {
				s += fmt.Sprintf(" ping(%d)", len(b))
			} else if p.Decode(b) != nil {
				s += fmt.Sprintf(" ?(%d)", len(b))
			} else {
				s += fmt.Sprintf(" %v(%d)", optionTypes(&p), len(b))
			}
		}
		return s
	}

	// The nonce of a trigger aimed at the third party, bound to the
	// requester (the third party receives it; here the requester reads it
	// there, as an attacker that controls both would).
	aimed := atThird()
	challenged := func(tr wire.Trigger) wire.Trigger {
		t.Helper()
		req.sendRaw(srv.Addr(), insertion(tr))
		tr.Nonce = third.recvOpt(wire.OptTriggerChallenge).Option(wire.OptTriggerChallenge).Trigger.Nonce
		return tr
	}
	aimed = challenged(aimed)
	own := wire.Trigger{ID: id.Random(), PrefixLen: 256, Target: wire.IPAddr(req.addr)}
	req.sendRaw(srv.Addr(), insertion(own))
	own.Nonce = req.recvOpt(wire.OptTriggerChallenge).Option(wire.OptTriggerChallenge).Trigger.Nonce
	req.drain(50 * time.Millisecond)
	third.drain(50 * time.Millisecond)

	// limited's burst of one goes to a first insertion.
	req.sendRaw(limited.Addr(), insertion(atThird()))
	third.recvOpt(wire.OptTriggerChallenge)

	cases := []struct {
		name  string
		s     *server.Server
		b     []byte
		reply bool // some reply is expected
		asked bool // the exception: an ACK to where the nonce went
	}{
		{"insertion without nonce, target a third party", srv, insertion(atThird()), true, false},
		{"insertion with a wrong nonce", srv, insertion(withNonce(atThird())), true, false},
		{"two insertions in one datagram", srv, two(), true, false},
		{"insertion with the nonce, target a third party", srv, insertion(aimed), true, false},
		{"insertion with the nonce, target the inserter (asked)", srv, insertion(own), true, true},
		{"public id unsigned, EXT_HELLO", srv, insertion(publicAtThird, wire.HelloOption()), true, false},
		{"insertion over the rate limit, EXT_HELLO", limited, insertion(atThird(), wire.HelloOption()), true, false},
		{"removal with a wrong nonce", srv, removal(withNonce(atThird())), false, false},
		{"removal of a public id unsigned, EXT_HELLO", srv, removal(publicAtThird, wire.HelloOption()), true, false},
		{"cache request", srv, cacheRequest(), false, false},
		{"cache request with SENDER", srv, cacheRequest(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(req.addr)}), false, false},
		{"cache request padded", srv, cacheRequest(wire.PaddingOption(80 - 38)), true, false},
		{"ping", srv, []byte{wire.PingBit}, true, false},
		{"reflecting ping, room for IPv4", srv, append([]byte{wire.PingBit | wire.PingReflect}, make([]byte, 7)...), true, false},
		{"reflecting ping, short", srv, []byte{wire.PingBit | wire.PingReflect}, true, false},
		{"server list without EXT_HELLO", srv, serverList(0, false), false, false},
		{"server list with EXT_HELLO", srv, serverList(0, true), false, false},
		{"server list with EXT_HELLO, padded", srv, serverList(4, true), true, false},
		{"data to an absent id, SENDER a third party", srv, dataToAbsent(), true, false},
		{"malformed: a version byte", srv, []byte{wire.Version}, false, false},
		{"malformed: 35 random bytes", srv, garbage(35), false, false},
		{"malformed: 200 random bytes", srv, garbage(200), false, false},
	}
	var in, out, exempt int
	for _, c := range cases {
		toReq, toThird, counted := exchange(c.s, c.b)
		got := total(toReq) + total(toThird)
		t.Logf("%-55s %4d B → requester%s, third party%s", c.name, len(c.b), describe(toReq), describe(toThird))
		if got != int(counted) {
			t.Errorf("%s: the server counted %d bytes out, %d arrived", c.name, counted, got)
		}
		switch {
		case c.reply && got == 0:
			t.Errorf("%s: no reply", c.name)
		case !c.reply && got != 0:
			t.Errorf("%s: a reply of %d bytes", c.name, got)
		case c.asked:
			if len(toThird) != 0 || len(toReq) != 1 {
				t.Errorf("%s: the ACK went elsewhere than where the nonce went", c.name)
			}
			exempt += got
			continue
		case got > len(c.b):
			t.Errorf("%s: %d bytes of replies to a request of %d", c.name, got, len(c.b))
		}
		in += len(c.b)
		out += got
	}
	st := srv.Stats()
	t.Logf("%d bytes of requests, %d bytes of replies (and %d for the ACK that was asked for); "+
		"replies withheld as too big: %d", in, out, exempt, st.Drops[server.DropReplyTooBig])
	if st.Drops[server.DropReplyTooBig] == 0 {
		t.Error("no reply was counted as withheld (reply_too_big)")
	}
}

// Attack 5: a flood of insertions from one source. The flooder sends
// insertions of fresh ids as fast as its socket goes, and answers every
// challenge it gets, for floodFor. Meanwhile an honest host keeps a trigger
// (refreshes included) and another sends to it at a steady rate. The
// flooder's insertions are refused past its rate (refused rate_limited), and
// the honest traffic loses less than 5%. Then the flooder, within its rate
// (insertions batched: the limit counts datagrams), tries to fill the table:
// its triggers stop at MaxTriggersPerSource (refused source_limit), and an
// honest host still inserts. (Under -race the flood is paced to 10^4/s.)
func TestInsertionFlood(t *testing.T) {
	const perSource = 64
	floodFor := 2 * time.Second
	if testing.Short() {
		floodFor = time.Second
	}
	srv := startServer(t, func(c *server.Config) {
		c.MaxTriggersPerSource = perSource
		c.SocketBuffer = server.DefaultConfig().SocketBuffer
	})
	via := []netip.AddrPort{srv.Addr()}
	recv := newHonest(t, via, nil)
	x := id.Random()
	recv.insert(t, x)
	send := newHonest(t, via, nil)
	flooder := newRaw(t, "127.0.0.31")

	// Check the path before the flood.
	if err := send.c.SendTo(x, []byte("before")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "delivery before the flood", func() bool { return recv.received([]byte("before")) })

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var flooded, answered atomic.Uint64
	wg.Add(3)
	go func() { // the flood
		defer wg.Done()
		b := insertion(flooder.addr)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			x := id.Random() // a fresh private id, in place
			copy(b[idAt:], x[:])
			if _, err := flooder.conn.WriteToUDPAddrPort(b, srv.Addr()); err == nil {
				flooded.Add(1)
			}
			if raceEnabled && i%100 == 0 {
				// The race detector slows the server ten times, not
				// the flooder's system calls: what the server cannot
				// read the kernel drops, whoever sent it (volumetric
				// denial of service, docs/security.md).
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	go func() { // the flooder answers its challenges
		defer wg.Done()
		buf := make([]byte, wire.MaxPacket)
		for {
			flooder.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, _, err := flooder.conn.ReadFromUDPAddrPort(buf)
			select {
			case <-stop:
				return
			default:
			}
			if err != nil {
				continue
			}
			var p wire.Packet
			if p.Decode(buf[:n]) != nil {
				continue
			}
			if o := p.Option(wire.OptTriggerChallenge); o != nil {
				q := &wire.Packet{Flags: wire.FlagFirstHop}
				q.AddOption(wire.Option{Type: wire.OptTriggerInsert, Trigger: o.Trigger})
				if _, err := flooder.conn.WriteToUDPAddrPort(q.AppendTo(nil), srv.Addr()); err == nil {
					answered.Add(1)
				}
			}
		}
	}()
	// The honest sender: one packet a millisecond.
	var sent atomic.Uint64
	first := recv.count.Load()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for seq := uint32(0); ; seq++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if send.c.SendTo(x, binary.BigEndian.AppendUint32([]byte("flood "), seq)) == nil {
				sent.Add(1)
			}
		}
	}()
	time.Sleep(floodFor)
	close(stop)
	wg.Wait()
	quiet()

	st := srv.Stats()
	got := recv.count.Load() - first
	loss := 1 - float64(got)/float64(sent.Load())
	t.Logf("flood: %d insertions in %v (%.0f/s) and %d challenge answers from %v; the server received %d datagrams, "+
		"refused %d insertions as rate limited, installed %d (%d triggers in the table)",
		flooded.Load(), floodFor, float64(flooded.Load())/floodFor.Seconds(), answered.Load(), flooder.addr,
		st.PacketsIn, st.Refused[server.RefusedRateLimited], st.Installed, st.Triggers)
	t.Logf("honest traffic during the flood: %d sent, %d received, loss %.2f%%", sent.Load(), got, 100*loss)
	if st.Refused[server.RefusedRateLimited] < flooded.Load()/2 {
		t.Errorf("%d of %d flooded insertions refused as rate limited", st.Refused[server.RefusedRateLimited], flooded.Load())
	}
	if sent.Load() < uint64(floodFor/time.Millisecond)/4 {
		t.Errorf("the honest sender sent only %d packets in %v", sent.Load(), floodFor)
	}
	if loss > 0.05 {
		t.Errorf("the honest traffic lost %.1f%% during the flood", 100*loss)
	}

	// Within the rate: 100 insertions a datagram, answered.
	flooder.drain(50 * time.Millisecond)
	var batch []wire.Trigger
	for range 100 {
		batch = append(batch, wire.Trigger{ID: id.Random(), PrefixLen: 256, Target: wire.IPAddr(flooder.addr)})
	}
	send1 := func() {
		p := &wire.Packet{Flags: wire.FlagFirstHop}
		for _, tr := range batch {
			p.AddOption(wire.Option{Type: wire.OptTriggerInsert, Trigger: tr})
		}
		flooder.send(srv.Addr(), p)
	}
	nonces := map[id.ID][wire.NonceLen]byte{}
	waitFor(t, "challenges to a batch", func() bool {
		send1()
		for _, b := range flooder.drain(50 * time.Millisecond) {
			var q wire.Packet
			if q.Decode(b) != nil {
				continue
			}
			if o := q.Option(wire.OptTriggerChallenge); o != nil {
				nonces[o.Trigger.ID] = o.Trigger.Nonce
			}
		}
		return len(nonces) > perSource
	})
	for i := range batch {
		batch[i].Nonce = nonces[batch[i].ID]
	}
	waitFor(t, "the per-source cap", func() bool {
		send1()
		time.Sleep(20 * time.Millisecond)
		return srv.Stats().Refused[server.RefusedSourceLimit] > 0
	})
	quiet()
	st = srv.Stats()
	t.Logf("filling within the rate: %d triggers in the table (cap %d per source), %d insertions refused over the cap",
		st.Triggers, perSource, st.Refused[server.RefusedSourceLimit])
	if st.Refused[server.RefusedSourceLimit] == 0 {
		t.Error("the flooder never reached the per-source cap")
	}
	if st.Triggers > perSource+1 {
		t.Errorf("%d triggers in the table: more than the flooder's cap %d and the honest one", st.Triggers, perSource)
	}
	other := newHonest(t, via, nil)
	other.insert(t, id.Random())
}

// idAt is where the trigger's id starts in a datagram made by insertion:
// after the header (3), the option list's length (2), the option's type (1)
// and the trigger's flags (1).
const idAt = 3 + 2 + 1 + 1

// insertion is a client's insertion of a fresh private id pointing at target,
// without SENDER, stack ids or EXT_HELLO (no refusal is explained).
func insertion(target netip.AddrPort) []byte {
	p := &wire.Packet{Flags: wire.FlagFirstHop}
	p.AddOption(wire.Option{Type: wire.OptTriggerInsert, Trigger: wire.Trigger{ID: id.Random(), PrefixLen: 256, Target: wire.IPAddr(target)}})
	return p.AppendTo(nil)
}

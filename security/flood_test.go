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

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server"
	"github.com/i3net/i3net/server/servertest"
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
	srv := servertest.Start(t, nil)
	// limited refuses all but the first insertion of a source: EXT_ERROR
	// "rate limited" answers the rest.
	limited := servertest.Start(t, func(c *server.Config) { c.InsertRate, c.InsertBurst = 0.001, 1 })
	req := newRaw(t, "127.0.0.21")   // the requester
	third := newRaw(t, "127.0.0.22") // the third party its requests name
	ownerKey, _ := identity.Generate()

	// Minimal requests. Without stack ids an insertion goes by its
	// trigger's id; without SENDER replies go to the observed source.
	request := func(p *wire.Packet, opts ...wire.Option) []byte {
		for _, o := range opts {
			p.AddOption(o)
		}
		return p.AppendTo(nil)
	}
	insertion := func(tr wire.Trigger, extra ...wire.Option) []byte {
		first := wire.Option{Type: wire.OptTriggerInsert, Trigger: tr}
		return request(&wire.Packet{Flags: wire.FlagFirstHop}, append([]wire.Option{first}, extra...)...)
	}
	removal := func(tr wire.Trigger, extra ...wire.Option) []byte {
		first := wire.Option{Type: wire.OptTriggerRemove, Trigger: tr}
		return request(&wire.Packet{Flags: wire.FlagFirstHop}, append([]wire.Option{first}, extra...)...)
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
		return request(p, append([]wire.Option{{Type: wire.OptRequestForCache}}, extra...)...)
	}
	serverList := func(pad int, hello bool) []byte {
		opts := []wire.Option{{Type: wire.ExtServerList, Body: make([]byte, pad)}}
		if hello {
			opts = append(opts, wire.HelloOption())
		}
		return request(&wire.Packet{}, opts...)
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

	total := func(bs [][]byte) (n int) {
		for _, b := range bs {
			n += len(b)
		}
		return n
	}
	// exchange sends b from the requester to s and returns the datagrams
	// that reached the requester and the third party, and the bytes the
	// server counted out meanwhile.
	exchange := func(s *servertest.Server, b []byte) (toReq, toThird [][]byte, out uint64) {
		t.Helper()
		before := s.Stats()
		req.sendRaw(s.Addr(), b)
		echoed := settle(t, s.Addr()) // counted out too
		toReq, toThird = req.drain(), third.drain()
		// The server counts what it sent after sending it.
		testwait.For(t, "the server to count what it sent", func() bool {
			out = s.Stats().BytesOut - before.BytesOut - echoed
			return int64(out) >= int64(total(toReq)+total(toThird))
		})
		return toReq, toThird, out
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
	req.drain(srv.Addr(), limited.Addr())
	third.drain()

	// limited's burst of one goes to a first insertion.
	req.sendRaw(limited.Addr(), insertion(atThird()))
	third.recvOpt(wire.OptTriggerChallenge)

	cases := []struct {
		name  string
		s     *servertest.Server
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
// insertions of fresh ids as fast as the server reads them, and answers every
// challenge it gets, while an honest host keeps a trigger (refreshes included)
// and another sends it honestPackets at a steady pace. The server admits the
// flooder's insertions at its InsertRate only (the rest refused rate_limited),
// and the honest traffic loses less than 5%. Then the flooder, within its rate
// (insertions batched: the limit counts datagrams), tries to fill the table:
// its triggers stop at MaxTriggersPerSource (refused source_limit), and an
// honest host still inserts.
//
// What is asserted is the server's behaviour, counted by the server, never the
// pace of the test's own goroutines: the flood is paced to what the server
// reads (at most floodWindow datagrams unread), so that the kernel drops
// nothing for want of CPU on a busy machine (volumetric denial of service is
// out of scope, docs/security.md), and the honest sender sends a fixed count
// of packets however long the machine makes that take.
func TestInsertionFlood(t *testing.T) {
	const perSource = 64
	srv := servertest.Start(t, func(c *server.Config) {
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
	testwait.For(t, "delivery before the flood", func() bool { return recv.received([]byte("before")) })

	before, start := srv.Stats(), time.Now()
	f := startFlood(srv, flooder)
	sent := sendSteadily(t, send, x, honestPackets)
	testwait.For(t, "the flooder to reach its insertion rate", func() bool {
		return srv.Stats().Refused[server.RefusedRateLimited] > before.Refused[server.RefusedRateLimited]
	})
	f.stop()
	// A marker sent after the honest packets arrives after every one of
	// them that the server passed on (one socket each way, one worker).
	testwait.For(t, "a marker after the honest traffic", func() bool {
		send.c.SendTo(x, []byte("after"))
		return recv.received([]byte("after"))
	})
	elapsed := time.Since(start)

	st := srv.Stats()
	got := recv.countPrefix([]byte("flood "))
	loss := 1 - float64(got)/float64(sent)
	refused := st.Refused[server.RefusedRateLimited] - before.Refused[server.RefusedRateLimited]
	admitted := st.Inserts - before.Inserts - refused
	// The honest trigger's refreshes are insertions too, from another
	// source: one per RefreshMin at most, twice when re-challenged.
	cfg, honestInserts := server.TestConfig(), 2*(uint64(elapsed/client.TestConfig().RefreshMin)+1)
	allowed := uint64(float64(cfg.InsertBurst)+cfg.InsertRate*elapsed.Seconds()) + 1 + honestInserts
	t.Logf("flood: %d insertions and %d challenge answers from %v in %v; the server received %d datagrams, "+
		"refused %d insertions as rate limited, admitted %d (at most %d allowed), installed %d (%d triggers in the table)",
		f.sent.Load(), f.answered.Load(), flooder.addr, elapsed.Round(time.Millisecond), st.PacketsIn-before.PacketsIn,
		refused, admitted, allowed, st.Installed-before.Installed, st.Triggers)
	t.Logf("honest traffic during the flood: %d sent, %d received, loss %.2f%%", sent, got, 100*loss)
	if admitted > allowed {
		t.Errorf("the server admitted %d insertions in %v, more than its burst and rate allow (%d)", admitted, elapsed, allowed)
	}
	if loss > 0.05 {
		t.Errorf("the honest traffic lost %.1f%% during the flood", 100*loss)
	}

	fillToCap(t, srv, flooder, perSource)
	st = srv.Stats()
	t.Logf("filling within the rate: %d triggers in the table (cap %d per source), %d insertions refused over the cap",
		st.Triggers, perSource, st.Refused[server.RefusedSourceLimit])
	if st.Triggers > perSource+1 {
		t.Errorf("%d triggers in the table: more than the flooder's cap %d and the honest one", st.Triggers, perSource)
	}
	other := newHonest(t, via, nil)
	other.insert(t, id.Random())
}

const (
	// honestPackets is how many packets the honest host sends during the
	// flood, one a millisecond at most.
	honestPackets = 500
	// floodWindow is how many of its datagrams the flooder lets the server
	// leave unread: far less than the server's socket buffer holds.
	floodWindow = 256
)

// sendSteadily sends n numbered packets from h to x, one a millisecond at
// most, and returns how many the client took. It gives up after a minute.
func sendSteadily(t *testing.T, h *honest, x id.ID, n int) uint64 {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(time.Minute)
	var sent uint64
	for seq := range uint32(n) {
		<-tick.C
		if time.Now().After(deadline) {
			t.Logf("the honest sender gave up after %d packets", seq)
			break
		}
		if h.c.SendTo(x, binary.BigEndian.AppendUint32([]byte("flood "), seq)) == nil {
			sent++
		}
	}
	if sent == 0 {
		t.Fatal("the honest client took no packet to send")
	}
	return sent
}

// flood is an insertion flood from one raw socket: insertions of fresh ids as
// fast as the server reads them, and an answer to every challenge.
type flood struct {
	halt           chan struct{}
	wg             sync.WaitGroup
	sent, answered atomic.Uint64
}

func startFlood(srv *servertest.Server, from *raw) *flood {
	f := &flood{halt: make(chan struct{})}
	f.wg.Add(2)
	go f.insert(srv, from, srv.Stats().PacketsIn)
	go f.answer(srv.Addr(), from)
	return f
}

func (f *flood) stop() { close(f.halt); f.wg.Wait() }

func (f *flood) stopped() bool {
	select {
	case <-f.halt:
		return true
	default:
		return false
	}
}

// insert sends the insertions, waiting whenever the server has more than
// floodWindow of them unread (base: the server's PacketsIn at the start).
func (f *flood) insert(srv *servertest.Server, from *raw, base uint64) {
	defer f.wg.Done()
	b := insertion(from.addr)
	for i := 0; !f.stopped(); i++ {
		for i%32 == 0 && f.sent.Load()+f.answered.Load() > srv.Stats().PacketsIn-base+floodWindow {
			if f.stopped() {
				return
			}
			time.Sleep(100 * time.Microsecond) // a poll: the server reads on
		}
		x := id.Random() // a fresh private id, in place
		copy(b[idAt:], x[:])
		if _, err := from.conn.WriteToUDPAddrPort(b, srv.Addr()); err == nil {
			f.sent.Add(1)
		}
	}
}

// answer re-sends every challenged insertion with its nonce.
func (f *flood) answer(srv netip.AddrPort, from *raw) {
	defer f.wg.Done()
	buf := make([]byte, wire.MaxPacket)
	for !f.stopped() {
		from.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, _, err := from.conn.ReadFromUDPAddrPort(buf)
		var p wire.Packet
		if err != nil || p.Decode(buf[:n]) != nil {
			continue
		}
		if o := p.Option(wire.OptTriggerChallenge); o != nil {
			q := &wire.Packet{Flags: wire.FlagFirstHop}
			q.AddOption(wire.Option{Type: wire.OptTriggerInsert, Trigger: o.Trigger})
			if _, err := from.conn.WriteToUDPAddrPort(q.AppendTo(nil), srv); err == nil {
				f.answered.Add(1)
			}
		}
	}
}

// fillToCap has the flooder insert 100 triggers a datagram, within its rate,
// with their nonces, until the server refuses one over perSource.
func fillToCap(t *testing.T, srv *servertest.Server, flooder *raw, perSource int) {
	t.Helper()
	flooder.drain(srv.Addr())
	batch := make([]wire.Trigger, 100)
	nonces := map[id.ID][wire.NonceLen]byte{}
	for i := range batch {
		batch[i] = wire.Trigger{ID: id.Random(), PrefixLen: 256, Target: wire.IPAddr(flooder.addr)}
		nonces[batch[i].ID] = [wire.NonceLen]byte{}
	}
	// send sends the batch and waits until the server has read a datagram
	// more (the batch, or another host's).
	send := func() {
		p := &wire.Packet{Flags: wire.FlagFirstHop}
		for _, tr := range batch {
			p.AddOption(wire.Option{Type: wire.OptTriggerInsert, Trigger: tr})
		}
		in := srv.Stats().PacketsIn
		flooder.send(srv.Addr(), p)
		testwait.For(t, "the server to read the batch", func() bool { return srv.Stats().PacketsIn > in })
	}
	challenged := 0
	testwait.For(t, "challenges to the batch", func() bool {
		send()
		for _, b := range flooder.drain(srv.Addr()) {
			var q wire.Packet
			if q.Decode(b) != nil {
				continue
			}
			o := q.Option(wire.OptTriggerChallenge)
			if o == nil {
				continue
			}
			if n, ok := nonces[o.Trigger.ID]; ok && n == [wire.NonceLen]byte{} {
				nonces[o.Trigger.ID] = o.Trigger.Nonce // only the batch's: late answers to the flood are skipped
				challenged++
			}
		}
		return challenged > perSource
	})
	for i := range batch {
		batch[i].Nonce = nonces[batch[i].ID]
	}
	testwait.For(t, "the per-source cap", func() bool {
		send()
		return srv.Stats().Refused[server.RefusedSourceLimit] > 0
	})
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

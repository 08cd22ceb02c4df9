package server

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/testrun"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/wire"
)

// Test helpers: a server on 127.0.0.1 in the background, hosts that are raw UDP
// sockets speaking the wire format (waits: internal/testwait), an
// in-process harness without sockets, and a goroutine leak check.

// waitTimeout bounds every wait of these tests.
const waitTimeout = testwait.Timeout

// TestMain fails the package if a goroutine outlives its tests.
func TestMain(m *testing.M) { testwait.Main(m) }

// testServer is a Server running in the background; it stops at the end of
// the test. (servertest, which other packages use, imports this package.)
type testServer struct {
	*Server
	run *testrun.Running
}

func startServer(t testing.TB, edit func(*Config)) *testServer {
	t.Helper()
	cfg := TestConfig()
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &testServer{Server: s, run: testrun.Start(t, "server", s)}
}

// stop closes the server and returns what Run returned.
func (ts *testServer) stop() error { return ts.run.Stop() }

// host is a raw UDP socket that speaks the wire format, as a client would.
type host struct {
	t    testing.TB
	conn *net.UDPConn
	addr netip.AddrPort
}

// newHost opens a host on 127.0.0.1.
func newHost(t testing.TB) *host { return newHostOn(t, "127.0.0.1") }

// newHostOn opens a host on a loopback address (127.0.0.0/8 all reach lo), so
// tests can have distinct source addresses.
func newHostOn(t testing.TB, ip string) *host {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &host{t: t, conn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort()}
}

func (h *host) sendRaw(to netip.AddrPort, b []byte) {
	h.t.Helper()
	if _, err := h.conn.WriteToUDPAddrPort(b, to); err != nil {
		h.t.Fatalf("send to %v: %v", to, err)
	}
}

func (h *host) send(to netip.AddrPort, p *wire.Packet) { h.t.Helper(); h.sendRaw(to, p.AppendTo(nil)) }

// recvRaw returns the next datagram, failing the test after waitTimeout.
func (h *host) recvRaw() []byte {
	h.t.Helper()
	b, err := h.read(time.Now().Add(waitTimeout))
	if err != nil {
		h.t.Fatalf("host %v: no datagram: %v", h.addr, err)
	}
	return b
}

func (h *host) read(deadline time.Time) ([]byte, error) {
	h.conn.SetReadDeadline(deadline)
	b := make([]byte, wire.MaxPacket)
	n, _, err := h.conn.ReadFromUDPAddrPort(b)
	return b[:n], err
}

// recv returns the next datagram, decoded.
func (h *host) recv() *wire.Packet {
	h.t.Helper()
	b := h.recvRaw()
	var p wire.Packet
	if err := p.Decode(b); err != nil {
		h.t.Fatalf("host %v: received %x: %v", h.addr, b, err)
	}
	return &p
}

// recvOpt returns the next datagram, which must carry an option of type typ.
func (h *host) recvOpt(typ wire.OptType) *wire.Packet {
	h.t.Helper()
	p := h.recv()
	if p.Option(typ) == nil {
		h.t.Fatalf("host %v: want %v, got %s", h.addr, typ, describe(p))
	}
	return p
}

// sync pings the server and returns every datagram received before the echo:
// the server handles datagrams in order and has written what an earlier one
// produced before it reads the ping.
func (h *host) sync(srv netip.AddrPort) [][]byte {
	h.t.Helper()
	ping := make([]byte, 17)
	rand.Read(ping)
	ping[0] = 0x11
	h.sendRaw(srv, ping)
	var got [][]byte
	deadline := time.Now().Add(waitTimeout)
	for {
		b, err := h.read(deadline)
		if err != nil {
			h.t.Fatalf("host %v: no ping echo from %v: %v", h.addr, srv, err)
		}
		if bytes.Equal(b, ping) {
			return got
		}
		got = append(got, b)
	}
}

// expectNothing checks that nothing but its own ping echo reaches h.
func (h *host) expectNothing(srv netip.AddrPort) {
	h.t.Helper()
	for _, b := range h.sync(srv) {
		var p wire.Packet
		err := p.Decode(b)
		h.t.Errorf("host %v: unexpected datagram %s (%v)", h.addr, describe(&p), err)
	}
}

// describe prints a packet for failure messages.
func describe(p *wire.Packet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "flags=%#x stack=[", p.Flags)
	for i, x := range p.Stack.Slice() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x.Short())
	}
	b.WriteString("] opts=[")
	for i, o := range p.Options {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(o.Type.String())
		if o.Type == wire.ExtError {
			if e, err := wire.ParseError(o.Body); err == nil {
				fmt.Fprintf(&b, "(%d %q)", e.Code, e.Message)
			}
		}
	}
	fmt.Fprintf(&b, "] payload=%d bytes", len(p.Payload))
	return b.String()
}

// ipTrigger returns a trigger from x to addr matching on 128 bits.
func ipTrigger(x id.ID, to netip.AddrPort) wire.Trigger {
	t := wire.Trigger{ID: x, PrefixLen: 128, Target: wire.IPAddr(to)}
	rand.Read(t.Key[:])
	return t
}

// stackTrigger returns a trigger from x to the stack ids.
func stackTrigger(x id.ID, ids ...id.ID) wire.Trigger {
	return wire.Trigger{ID: x, PrefixLen: 128, Target: wire.StackAddr(ids...)}
}

// insertPacket is what a client sends to insert (or, with typ
// OptTriggerRemove, remove) t: FIRST_HOP, SENDER, the trigger, extras.
func insertPacket(typ wire.OptType, t wire.Trigger, sender netip.AddrPort, extra ...wire.Option) *wire.Packet {
	p := &wire.Packet{Flags: wire.FlagFirstHop, Stack: wire.StackOf(t.ID)}
	p.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(sender)})
	p.AddOption(wire.Option{Type: typ, Trigger: t})
	for _, o := range extra {
		p.AddOption(o)
	}
	return p
}

// dataPacket is a data packet to ids; with a valid sender it carries SENDER.
func dataPacket(payload []byte, sender netip.AddrPort, ids ...id.ID) *wire.Packet {
	p := &wire.Packet{Flags: wire.FlagData, Stack: wire.StackOf(ids...), Payload: payload}
	if sender.IsValid() {
		p.Flags |= wire.FlagFirstHop
		p.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(sender)})
	}
	return p
}

// insert runs the whole insertion of t by h at srv: INSERT, CHALLENGE (to h,
// which must be the target or, for a stack target, the inserter), INSERT with
// the nonce, ACK. It returns the trigger with its nonce.
func (h *host) insert(srv netip.AddrPort, t wire.Trigger, extra ...wire.Option) wire.Trigger {
	h.t.Helper()
	t.Nonce = [wire.NonceLen]byte{}
	h.send(srv, insertPacket(wire.OptTriggerInsert, t, h.addr, extra...))
	ch := h.recvOpt(wire.OptTriggerChallenge)
	t.Nonce = ch.Option(wire.OptTriggerChallenge).Trigger.Nonce
	h.send(srv, insertPacket(wire.OptTriggerInsert, t, h.addr, extra...))
	ack := h.recvOpt(wire.OptTriggerAck)
	if got := ack.Option(wire.OptTriggerAck).Trigger; got.ID != t.ID || got.Nonce != t.Nonce {
		h.t.Fatalf("ACK for %v carries %v", t.ID.Short(), got.ID.Short())
	}
	return t
}

// receiverAndSender opens two hosts: r, with a trigger for a fresh private id
// at srv (returned as inserted, with its nonce), and s.
func receiverAndSender(t testing.TB, srv netip.AddrPort) (r, s *host, tr wire.Trigger) {
	t.Helper()
	r, s = newHost(t), newHost(t)
	tr = r.insert(srv, ipTrigger(privateID(), r.addr))
	return r, s, tr
}

// expectData receives a data packet and checks its stack and payload.
func (h *host) expectData(payload []byte, ids ...id.ID) *wire.Packet {
	h.t.Helper()
	p := h.recv()
	if p.Flags&wire.FlagData == 0 || len(p.Options) != 0 || p.Flags&wire.FlagOptions != 0 {
		h.t.Fatalf("host %v: want a data packet without options, got %s", h.addr, describe(p))
	}
	if got := p.Stack.Slice(); len(got) != len(ids) || !equalIDs(got, ids) {
		h.t.Fatalf("host %v: stack %s, want %d ids starting %v", h.addr, describe(p), len(ids), ids[0].Short())
	}
	if !bytes.Equal(p.Payload, payload) {
		h.t.Fatalf("host %v: payload %q, want %q", h.addr, p.Payload, payload)
	}
	return p
}

func equalIDs(a, b []id.ID) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

// errorCode returns the code of p's EXT_ERROR, failing the test without one.
func errorCode(t testing.TB, p *wire.Packet) wire.ErrorCode {
	t.Helper()
	o := p.Option(wire.ExtError)
	if o == nil {
		t.Fatalf("no EXT_ERROR in %s", describe(p))
	}
	e, err := wire.ParseError(o.Body)
	if err != nil {
		t.Fatalf("EXT_ERROR body %x: %v", o.Body, err)
	}
	return e.Code
}

// fakeConn is an in-memory batchConn: reads report closed, writes succeed and
// are optionally recorded.
type fakeConn struct {
	record bool
	sent   []message // recorded copies (buf copied)
	n      int
}

func (c *fakeConn) WriteTo(b []byte, to netip.AddrPort) error {
	_, err := c.WriteBatch([]message{{buf: b, addr: to}})
	return err
}

func (c *fakeConn) ReadBatch([]message) (int, error) { return 0, net.ErrClosed }
func (c *fakeConn) WriteBatch(ms []message) (int, error) {
	c.n += len(ms)
	if c.record {
		for _, m := range ms {
			c.sent = append(c.sent, message{buf: bytes.Clone(m.buf), addr: m.addr})
		}
	}
	return len(ms), nil
}
func (c *fakeConn) Close() error { return nil }

var inProcessAddr = netip.MustParseAddrPort("127.0.0.1:5610")

// newInProcess returns a server over a fakeConn, for tests without sockets.
func newInProcess(t testing.TB, edit func(*Config)) (*Server, *fakeConn) {
	t.Helper()
	cfg := TestConfig()
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	fc := &fakeConn{}
	return newServer(cfg, fc, inProcessAddr), fc
}

// feed hands datagrams to the worker as one received batch (at most the batch
// size) from from.
func (s *Server) feed(from netip.AddrPort, datagrams ...[]byte) {
	w := s.worker
	for len(datagrams) > 0 {
		n := min(len(datagrams), len(w.in))
		for i, d := range datagrams[:n] {
			m := &w.in[i]
			m.n = copy(m.buf, d)
			m.addr, m.dst, m.trunc = from, netip.Addr{}, false
		}
		w.processBatch(w.in[:n])
		datagrams = datagrams[n:]
	}
}

// install puts a trigger straight into the table, valid for the TTL.
func (s *Server) install(t wire.Trigger, owner netip.Addr) {
	e := entry{id: t.ID, prefixLen: t.PrefixLen, flags: t.Flags, key: t.Key,
		expires: s.clock.Now().UnixNano() + int64(s.cfg.TriggerTTL), owner: sourceKey(owner)}
	if t.Target.IsIP() {
		e.ip = t.Target.IP
	} else {
		e.stack = t.Target.Stack.Slice()
	}
	s.table.upsert(e, s.clock.Now().UnixNano())
}

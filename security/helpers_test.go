package security

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/proxytest"
	"github.com/i3net/i3net/wire"
)

// The actors of the attacks: servers, raw wire-format sockets (attackers,
// victims), overlay clients (honest hosts), proxies over in-memory tun
// devices (proxytest), and a relay that plays the network path.

// raw is a UDP socket that speaks the wire format by hand, as an attacker or a
// victim does; it counts what it sends and receives.
type raw struct {
	t    testing.TB
	conn *net.UDPConn
	addr netip.AddrPort

	sentPkts, sentBytes atomic.Uint64
	rcvdPkts, rcvdBytes atomic.Uint64
}

// newRaw opens a raw socket on loopback address ip (all of 127.0.0.0/8 reaches
// lo, so attackers get source addresses of their own, as the servers' per
// source limits see them).
func newRaw(t testing.TB, ip string) *raw {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)))
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadBuffer(4 << 20)
	t.Cleanup(func() { c.Close() })
	return &raw{t: t, conn: c, addr: c.LocalAddr().(*net.UDPAddr).AddrPort()}
}

func (r *raw) sendRaw(to netip.AddrPort, b []byte) {
	r.t.Helper()
	if _, err := r.conn.WriteToUDPAddrPort(b, to); err != nil {
		r.t.Fatalf("%v: send to %v: %v", r.addr, to, err)
	}
	r.sentPkts.Add(1)
	r.sentBytes.Add(uint64(len(b)))
}

func (r *raw) send(to netip.AddrPort, p *wire.Packet) []byte {
	r.t.Helper()
	b := p.AppendTo(nil)
	r.sendRaw(to, b)
	return b
}

// read returns the next datagram and its source, or an error at deadline.
func (r *raw) read(deadline time.Time) ([]byte, netip.AddrPort, error) {
	r.conn.SetReadDeadline(deadline)
	b := make([]byte, wire.MaxPacket)
	n, from, err := r.conn.ReadFromUDPAddrPort(b)
	if err == nil {
		r.rcvdPkts.Add(1)
		r.rcvdBytes.Add(uint64(n))
	}
	return b[:n], from, err
}

// settle waits until servers have handled every datagram sent to them
// before: from a socket of its own it pings each server, twice round, and
// waits for an echo. A server reads its socket in order and has queued what
// a datagram makes it send (replies, copies, a hop to another server) at its
// destination before it reads the next one: after the echoes, everything
// that the datagrams sent before caused, one hop between servers included,
// is queued where it went. It returns the bytes of the echoes, which the
// servers count out.
func settle(t testing.TB, servers ...netip.AddrPort) (echoed uint64) {
	t.Helper()
	r := newRaw(t, "127.0.0.1")
	defer r.conn.Close()
	for range 2 {
		for _, srv := range servers {
			echoed += r.ping(srv)
		}
	}
	return echoed
}

// ping pings srv until the echo of its last ping comes back, pinging again
// every 100 ms without one (the kernel drops what a busy server cannot read
// in time), and returns the bytes of the echoes; it fails the test after
// testwait.Timeout. An earlier ping that a busy server read late may be
// echoed after the last one (another of its workers took it): its echo is
// awaited for a while too, so that what the server sends because of this
// call is counted here, not in whatever the caller measures next.
func (r *raw) ping(srv netip.AddrPort) (echoed uint64) {
	r.t.Helper()
	pending := map[string]bool{} // pings sent whose echo has not come
	deadline := time.Now().Add(testwait.Timeout)
	for time.Now().Before(deadline) {
		ping := make([]byte, 17)
		rand.Read(ping)
		ping[0] = wire.Version | wire.PingBit
		r.sendRaw(srv, ping)
		pending[string(ping)] = true
		again := time.Now().Add(100 * time.Millisecond)
		if again.After(deadline) {
			again = deadline
		}
		for {
			b, from, err := r.read(again)
			if err != nil {
				break
			}
			if from == srv && pending[string(b)] {
				delete(pending, string(b))
				echoed += uint64(len(b))
				if bytes.Equal(b, ping) {
					return echoed + r.stragglers(srv, pending)
				}
			}
		}
	}
	r.t.Fatalf("no ping echo from %v within %v", srv, testwait.Timeout)
	return 0
}

// stragglerWait bounds the wait for the echoes of earlier pings once the
// last one's came: they come within it unless the kernel dropped the ping.
const stragglerWait = 500 * time.Millisecond

// stragglers reads the echoes of the pings still pending from srv, until
// none is or stragglerWait passed, and returns their bytes.
func (r *raw) stragglers(srv netip.AddrPort, pending map[string]bool) (echoed uint64) {
	until := time.Now().Add(stragglerWait)
	for len(pending) > 0 {
		b, from, err := r.read(until)
		if err != nil {
			return echoed
		}
		if from == srv && pending[string(b)] {
			delete(pending, string(b))
			echoed += uint64(len(b))
		}
	}
	return echoed
}

// recvOpt returns the next datagram carrying an option of type typ, skipping
// others, and fails the test when none comes within testwait.Timeout.
func (r *raw) recvOpt(typ wire.OptType) *wire.Packet {
	r.t.Helper()
	deadline := time.Now().Add(testwait.Timeout)
	for {
		b, _, err := r.read(deadline)
		if err != nil {
			r.t.Fatalf("%v: no %v: %v", r.addr, typ, err)
		}
		var p wire.Packet
		if p.Decode(b) == nil && p.Option(typ) != nil {
			return &p
		}
	}
}

// drain returns every datagram queued at r once servers have settled (see
// settle): all that they sent because of datagrams sent before.
func (r *raw) drain(servers ...netip.AddrPort) [][]byte {
	r.t.Helper()
	settle(r.t, servers...)
	var got [][]byte
	for {
		b, ok := r.readQueued()
		if !ok {
			return got
		}
		got = append(got, b)
	}
}

// dataReceived drains r (see drain) and returns the payload of the first
// data packet among what it received, and whether there was one.
func (r *raw) dataReceived(servers ...netip.AddrPort) ([]byte, bool) {
	r.t.Helper()
	for _, b := range r.drain(servers...) {
		var p wire.Packet
		if p.Decode(b) == nil && p.Flags&wire.FlagData != 0 {
			return p.Payload, true
		}
	}
	return nil, false
}

// readQueued returns the next datagram queued at r without waiting (a read
// deadline would not do: one already past when the read starts, on a busy
// machine, reads nothing).
func (r *raw) readQueued() ([]byte, bool) {
	rc, err := r.conn.SyscallConn()
	if err != nil {
		r.t.Fatal(err)
	}
	r.conn.SetReadDeadline(time.Time{}) // a deadline past would keep rc.Read from reading
	b := make([]byte, wire.MaxPacket)
	n := -1
	rerr := rc.Read(func(fd uintptr) bool {
		n, _, err = syscall.Recvfrom(int(fd), b, syscall.MSG_DONTWAIT)
		return true
	})
	if rerr != nil {
		r.t.Fatalf("%v: read: %v", r.addr, rerr)
	}
	if err != nil || n < 0 {
		return nil, false
	}
	r.rcvdPkts.Add(1)
	r.rcvdBytes.Add(uint64(n))
	return b[:n], true
}

// insertPacket is an insertion of t as a client sends it: FIRST_HOP, SENDER,
// the trigger, EXT_HELLO (so refusals are explained), and extra options.
func insertPacket(t wire.Trigger, sender netip.AddrPort, extra ...wire.Option) *wire.Packet {
	p := &wire.Packet{Flags: wire.FlagFirstHop, Stack: wire.StackOf(t.ID)}
	p.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(sender)})
	p.AddOption(wire.Option{Type: wire.OptTriggerInsert, Trigger: t})
	p.AddOption(wire.HelloOption())
	for _, o := range extra {
		p.AddOption(o)
	}
	return p
}

// dataPacket is a data packet to x with SENDER, as a client sends it.
func dataPacket(x id.ID, sender netip.AddrPort, payload []byte) *wire.Packet {
	p := &wire.Packet{Flags: wire.FlagData | wire.FlagFirstHop, Stack: wire.StackOf(x), Payload: payload}
	p.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(sender)})
	return p
}

// refusal returns the EXT_ERROR p carries, failing without one.
func refusal(t testing.TB, p *wire.Packet) wire.ErrorBody {
	t.Helper()
	o := p.Option(wire.ExtError)
	if o == nil {
		t.Fatalf("no EXT_ERROR in the reply (options %v)", optionTypes(p))
	}
	e, err := wire.ParseError(o.Body)
	if err != nil {
		t.Fatalf("EXT_ERROR %x: %v", o.Body, err)
	}
	return e
}

func optionTypes(p *wire.Packet) []wire.OptType {
	var ts []wire.OptType
	for _, o := range p.Options {
		ts = append(ts, o.Type)
	}
	return ts
}

// maxKept bounds the payloads an honest client keeps.
const maxKept = 10000

// honest is an overlay client whose handler keeps the payloads it receives
// (the latest, up to maxKept) and counts them.
type honest struct {
	c     *client.Client
	mu    sync.Mutex
	got   [][]byte
	count atomic.Uint64
}

// newHonest starts a client of server on 127.0.0.1 (client.TestConfig), with
// key as its identity (may be nil).
func newHonest(t testing.TB, servers []netip.AddrPort, key *identity.Identity) *honest {
	t.Helper()
	h := &honest{}
	cfg := client.TestConfig()
	cfg.Servers = servers
	cfg.LocalAddr = netip.MustParseAddrPort("127.0.0.1:0")
	if key != nil {
		cfg.Identity = key.PrivateKey()
	}
	cfg.Handler = func(d client.Delivery) {
		h.count.Add(1)
		h.mu.Lock()
		if len(h.got) == maxKept {
			h.got = h.got[:0] // the latest are those a test looks for
		}
		h.got = append(h.got, bytes.Clone(d.Payload))
		h.mu.Unlock()
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h.c = c
	return h
}

func (h *honest) insert(t testing.TB, x id.ID) *client.Handle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testwait.Timeout)
	defer cancel()
	hd, err := h.c.Insert(ctx, client.Trigger{ID: x})
	if err != nil {
		t.Fatalf("honest insert %v: %v", x.Short(), err)
	}
	return hd
}

// newOwner returns a fresh identity and an honest client of servers that
// holds the trigger of its public id.
func newOwner(t testing.TB, servers []netip.AddrPort) (*identity.Identity, *honest) {
	t.Helper()
	key, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	h := newHonest(t, servers, key)
	h.insert(t, key.ID())
	return key, h
}

// received reports whether payload arrived.
func (h *honest) received(payload []byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, g := range h.got {
		if bytes.Equal(g, payload) {
			return true
		}
	}
	return false
}

// newHost returns a proxy host of the shared harness (proxytest.Host).
func newHost(t testing.TB, name string) *proxytest.Host { return proxytest.NewHost(t, name) }

// countPrefix returns how many of the payloads kept start with prefix.
func (h *honest) countPrefix(prefix []byte) (n uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, g := range h.got {
		if bytes.HasPrefix(g, prefix) {
			n++
		}
	}
	return n
}

// udp builds an IPv4 UDP packet from src to dst whose payload starts with the
// 4-byte sequence number seq.
func udp(t testing.TB, src, dst netip.Addr, seq uint32) []byte {
	t.Helper()
	payload := binary.BigEndian.AppendUint32(nil, seq)
	payload = append(payload, "i3net security test packet"...)
	b, err := packet.Build(packet.Header{Src: netip.AddrPortFrom(src, 4000), Dst: netip.AddrPortFrom(dst, 5000), Proto: packet.ProtoUDP}, payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seqOf returns the sequence number of a packet built by udp, checking that
// it arrived intact (checksums and addresses).
func seqOf(t testing.TB, b []byte, src, dst netip.Addr) uint32 {
	t.Helper()
	pp := proxytest.Decode(t, b)
	if pp.Src.Addr() != src || pp.Dst.Addr() != dst {
		t.Fatalf("tun got %v, want %v → %v", pp.String(), src, dst)
	}
	pl := pp.Payload(b)
	if len(pl) < 4 || !bytes.HasSuffix(pl, []byte("i3net security test packet")) {
		t.Fatalf("tun got an altered payload %q", pl)
	}
	return binary.BigEndian.Uint32(pl)
}

// relay is the network path in front of a server: every host sends to the
// relay (the server advertises it, server.Config.PublicAddr), which forwards
// each host's datagrams from a socket of its own, like a NAT, and the
// server's answers back. It keeps a copy of everything, so a test can replay,
// alter and inject what it saw.
type relay struct {
	t      testing.TB
	ln     *net.UDPConn
	addr   netip.AddrPort
	server netip.AddrPort

	mu   sync.Mutex
	up   map[netip.AddrPort]*net.UDPConn // per host: its socket toward the server
	seen []seen
	deaf bool                                     // seen no longer grows
	hold func(host netip.AddrPort, b []byte) bool // what the server sends that is kept from the host
	wg   sync.WaitGroup
}

// seen is one datagram the relay forwarded.
type seen struct {
	host   netip.AddrPort // the host it came from or went to
	toward bool           // host → server
	b      []byte
}

// maxSeen bounds what a relay keeps.
const maxSeen = 50000

// newRelay opens the relay's listening socket; attach points it at a server.
func newRelay(t testing.TB) *relay {
	t.Helper()
	ln, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{t: t, ln: ln, addr: ln.LocalAddr().(*net.UDPAddr).AddrPort(), up: map[netip.AddrPort]*net.UDPConn{}}
	t.Cleanup(r.close)
	return r
}

// attach starts forwarding to server.
func (r *relay) attach(server netip.AddrPort) {
	r.server = server
	r.wg.Add(1)
	go r.downLoop()
}

func (r *relay) close() {
	r.ln.Close()
	r.mu.Lock()
	for _, c := range r.up {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// record keeps a copy of b and, for a datagram of the server, reports
// whether the relay holds it from host: both under one lock, so that what a
// test sees recorded was held or forwarded by the rule in force then.
func (r *relay) record(host netip.AddrPort, toward bool, b []byte) (hold bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) < maxSeen && !r.deaf {
		r.seen = append(r.seen, seen{host: host, toward: toward, b: bytes.Clone(b)})
	}
	return !toward && r.hold != nil && r.hold(host, b)
}

// downLoop reads what hosts send and forwards it to the server.
func (r *relay) downLoop() {
	defer r.wg.Done()
	b := make([]byte, wire.MaxPacket)
	for {
		n, from, err := r.ln.ReadFromUDPAddrPort(b)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		r.record(from, true, b[:n])
		if c := r.upFor(from); c != nil {
			c.WriteToUDPAddrPort(b[:n], r.server)
		}
	}
}

// upFor returns host's socket toward the server, opening it (and its reader)
// the first time.
func (r *relay) upFor(host netip.AddrPort) *net.UDPConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.up[host]; c != nil {
		return c
	}
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		return nil
	}
	r.up[host] = c
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		b := make([]byte, wire.MaxPacket)
		for {
			n, _, err := c.ReadFromUDPAddrPort(b)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			if r.record(host, false, b[:n]) {
				continue
			}
			r.ln.WriteToUDPAddrPort(b[:n], host)
		}
	}()
	return c
}

// stopRecording makes the relay forward without keeping copies, and drops
// those it kept.
func (r *relay) stopRecording() {
	r.mu.Lock()
	r.deaf, r.seen = true, nil
	r.mu.Unlock()
}

// holding makes the relay keep from their hosts the datagrams of the server
// that keep says to keep (it records them all the same); nil forwards all.
func (r *relay) holding(keep func(host netip.AddrPort, b []byte) bool) {
	r.mu.Lock()
	r.hold = keep
	r.mu.Unlock()
}

// seenWhere returns copies of the datagrams the relay forwarded that keep
// says to keep.
func (r *relay) seenWhere(keep func(s seen, p *wire.Packet) bool) []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []seen
	var p wire.Packet
	for _, s := range r.seen {
		if p.Decode(s.b) == nil && keep(s, &p) {
			out = append(out, seen{host: s.host, toward: s.toward, b: bytes.Clone(s.b)})
		}
	}
	return out
}

// deliver sends b to host from the relay's address, as if the server sent it.
func (r *relay) deliver(host netip.AddrPort, b []byte) {
	r.t.Helper()
	if _, err := r.ln.WriteToUDPAddrPort(b, host); err != nil {
		r.t.Fatalf("relay: deliver: %v", err)
	}
}

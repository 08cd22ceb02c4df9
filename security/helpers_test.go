package security

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/proxytest"
	"github.com/i3net/i3net/server"
	"github.com/i3net/i3net/wire"
)

// The actors of the attacks: servers, raw wire-format sockets (attackers,
// victims), overlay clients (honest hosts), proxies over in-memory tun
// devices (proxytest), and a relay that plays the network path.

// waitTimeout bounds every wait.
const waitTimeout = 10 * time.Second

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for delay := time.Millisecond; !cond(); delay = min(2*delay, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(delay)
	}
}

// quiet lets in-flight datagrams land: loopback delivers within microseconds,
// but the receivers are goroutines on two shared cores.
func quiet() { time.Sleep(300 * time.Millisecond) }

// startServer runs a server on 127.0.0.1 (server.TestConfig, changed by edit)
// until the end of the test.
func startServer(t testing.TB, edit func(*server.Config)) *server.Server {
	t.Helper()
	cfg := server.TestConfig()
	if edit != nil {
		edit(&cfg)
	}
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server Run: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("server Run did not return after Close")
		}
	})
	return s
}

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

// recvOpt returns the next datagram carrying an option of type typ, skipping
// others, and fails the test when none comes within waitTimeout.
func (r *raw) recvOpt(typ wire.OptType) *wire.Packet {
	r.t.Helper()
	deadline := time.Now().Add(waitTimeout)
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

// drain returns every datagram that arrives until nothing has for idle.
func (r *raw) drain(idle time.Duration) [][]byte {
	var got [][]byte
	for {
		b, _, err := r.read(time.Now().Add(idle))
		if err != nil {
			return got
		}
		got = append(got, b)
	}
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
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	hd, err := h.c.Insert(ctx, client.Trigger{ID: x})
	if err != nil {
		t.Fatalf("honest insert %v: %v", x.Short(), err)
	}
	return hd
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
	var pp packet.Parsed
	if err := pp.Decode(b); err != nil {
		t.Fatalf("tun got %x: %v", b, err)
	}
	if err := packet.VerifyChecksums(b); err != nil {
		t.Fatalf("tun got a packet with bad checksums: %v", err)
	}
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

func (r *relay) record(host netip.AddrPort, toward bool, b []byte) {
	r.mu.Lock()
	if len(r.seen) < maxSeen && !r.deaf {
		r.seen = append(r.seen, seen{host: host, toward: toward, b: bytes.Clone(b)})
	}
	r.mu.Unlock()
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
			r.record(host, false, b[:n])
			if r.holds(host, b[:n]) {
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

func (r *relay) holds(host netip.AddrPort, b []byte) bool {
	r.mu.Lock()
	keep := r.hold
	r.mu.Unlock()
	return keep != nil && keep(host, b)
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

// injectAs sends b to the server from host's socket, as if host sent it
// again (the server sees the same source).
func (r *relay) injectAs(host netip.AddrPort, b []byte) {
	r.t.Helper()
	c := r.upFor(host)
	if c == nil {
		r.t.Fatalf("relay: no socket for %v", host)
	}
	if _, err := c.WriteToUDPAddrPort(b, r.server); err != nil {
		r.t.Fatalf("relay: inject: %v", err)
	}
}

// deliver sends b to host from the relay's address, as if the server sent it.
func (r *relay) deliver(host netip.AddrPort, b []byte) {
	r.t.Helper()
	if _, err := r.ln.WriteToUDPAddrPort(b, host); err != nil {
		r.t.Fatalf("relay: deliver: %v", err)
	}
}

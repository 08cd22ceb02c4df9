package bench

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/wire"
)

// scaleClient speaks the wire protocol from one UDP socket in the client
// host: it inserts triggers whose target is that socket, once each (no
// refresh), sends each trigger one numbered data packet through a server
// that does not own its id, and records what comes back: challenges, acks,
// the packets delivered, and the CACHE_ADDR hints naming an owner.
type scaleClient struct {
	b    testing.TB
	conn net.PacketConn
	addr netip.AddrPort

	mu        sync.Mutex
	nonces    map[id.ID][wire.NonceLen]byte
	acked     map[id.ID]bool
	delivered map[uint64]int           // round<<32 | index → copies
	hints     map[id.ID]netip.AddrPort // the last owner named for an id
	lastSent  time.Time                // of the last insertion or packet
	done      chan struct{}
}

const (
	// scaleClientPort is the client's UDP port.
	scaleClientPort = 7000
	// hintQuiet is more than the server's hintRepeat.
	hintQuiet = time.Second
)

func newScaleClient(b testing.TB, h *netlab.Host) *scaleClient {
	addr := netip.AddrPortFrom(h.Addr4(), scaleClientPort)
	conn, err := h.ListenPacket("udp4", addr)
	if err != nil {
		b.Fatal(err)
	}
	conn.(*net.UDPConn).SetReadBuffer(8 << 20) // the kernel may cap it
	c := &scaleClient{b: b, conn: conn, addr: addr, nonces: map[id.ID][wire.NonceLen]byte{},
		acked: map[id.ID]bool{}, delivered: map[uint64]int{}, hints: map[id.ID]netip.AddrPort{}, done: make(chan struct{})}
	go c.read()
	b.Cleanup(func() { conn.Close(); <-c.done })
	return c
}

// read records every datagram until the socket is closed.
func (c *scaleClient) read() {
	defer close(c.done)
	buf := make([]byte, 65536)
	var p wire.Packet
	for {
		n, _, err := c.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if p.Decode(buf[:n]) != nil {
			continue
		}
		c.record(&p)
	}
}

func (c *scaleClient) record(p *wire.Packet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.Flags&wire.FlagData != 0 && len(p.Payload) >= 8 {
		c.delivered[binary.BigEndian.Uint64(p.Payload)]++
	}
	for _, o := range p.Options {
		switch o.Type {
		case wire.OptTriggerChallenge:
			c.nonces[o.Trigger.ID] = o.Trigger.Nonce
		case wire.OptTriggerAck:
			c.acked[o.Trigger.ID] = true
		case wire.OptCacheAddr:
			if o.Trigger.Target.IsIP() {
				c.hints[o.Trigger.ID] = o.Trigger.Target.IP
			}
		}
	}
}

func (c *scaleClient) send(to netip.AddrPort, p *wire.Packet) {
	c.lastSent = time.Now()
	if _, err := c.conn.WriteTo(p.AppendTo(nil), net.UDPAddrFromAddrPort(to)); err != nil {
		c.b.Fatalf("send to %v: %v", to, err)
	}
}

// pace sleeps a millisecond every 50 datagrams, so that a burst of
// thousands does not overflow the client's or a server's socket buffer.
func pace(i int) {
	if i%50 == 49 {
		time.Sleep(time.Millisecond)
	}
}

// insertAll inserts a trigger for each id through random servers (the
// challenge and the acknowledgement come from the owner), trying each step
// up to three times, and returns how many were acknowledged.
func (c *scaleClient) insertAll(servers []netip.AddrPort, ids []id.ID) int {
	triggers := make(map[id.ID]wire.Trigger, len(ids))
	for _, x := range ids {
		t := wire.Trigger{ID: x, PrefixLen: 128, Target: wire.IPAddr(c.addr)}
		crand.Read(t.Key[:])
		triggers[x] = t
	}
	insert := func(t wire.Trigger, i int) {
		p := &wire.Packet{Flags: wire.FlagFirstHop, Stack: wire.StackOf(t.ID)}
		p.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(c.addr)})
		p.AddOption(wire.Option{Type: wire.OptTriggerInsert, Trigger: t})
		c.send(servers[rand.IntN(len(servers))], p)
		pace(i)
	}
	for range 3 {
		for i, x := range ids {
			if _, ok := c.nonce(x); !ok {
				insert(triggers[x], i)
			}
		}
		testwait.Poll(5*time.Second, func() bool { return c.count(func() int { return len(c.nonces) }) == len(ids) })
		for i, x := range ids {
			if n, ok := c.nonce(x); ok && !c.isAcked(x) {
				t := triggers[x]
				t.Nonce = n
				insert(t, i)
			}
		}
		if testwait.Poll(5*time.Second, func() bool { return c.count(func() int { return len(c.acked) }) == len(ids) }) {
			break
		}
	}
	return c.count(func() int { return len(c.acked) })
}

func (c *scaleClient) nonce(x id.ID) ([wire.NonceLen]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nonces[x]
	return n, ok
}

func (c *scaleClient) isAcked(x id.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acked[x]
}

func (c *scaleClient) count(f func() int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return f()
}

// roundResult is what became of one packet per trigger.
type roundResult struct {
	delivered int // packets that reached the trigger's target
	hinted    int // ids whose hint named the owner the client expected
	wrongHint int // ids whose hint named another server
	resent    int // packets sent again, their packet or hint not seen
}

// sendRound sends round's packet i to ids[i], each through a server that
// does not own it (owners[i] is the owner the client expects, by the ring's
// rule on the live servers), with SENDER, and waits, bounded, for the
// packets and the hints.
func (c *scaleClient) sendRound(round uint32, servers []netip.AddrPort, ids []id.ID, owners []netip.AddrPort) roundResult {
	c.mu.Lock()
	clear(c.hints)
	c.mu.Unlock()
	// A server sends one hint per sender and id prefix per 500 ms
	// (server's hintRepeat): let those of the insertions' hops lapse.
	time.Sleep(time.Until(c.lastSent.Add(hintQuiet)))
	sendOne := func(i int) {
		via := servers[rand.IntN(len(servers))]
		for via == owners[i] {
			via = servers[rand.IntN(len(servers))]
		}
		// 128 bytes: a hint is only sent in answer to a datagram at least
		// as big as the hint (server/control.go: no amplification).
		payload := make([]byte, 128)
		binary.BigEndian.PutUint64(payload, uint64(round)<<32|uint64(i))
		p := &wire.Packet{Flags: wire.FlagData | wire.FlagFirstHop, Stack: wire.StackOf(ids[i]), Payload: payload}
		p.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(c.addr)})
		c.send(via, p)
	}
	for i := range ids {
		sendOne(i)
		pace(i)
	}
	var r roundResult
	got := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		r = roundResult{resent: r.resent}
		for i, x := range ids {
			if c.delivered[uint64(round)<<32|uint64(i)] > 0 {
				r.delivered++
			}
			switch h, ok := c.hints[x]; {
			case !ok:
			case h == owners[i]:
				r.hinted++
			default:
				r.wrongHint++
			}
		}
		return r.delivered == len(ids) && r.hinted+r.wrongHint == len(ids)
	}
	// A packet the client's own socket dropped (thousands of packets and
	// hints arrive at once on a busy machine) is sent again, up to twice,
	// through another server; a lost trigger never answers.
	for range 3 {
		if testwait.Poll(5*time.Second, got) {
			break
		}
		time.Sleep(time.Until(c.lastSent.Add(hintQuiet)))
		c.mu.Lock()
		var missing []int
		for i, x := range ids {
			if _, hinted := c.hints[x]; c.delivered[uint64(round)<<32|uint64(i)] == 0 || !hinted {
				missing = append(missing, i)
			}
		}
		c.mu.Unlock()
		for j, i := range missing {
			sendOne(i)
			pace(j)
		}
		r.resent += len(missing)
	}
	return r
}

package client

// The send path, per packet:
//
//  1. check the stack (1..15 ids) and the payload size;
//  2. route: with SendShortcut, the receiver's own address when a shortcut to
//     stack[0] is up (shortcut.go, which also sends the probe that is due);
//     else the server the cache names for stack[0], else the first hop
//     (servers.go); when the hint is missing or ageing, a REQUEST_FOR_CACHE
//     goes out first (at most once per RetryInterval per prefix);
//  3. write the header (FIRST_HOP, the shortcut flag with SendShortcut, the
//     stack, a SENDER option so that TRIGGER_NOT_PRESENT can come back) and
//     the payload into a pooled buffer;
//  4. one sendto (SendTo, Send) or one sendmmsg per BatchSize packets
//     (SendBatch, whose payloads are not copied: header and payload go out as
//     two iovecs).
//
// Nothing here allocates in steady state and nothing logs: failures are
// returned and counted.

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/wire"
)

// SendFlags are a packet's options.
type SendFlags uint8

// SendShortcut lets the packet take a shortcut (paper §5.2): if the trigger
// on stack[0] allows one too, the client learns the receiver's address and
// sends later such packets straight there, falling back to the overlay when
// the receiver stops answering (shortcut.go). Behind a NAT it has no effect.
// Leave it off for anonymity: the receiver learns the sender's address.
const SendShortcut SendFlags = 1

// SendTo sends payload to id x through the overlay. The payload is copied
// before SendTo returns. Servers report an x that matches no trigger with
// EventNotPresent. It allocates nothing in steady state.
func (c *Client) SendTo(x id.ID, payload []byte) error {
	stack := [1]id.ID{x}
	return c.SendWith(stack[:], payload, 0)
}

// Send sends payload to the id stack: the overlay routes on stack[0], and the
// trigger that matches it forwards the packet with the rest of the stack (paper
// §2.1, service composition). 1 to 15 ids; the payload is copied before Send
// returns.
func (c *Client) Send(stack []id.ID, payload []byte) error {
	return c.SendWith(stack, payload, 0)
}

// SendWith is Send with the packet's options f (SendShortcut). It allocates
// nothing in steady state.
func (c *Client) SendWith(stack []id.ID, payload []byte, f SendFlags) error {
	if err := checkStack(stack, len(payload)); err != nil {
		return err
	}
	if c.closed.Load() {
		return ErrClosed
	}
	to, direct := c.routeData(stack[0], f, c.clock.Now())
	buf := c.bufs.Get().(*[maxDatagram]byte)
	b := c.appendDataHeader(buf[:0], stack, headerFlags(f))
	b = append(b, payload...)
	_, err := c.conn.WriteToUDPAddrPort(b, to)
	c.bufs.Put(buf)
	if err != nil {
		c.stats.sendErrors.Add(1)
		return c.sendError(stack[0], to, err)
	}
	c.stats.sent.Add(1)
	if direct {
		c.stats.shortcutSent.Add(1)
	}
	return nil
}

// headerFlags returns the header bits f sets.
func headerFlags(f SendFlags) byte {
	if f&SendShortcut != 0 {
		return wire.FlagShortcut
	}
	return 0
}

// Message is one packet of SendBatch: Payload to the id stack Stack (Stack[0]
// is routed on, 1 to 15 ids), with the options Flags.
type Message struct {
	Stack   []id.ID
	Payload []byte
	Flags   SendFlags
}

// SendBatch sends ms with one sendmmsg per Config.BatchSize messages (one
// sendto per message where the platform has no sendmmsg). Payloads are not
// copied but read during the call. It returns how many messages were sent: on
// an error, ms[n] is the one that failed. It allocates nothing in steady state.
func (c *Client) SendBatch(ms []Message) (int, error) {
	if c.closed.Load() {
		return 0, ErrClosed
	}
	sb := c.batches.Get().(*sendBatch)
	defer c.batches.Put(sb)
	now := c.clock.Now()  // one clock read per batch
	var to netip.AddrPort // the route of the message before
	var direct bool
	sent := 0
	for sent < len(ms) {
		chunk := ms[sent:min(len(ms), sent+len(sb.msgs))]
		n := 0
		for i := range chunk {
			m := &chunk[i]
			if err := checkStack(m.Stack, len(m.Payload)); err != nil {
				if n == 0 {
					sb.clear(0)
					return sent, err
				}
				chunk = chunk[:i] // send the good ones first; m fails next round
				break
			}
			x := &sb.msgs[n]
			x.Buffers[1] = m.Payload
			if n > 0 && sameRoute(&chunk[i-1], m) {
				// The pieces of one large packet, or a burst to one peer:
				// the route and the header of the message before.
				x.Buffers[0] = sb.msgs[n-1].Buffers[0]
			} else {
				to, direct = c.routeData(m.Stack[0], m.Flags, now)
				x.Buffers[0] = c.appendDataHeader(sb.hdrs[n][:0], m.Stack, headerFlags(m.Flags))
			}
			setUDPAddr(&sb.addrs[n], to)
			sb.direct[n] = direct
			n++
		}
		for off := 0; off < n; {
			k, err := c.bconn.WriteBatch(sb.msgs[off:n], 0)
			k = max(k, 0) // a failed sendmmsg reports -1
			direct := 0
			for _, d := range sb.direct[off : off+k] {
				if d {
					direct++
				}
			}
			if direct > 0 {
				c.stats.shortcutSent.Add(uint64(direct))
			}
			off += k
			c.stats.sent.Add(uint64(k))
			if err != nil {
				c.stats.sendErrors.Add(1)
				off = min(off, n-1)
				failed := &chunk[off]
				sb.clear(n)
				if c.closed.Load() {
					return sent + off, ErrClosed
				}
				return sent + off, c.sendError(failed.Stack[0], addrPortOf(sb.msgs[off].Addr), err)
			}
		}
		sb.clear(n)
		sent += n
	}
	return sent, nil
}

// sendBatch holds what one SendBatch chunk needs, allocated once per pooled
// batch: a header buffer, a two-iovec message and a destination per slot,
// and whether the destination is a shortcut.
type sendBatch struct {
	hdrs   [][maxDataHeader]byte
	addrs  []net.UDPAddr
	msgs   []ipv4.Message
	direct []bool
}

func newSendBatch(n int) *sendBatch {
	sb := &sendBatch{
		hdrs:   make([][maxDataHeader]byte, n),
		addrs:  make([]net.UDPAddr, n),
		msgs:   make([]ipv4.Message, n),
		direct: make([]bool, n),
	}
	for i := range sb.msgs {
		sb.addrs[i].IP = make(net.IP, 0, net.IPv6len)
		sb.msgs[i].Buffers = make([][]byte, 2)
		sb.msgs[i].Addr = &sb.addrs[i]
	}
	return sb
}

// clear drops the references to the caller's payloads in the first n slots.
func (sb *sendBatch) clear(n int) {
	for i := range n {
		sb.msgs[i].Buffers[1] = nil
	}
}

func checkStack(stack []id.ID, payload int) error {
	if len(stack) == 0 || len(stack) > wire.MaxStack {
		return fmt.Errorf("client: send: a stack of %d ids; want 1 to %d", len(stack), wire.MaxStack)
	}
	if most := MaxPayload - (len(stack)-1)*id.Len; payload > most {
		return fmt.Errorf("client: send to %s: payload of %d bytes; at most %d fit a datagram", stack[0].Short(), payload, most)
	}
	return nil
}

func (c *Client) sendError(x id.ID, server netip.AddrPort, err error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	return fmt.Errorf("client: send to %s via %s: %w", x.Short(), server, err)
}

// sameRoute reports whether m goes where prev went, with the same header:
// the same stack of ids and the same options.
func sameRoute(prev, m *Message) bool {
	return prev.Flags == m.Flags && slices.Equal(prev.Stack, m.Stack)
}

// routeData is step 2: where a packet to x with options f goes at now, and
// whether that is a shortcut straight to the receiver.
func (c *Client) routeData(x id.ID, f SendFlags, now time.Time) (netip.AddrPort, bool) {
	if f&SendShortcut != 0 && !c.nat.behind.Load() {
		if a, ok := c.shortcuts.route(x, now); ok {
			return a, true
		}
	}
	return c.routeAt(x, now), false
}

// route returns the server for packets to x (the cache's hint, else the
// first hop) and asks it for a cache hint when one is due.
func (c *Client) route(x id.ID) netip.AddrPort { return c.routeAt(x, c.clock.Now()) }

// routeAt is route at time now.
func (c *Client) routeAt(x id.ID, now time.Time) netip.AddrPort {
	server, ask := c.cache.route(x, now)
	if ask {
		c.requestHint(x, server)
	}
	return server
}

// appendDataHeader appends the header of a data packet to stack: FIRST_HOP,
// the flags extra (wire.FlagShortcut), the ids, and an option list holding
// SENDER.
func (c *Client) appendDataHeader(b []byte, stack []id.ID, extra byte) []byte {
	h := wire.DataHeader{Flags: wire.FlagFirstHop | extra, IDs: stack, Sender: c.self()}
	return h.AppendTo(b)
}

// requestHint sends REQUEST_FOR_CACHE for x to server: "who is responsible for
// x?". The answer (CACHE_ADDR) lands in the cache. To a server not yet known
// to speak i3net's extensions it goes twice, without them (which an original
// server answers) and with them (which only an i3net server answers: padded to
// the answer's size, while the original drops it), and a server list request
// asks whether the server speaks them (extensions.go). It allocates nothing
// once the server is known.
func (c *Client) requestHint(x id.ID, server netip.AddrPort) {
	ext := c.extFor(server)
	buf := c.bufs.Get().(*[maxDatagram]byte)
	if _, err := c.conn.WriteToUDPAddrPort(c.appendHintRequest(buf[:0], x, ext), server); err == nil {
		c.stats.control.Add(1)
	}
	if !ext && !c.cfg.NoExtensions {
		if _, err := c.conn.WriteToUDPAddrPort(c.appendHintRequest(buf[:0], x, true), server); err == nil {
			c.stats.control.Add(1)
		}
		c.probeExtensions(server)
	}
	c.bufs.Put(buf)
}

// appendHintRequest appends the cache request for x: REQUEST_FOR_CACHE,
// SENDER and, with extensions (ext: the server speaks them), EXT_HELLO and
// the padding that makes it as large as its answer (an i3net server answers
// no datagram with more bytes than it had).
func (c *Client) appendHintRequest(b []byte, x id.ID, ext bool) []byte {
	self := c.self()
	stack := [1]id.ID{x}
	b = wire.AppendHeader(b, wire.FlagOptions|wire.FlagFirstHop, stack[:])
	b, list := wire.StartOptions(b)
	b = wire.AppendOption(b, &requestForCache)
	b = wire.AppendSender(b, self)
	if ext {
		b = wire.AppendOption(b, &hello)
		b = wire.PadTo(b, hintAnswer(self))
	}
	wire.EndOptions(b, list)
	return b
}

// Options the client sends as they are.
var (
	requestForCache = wire.Option{Type: wire.OptRequestForCache}
	hello           = wire.HelloOption()
)

// zeros pads the payload of shortcut probes (shortcut.go).
var zeros [128]byte

// hintAnswer returns the size of the answer to a cache request from self: a
// CACHE_ADDR naming a server of self's address family. It allocates nothing.
func hintAnswer(self netip.AddrPort) int {
	o := wire.Option{Type: wire.OptCacheAddr, Trigger: wire.Trigger{Target: wire.IPAddr(self)}}
	return wire.ControlHeaderLen + wire.OptionLen(&o)
}

// sendControl encodes p and sends it to server, with SENDER and, to a server
// that speaks i3net's extensions or in a signed request, EXT_HELLO
// (extensions.go). Control packets are rare (insertions, refreshes,
// removals), so p may hold allocated options.
func (c *Client) sendControl(p *wire.Packet, server netip.AddrPort) error {
	if c.closed.Load() {
		return ErrClosed
	}
	p.Flags |= wire.FlagFirstHop | wire.FlagOptions
	p.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(c.self())})
	if c.extFor(server) || p.Option(wire.ExtSignature) != nil {
		p.AddOption(wire.HelloOption())
	}
	buf := c.bufs.Get().(*[maxDatagram]byte)
	defer c.bufs.Put(buf)
	if _, err := c.conn.WriteToUDPAddrPort(p.AppendTo(buf[:0]), server); err != nil {
		if c.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("client: send control packet to %s: %w", server, err)
	}
	c.stats.control.Add(1)
	return nil
}

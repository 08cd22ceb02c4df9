package client

// The send path, per packet:
//
//  1. check the stack (1..15 ids) and the payload size;
//  2. route: the cache names the server responsible for stack[0], else
//     Servers[0]; when the hint is missing or ageing, a REQUEST_FOR_CACHE goes
//     out first (at most once per RetryInterval per prefix);
//  3. write the header (FIRST_HOP, the stack, a SENDER option so that
//     TRIGGER_NOT_PRESENT can come back) and the payload into a pooled buffer;
//  4. one sendto (SendTo, Send) or one sendmmsg per BatchSize packets
//     (SendBatch, whose payloads are not copied: header and payload go out as
//     two iovecs).
//
// Nothing here allocates in steady state and nothing logs: failures are
// returned and counted.

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/wire"
)

// SendTo sends payload to id x through the overlay. The payload is copied
// before SendTo returns. Servers report an x that matches no trigger with
// EventNotPresent. It allocates nothing in steady state.
func (c *Client) SendTo(x id.ID, payload []byte) error {
	stack := [1]id.ID{x}
	return c.Send(stack[:], payload)
}

// Send sends payload to the id stack: the overlay routes on stack[0], and the
// trigger that matches it forwards the packet with the rest of the stack (paper
// §2.1, service composition). 1 to 15 ids; the payload is copied before Send
// returns.
func (c *Client) Send(stack []id.ID, payload []byte) error {
	if err := checkStack(stack, len(payload)); err != nil {
		return err
	}
	if c.closed.Load() {
		return ErrClosed
	}
	server := c.route(stack[0])
	buf := c.bufs.Get().(*[maxDatagram]byte)
	b := c.appendDataHeader(buf[:0], stack)
	b = append(b, payload...)
	_, err := c.conn.WriteToUDPAddrPort(b, server)
	c.bufs.Put(buf)
	if err != nil {
		c.stats.sendErrors.Add(1)
		return c.sendError(stack[0], server, err)
	}
	c.stats.sent.Add(1)
	return nil
}

// Message is one packet of SendBatch: Payload to the id stack Stack (Stack[0]
// is routed on, 1 to 15 ids).
type Message struct {
	Stack   []id.ID
	Payload []byte
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
			server := c.route(m.Stack[0])
			x := &sb.msgs[n]
			x.Buffers[0] = c.appendDataHeader(sb.hdrs[n][:0], m.Stack)
			x.Buffers[1] = m.Payload
			setUDPAddr(&sb.addrs[n], server)
			n++
		}
		for off := 0; off < n; {
			k, err := c.bconn.WriteBatch(sb.msgs[off:n], 0)
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
// batch: a header buffer, a two-iovec message and a destination per slot.
type sendBatch struct {
	hdrs  [][maxDataHeader]byte
	addrs []net.UDPAddr
	msgs  []ipv4.Message
}

func newSendBatch(n int) *sendBatch {
	sb := &sendBatch{
		hdrs:  make([][maxDataHeader]byte, n),
		addrs: make([]net.UDPAddr, n),
		msgs:  make([]ipv4.Message, n),
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

// route returns the server for packets to x (step 2 above) and asks it for a
// cache hint when one is due.
func (c *Client) route(x id.ID) netip.AddrPort {
	server, ask := c.cache.route(x, c.clock.Now())
	if ask {
		c.requestHint(x, server)
	}
	return server
}

// appendDataHeader appends the header of a data packet to stack: FIRST_HOP,
// the ids, and an option list holding SENDER.
func (c *Client) appendDataHeader(b []byte, stack []id.ID) []byte {
	b = append(b, wire.Version, wire.FlagData|wire.FlagOptions|wire.FlagFirstHop, byte(len(stack)))
	for i := range stack {
		b = append(b, stack[i][:]...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(2+len(c.senderOpt)))
	return append(b, c.senderOpt...)
}

// requestHint sends REQUEST_FOR_CACHE for x to server: "who is responsible for
// x?". The answer (CACHE_ADDR) lands in the cache. It allocates nothing.
func (c *Client) requestHint(x id.ID, server netip.AddrPort) {
	buf := c.bufs.Get().(*[maxDatagram]byte)
	b := append(buf[:0], wire.Version, wire.FlagOptions|wire.FlagFirstHop, 1)
	b = append(b, x[:]...)
	lenAt := len(b)
	b = append(b, 0, 0, byte(wire.OptRequestForCache))
	b = append(b, c.senderOpt...)
	if !c.cfg.NoExtensions {
		b = append(b, helloOpt...)
	}
	binary.BigEndian.PutUint16(b[lenAt:], uint16(len(b)-lenAt))
	if _, err := c.conn.WriteToUDPAddrPort(b, server); err == nil {
		c.stats.control.Add(1)
	}
	c.bufs.Put(buf)
}

// helloOpt is EXT_HELLO as it appears in an option list.
var helloOpt = func() []byte {
	p := wire.Packet{Flags: wire.FlagOptions, Options: []wire.Option{wire.HelloOption()}}
	return p.AppendTo(nil)[3+2:]
}()

// sendControl encodes p and sends it to server. Control packets are rare
// (insertions, refreshes, removals), so p may hold allocated options.
func (c *Client) sendControl(p *wire.Packet, server netip.AddrPort) error {
	if c.closed.Load() {
		return ErrClosed
	}
	p.Flags |= wire.FlagFirstHop | wire.FlagOptions
	p.AddOption(wire.Option{Type: wire.OptSender, Addr: wire.IPAddr(c.self)})
	if !c.cfg.NoExtensions {
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

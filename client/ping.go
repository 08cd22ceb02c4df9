package client

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/wire"
)

// ErrNotPresent is wrapped by PingID's error when the server reports that no
// trigger matches the id.
var ErrNotPresent = errors.New("no trigger matches")

// Pong is the answer to a ping.
type Pong struct {
	// RTT is the round trip, on the monotonic clock.
	RTT time.Duration
	// Bytes is the size of what came back: the whole datagram for a server
	// ping, the payload for PingID.
	Bytes int
	// From is who sent it back: the server pinged, or the server that
	// delivered the PingID packet.
	From netip.AddrPort
}

// Ping sends a ping datagram to server, which echoes it unchanged, and returns
// the round trip. It needs no trigger; ctx bounds the wait.
func (c *Client) Ping(ctx context.Context, server netip.AddrPort) (time.Duration, error) {
	p, err := c.PingServer(ctx, server, 0)
	return p.RTT, err
}

// PingServer is Ping with a datagram of size bytes (at least 9).
func (c *Client) PingServer(ctx context.Context, server netip.AddrPort, size int) (Pong, error) {
	server = unmap(server)
	size = max(size, pingHeader)
	if size > maxDatagram {
		return Pong{}, fmt.Errorf("client: ping %s: size %d; at most %d", server, size, maxDatagram)
	}
	pp := c.pings.add(id.ID{}, server)
	defer c.pings.remove(pp.token)
	b := make([]byte, size)
	b[0] = pingKind
	binary.BigEndian.PutUint64(b[1:], pp.token)
	if c.closed.Load() {
		return Pong{}, ErrClosed
	}
	start := time.Now()
	if _, err := c.conn.WriteToUDPAddrPort(b, server); err != nil {
		if c.closed.Load() {
			return Pong{}, ErrClosed
		}
		return Pong{}, fmt.Errorf("client: ping %s: %w", server, err)
	}
	return c.waitPong(ctx, pp, start, func() string { return "ping " + server.String() })
}

// PingID sends a packet of size bytes (at least 16) to id x and waits for it to
// come back: a round trip client → server → trigger target, for a trigger on
// x whose target leads back to this client (its own address, or a stack that
// ends at a trigger of this client). The reply is taken out before
// Config.Handler. A server that reports x as matching nothing ends the wait
// with an error wrapping ErrNotPresent.
func (c *Client) PingID(ctx context.Context, x id.ID, size int) (Pong, error) {
	size = max(size, idPingHeader)
	if size > MaxPayload {
		return Pong{}, fmt.Errorf("client: ping %s: size %d; at most %d", x.Short(), size, MaxPayload)
	}
	pp := c.pings.add(x, netip.AddrPort{})
	defer c.pings.remove(pp.token)
	b := make([]byte, size)
	copy(b, idPingMagic)
	binary.BigEndian.PutUint64(b[len(idPingMagic):], pp.token)
	start := time.Now()
	if err := c.SendTo(x, b); err != nil {
		return Pong{}, err
	}
	return c.waitPong(ctx, pp, start, func() string { return "ping " + x.Short() })
}

func (c *Client) waitPong(ctx context.Context, pp *pendingPing, start time.Time, what func() string) (Pong, error) {
	select {
	case r := <-pp.done:
		if r.err != nil {
			return Pong{}, fmt.Errorf("client: %s: %w", what(), r.err)
		}
		r.pong.RTT = r.at.Sub(start)
		return r.pong, nil
	case <-ctx.Done():
		return Pong{}, fmt.Errorf("client: %s: %w within %v: %w", what(), ErrNoAnswer,
			time.Since(start).Round(time.Millisecond), ctx.Err())
	case <-c.done:
		return Pong{}, ErrClosed
	}
}

// pingTable matches replies to pending pings by a random 64-bit token.
type pingTable struct {
	n       atomic.Int32 // pending pings; the data path looks for PingID replies only when > 0
	mu      sync.Mutex
	pending map[uint64]*pendingPing
}

type pendingPing struct {
	token  uint64
	id     id.ID          // PingID: the id pinged
	server netip.AddrPort // server ping: who must answer
	done   chan pingResult
}

type pingResult struct {
	pong Pong
	at   time.Time
	err  error
}

func (t *pingTable) init() { t.pending = make(map[uint64]*pendingPing) }

func (t *pingTable) add(x id.ID, server netip.AddrPort) *pendingPing {
	pp := &pendingPing{id: x, server: server, done: make(chan pingResult, 1)}
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		pp.token = rand.Uint64()
		if _, dup := t.pending[pp.token]; !dup {
			break
		}
	}
	t.pending[pp.token] = pp
	t.n.Add(1)
	return pp
}

func (t *pingTable) remove(token uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.pending[token]; ok {
		delete(t.pending, token)
		t.n.Add(-1)
	}
}

func (t *pingTable) waiting() bool { return t.n.Load() > 0 }

// complete hands r to the ping with token, if it is pending and match agrees.
func (t *pingTable) complete(token uint64, match func(*pendingPing) bool, r pingResult) bool {
	t.mu.Lock()
	pp, ok := t.pending[token]
	t.mu.Unlock()
	if !ok || !match(pp) {
		return false
	}
	select {
	case pp.done <- r:
	default: // a duplicate
	}
	return true
}

// onServerPong handles an echoed ping datagram.
func (t *pingTable) onServerPong(b []byte, from netip.AddrPort) bool {
	if len(b) < pingHeader || b[0] != pingKind {
		return false
	}
	now := time.Now()
	r := pingResult{pong: Pong{Bytes: len(b), From: from}, at: now}
	return t.complete(binary.BigEndian.Uint64(b[1:]), func(pp *pendingPing) bool { return pp.server == from }, r)
}

// onIDPong takes a PingID reply out of the data path; it reports whether p
// was one.
func (t *pingTable) onIDPong(p *wire.Packet, from netip.AddrPort) bool {
	b := p.Payload
	if len(b) < idPingHeader || string(b[:len(idPingMagic)]) != idPingMagic {
		return false
	}
	now := time.Now()
	r := pingResult{pong: Pong{Bytes: len(b), From: from}, at: now}
	return t.complete(binary.BigEndian.Uint64(b[len(idPingMagic):]), func(pp *pendingPing) bool { return !pp.id.IsZero() }, r)
}

// onNotPresent ends the PingID calls waiting on x.
func (t *pingTable) onNotPresent(x id.ID, from netip.AddrPort) {
	if !t.waiting() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, pp := range t.pending {
		if pp.id == x {
			select {
			case pp.done <- pingResult{err: fmt.Errorf("%w %s at %s", ErrNotPresent, x.Short(), from)}:
			default:
			}
		}
	}
}

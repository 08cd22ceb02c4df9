package client

// Shortcuts (paper §5.2): packets go straight from sender to receiver,
// bypassing the servers, when both allow it: the receiver's trigger
// (Trigger.Flags ShortcutAllowed sets wire.TriggerShortcut) and the sender's
// packets (SendShortcut sets wire.FlagShortcut). Only for a trigger on the
// exact id the sender sends to, whose target is the receiver's address, and
// with neither end behind a NAT.
//
//  1. Probe. The sender's client, sending to id x with SendShortcut and no
//     direct path, also sends x a probe: a data packet with the shortcut flag
//     whose 48-byte payload is "i3netSCP", a fresh random 16-byte token and
//     zeros (a probe is never smaller than the offer it asks for). The
//     server that holds x's trigger delivers it with the sender's address
//     (SENDER), because both allow it. Without an answer, probes through the
//     overlay back off from ShortcutTimeout/3 to 30 s.
//  2. Offer. The receiver's client takes the probe out of the data path and,
//     if it holds a trigger on x that allows shortcuts, sends an offer
//     straight to that address: CACHE_SHORTCUT_ADDR (0x13) carrying the
//     trigger {flags 0x01, id x, prefix 256, nonce = the token, target = its
//     own address} (docs/wire.md). At most offerRate offers a second, and
//     none for a probe whose zeros are not zeros.
//  3. Accept. The sender takes an offer only if it comes from the address it
//     names and echoes one of the last two tokens it sent for x: only a host
//     that received the probe through x's trigger (or saw it on the path
//     behind the server) can make one, and the packets go nowhere but to the
//     host that made it. It then sends x's packets to that address, header
//     and stack unchanged (FIRST_HOP set: the receiver tells them from
//     deliveries by a server, and delivers them only for a trigger that
//     allows shortcuts).
//  4. Keep. Along the direct path a probe goes every ShortcutTimeout/3
//     while packets flow, and each is answered by an offer. A path with no
//     offer for ShortcutTimeout after two probes is given up (a fallback):
//     packets go through the overlay again, and the next probe through it
//     finds the receiver where it now is (mobility) and recovers the path.
//     Offers for x from two addresses at once (several triggers on x:
//     multicast) turn the shortcut off for x.
//
// The send path takes a read lock and x's own mutex per packet, allocates
// nothing, and sends a probe at most every ShortcutTimeout/3 per id.

import (
	"crypto/rand"
	"net/netip"
	"sync"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/wire"
)

// shortcuts is the sender's state per destination id, and the receiver's
// offer budget.
type shortcuts struct {
	c *Client

	mu    sync.RWMutex
	m     map[id.ID]*shortcut
	sweep clock.Timer // armed while m is not empty
	armed bool

	offerMu   sync.Mutex
	offerTok  float64   // offers the receiver may still send
	offerLast time.Time // when offerTok was last filled
}

// shortcut is the state of one destination id.
type shortcut struct {
	mu        sync.Mutex
	direct    netip.AddrPort // the receiver's address while the direct path is used
	lastOffer time.Time      // when an offer was last accepted
	lastSend  time.Time
	nextProbe time.Time
	gap       time.Duration // wait between probes through the overlay (backoff)
	probes    int           // probes sent since the last offer
	tokens    [2][wire.NonceLen]byte
	ntok      int       // valid tokens in tokens, newest first
	off       time.Time // shortcut turned off for the id until then (multicast)
}

func (s *shortcuts) init(c *Client) {
	s.c = c
	s.m = make(map[id.ID]*shortcut)
	s.offerTok = offerBurst
}

// probeEvery is the time between two probes along a direct path.
func (s *shortcuts) probeEvery() time.Duration { return s.c.cfg.ShortcutTimeout / 3 }

// get returns the state of x, created if there is room.
func (s *shortcuts) get(x id.ID, now time.Time) *shortcut {
	s.mu.RLock()
	sc := s.m[x]
	s.mu.RUnlock()
	if sc != nil {
		return sc
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc = s.m[x]; sc != nil || len(s.m) >= maxShortcuts {
		return sc
	}
	sc = &shortcut{nextProbe: now, gap: s.probeEvery()}
	s.m[x] = sc
	if !s.armed {
		s.armed = true
		if s.sweep == nil {
			s.sweep = s.c.clock.AfterFunc(shortcutIdle, s.sweepIdle)
		} else {
			s.sweep.Reset(shortcutIdle)
		}
	}
	return sc
}

// lookup returns the state of x, or nil.
func (s *shortcuts) lookup(x id.ID) *shortcut {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[x]
}

// route is steps 1 and 4 for a packet to x sent with SendShortcut: it
// returns the receiver's address when the direct path is up, and sends the
// probe that is due.
func (s *shortcuts) route(x id.ID, now time.Time) (netip.AddrPort, bool) {
	sc := s.get(x, now)
	if sc == nil {
		return netip.AddrPort{}, false
	}
	var token [wire.NonceLen]byte
	sc.mu.Lock()
	sc.lastSend = now
	if now.Before(sc.off) {
		sc.mu.Unlock()
		return netip.AddrPort{}, false
	}
	if sc.direct.IsValid() && now.Sub(sc.lastOffer) > s.c.cfg.ShortcutTimeout && sc.probes >= 2 {
		sc.direct, sc.ntok = netip.AddrPort{}, 0
		sc.gap, sc.nextProbe = s.probeEvery(), now
		s.c.stats.shortcutFallbacks.Add(1)
	}
	direct := sc.direct
	probe := !now.Before(sc.nextProbe)
	if probe {
		rand.Read(token[:])
		sc.tokens[1], sc.tokens[0] = sc.tokens[0], token
		sc.ntok = min(sc.ntok+1, 2)
		sc.probes++
		if direct.IsValid() {
			sc.nextProbe = now.Add(s.probeEvery())
		} else {
			sc.nextProbe = now.Add(sc.gap)
			sc.gap = min(2*sc.gap, maxProbeGap)
		}
	}
	sc.mu.Unlock()
	if probe {
		s.c.sendProbe(x, &token, direct)
	}
	return direct, direct.IsValid()
}

// sendProbe sends x a probe with token: to the receiver at direct when the
// direct path is up, else through the overlay.
func (c *Client) sendProbe(x id.ID, token *[wire.NonceLen]byte, direct netip.AddrPort) {
	to := direct
	if !to.IsValid() {
		to = c.route(x)
	}
	buf := c.bufs.Get().(*[maxDatagram]byte)
	stack := [1]id.ID{x}
	b := c.appendDataHeader(buf[:0], stack[:], wire.FlagShortcut)
	b = append(b, probeMagic...)
	b = append(b, token[:]...)
	b = append(b, zeros[:probeLen-len(probeMagic)-len(token)]...)
	if _, err := c.conn.WriteToUDPAddrPort(b, to); err == nil {
		c.stats.probes.Add(1)
	}
	c.bufs.Put(buf)
}

// onOffer is step 3: it handles a control packet from an address that is
// not a server and reports whether it was an offer.
func (s *shortcuts) onOffer(p *wire.Packet, from netip.AddrPort) bool {
	o := p.Option(wire.OptCacheShortcutAddr)
	if o == nil {
		return false
	}
	c := s.c
	t := &o.Trigger
	sc := s.lookup(t.ID)
	if sc == nil || !t.Target.IsIP() || unmap(t.Target.IP) != from || c.nat.behind.Load() {
		c.stats.offersRefused.Add(1)
		return true
	}
	now := c.clock.Now()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if !sc.hasToken(&t.Nonce) {
		c.stats.offersRefused.Add(1)
		return true
	}
	if sc.direct.IsValid() && sc.direct != from && now.Sub(sc.lastOffer) < c.cfg.ShortcutTimeout {
		// Two receivers answer for x: a multicast trigger. Keep to the overlay.
		sc.direct, sc.ntok, sc.off = netip.AddrPort{}, 0, now.Add(shortcutIdle)
		c.stats.offersRefused.Add(1)
		return true
	}
	if !sc.direct.IsValid() {
		sc.nextProbe = now.Add(s.probeEvery())
	}
	sc.direct, sc.lastOffer, sc.probes, sc.gap = from, now, 0, s.probeEvery()
	c.stats.offersAccepted.Add(1)
	return true
}

// hasToken reports whether tok is one of the last tokens sent; sc.mu held.
func (sc *shortcut) hasToken(tok *[wire.NonceLen]byte) bool {
	for i := range sc.ntok {
		if sc.tokens[i] == *tok {
			return true
		}
	}
	return false
}

// sweepIdle forgets the ids nobody sent to for shortcutIdle.
func (s *shortcuts) sweepIdle() {
	now := s.c.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for x, sc := range s.m {
		sc.mu.Lock()
		idle := now.Sub(sc.lastSend) >= shortcutIdle && !now.Before(sc.off)
		sc.mu.Unlock()
		if idle {
			delete(s.m, x)
		}
	}
	s.armed = len(s.m) > 0 && !s.c.closed.Load()
	if s.armed {
		s.sweep.Reset(shortcutIdle)
	}
}

// reprobe makes every destination's next packet send a probe, and resets
// the backoff: this client's address changed (addrwatch.go).
func (s *shortcuts) reprobe(now time.Time) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sc := range s.m {
		sc.mu.Lock()
		sc.nextProbe, sc.gap = now, s.probeEvery()
		sc.mu.Unlock()
	}
}

func (s *shortcuts) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sweep != nil {
		s.sweep.Stop()
	}
	s.armed = true // nothing arms it again
}

// isProbe reports whether a delivered payload is a shortcut probe.
func isProbe(p *wire.Packet) bool {
	b := p.Payload
	return p.Flags&wire.FlagShortcut != 0 && len(b) == probeLen && string(b[:len(probeMagic)]) == probeMagic
}

// probeToken returns a probe's token; ok is false when its padding is not
// zeros (not a probe this client's code sent).
func probeToken(p *wire.Packet) (tok [wire.NonceLen]byte, ok bool) {
	b := p.Payload[len(probeMagic):]
	copy(tok[:], b)
	for _, z := range b[len(tok):] {
		if z != 0 {
			return tok, false
		}
	}
	return tok, true
}

// answerProbe is step 2 at the receiver: probe p for x = p's stack[0] came,
// and the sender is at replyTo (the SENDER a server added, or where a direct
// probe came from).
func (c *Client) answerProbe(p *wire.Packet, replyTo netip.AddrPort) {
	x := p.Stack.IDs[0]
	tok, ok := probeToken(p)
	if !ok || !replyTo.IsValid() || !c.acceptsDirect(x) || c.nat.behind.Load() ||
		replyTo.Addr().Is4() != c.self().Addr().Is4() || !c.shortcuts.allowOffer(c.clock.Now()) {
		c.stats.dropped.Add(1)
		return
	}
	buf := c.bufs.Get().(*[maxDatagram]byte)
	if _, err := c.conn.WriteToUDPAddrPort(c.appendOffer(buf[:0], x, &tok), replyTo); err == nil {
		c.stats.offersSent.Add(1)
	}
	c.bufs.Put(buf)
}

// appendOffer appends an offer for x echoing tok: a control packet without
// ids holding CACHE_SHORTCUT_ADDR {flags 0x01, x, prefix 256, nonce tok,
// target this client's address}.
func (c *Client) appendOffer(b []byte, x id.ID, tok *[wire.NonceLen]byte) []byte {
	var opts [1]wire.Option
	opts[0] = wire.Option{Type: wire.OptCacheShortcutAddr, Trigger: wire.Trigger{
		Flags:     wire.TriggerShortcut,
		ID:        x,
		PrefixLen: wire.MaxPrefixLen,
		Nonce:     *tok,
		Target:    wire.IPAddr(c.self()),
	}}
	offer := wire.Packet{Flags: wire.FlagOptions, Options: opts[:]}
	return offer.AppendTo(b)
}

// allowOffer takes one offer from the receiver's budget.
func (s *shortcuts) allowOffer(now time.Time) bool {
	s.offerMu.Lock()
	defer s.offerMu.Unlock()
	s.offerTok = min(offerBurst, s.offerTok+now.Sub(s.offerLast).Seconds()*offerRate)
	s.offerLast = now
	if s.offerTok < 1 {
		return false
	}
	s.offerTok--
	return true
}

// acceptsDirect reports whether this client holds a trigger on exactly x that
// allows shortcuts: only then are probes answered and packets taken
// straight from senders.
func (c *Client) acceptsDirect(x id.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.handles[x] {
		if h.t.Flags&ShortcutAllowed != 0 && len(h.t.Target) == 0 {
			return true
		}
	}
	return false
}

package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/wire"
)

// TriggerFlags are a trigger's options.
type TriggerFlags uint8

// ShortcutAllowed lets senders reach the trigger's target directly instead of
// through the server, when they allow it too (paper §5.2; see SendShortcut and
// shortcut.go). It applies to a trigger on this client's own address (no
// Target stack) and to packets sent to exactly its id; it should be the only
// trigger on its id. The client drops it while behind a NAT. Leave it off for
// anonymity: senders learn this client's address.
const ShortcutAllowed TriggerFlags = wire.TriggerShortcut

// Trigger asks the overlay to forward packets sent to ID to Target.
type Trigger struct {
	// ID is the trigger's id. A public id (id.IsPublic) must derive from
	// Config.Identity, which signs the insertion.
	ID id.ID
	// PrefixLen is how many leading bits, 0 to 256, a packet id must share with
	// ID to match. The overlay never matches fewer than 128, so 0 means 128;
	// among matches the longest common prefix wins (anycast, paper §2.1).
	PrefixLen int
	// Target is where matching packets go: nil for this client's own address
	// (LocalAddr), or a stack of 1 to 15 ids that the packet continues to.
	Target []id.ID
	// Flags are the trigger's options (ShortcutAllowed).
	Flags TriggerFlags
}

// RefusedError is a server's refusal of an insertion, refresh or removal:
// EXT_ERROR with its code and message, or the original protocol's
// CONSTRAINT_FAILED and ROUTE_BROKEN (Code 0).
type RefusedError struct {
	ID      id.ID
	Server  netip.AddrPort
	Code    wire.ErrorCode
	Message string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("client: trigger %s refused by %s: %s", e.ID.Short(), e.Server, reason(e.Code, e.Message))
}

// ErrNoAnswer is wrapped by the errors of calls that heard nothing back in time.
var ErrNoAnswer = errors.New("no answer")

// Handle is an inserted trigger, refreshed in the background until Remove or
// Client.Close.
type Handle struct {
	c      *Client
	t      Trigger
	public bool

	firstAck chan struct{} // closed at the first ACK
	refused  chan error    // the first refusal, while Insert waits

	mu       sync.Mutex
	wt       wire.Trigger   // as sent, with the nonce of the last challenge
	server   netip.AddrPort // where the last insertion or refresh went
	timer    clock.Timer    // next refresh, or the retry of an unanswered one
	waiting  bool           // an insertion or refresh is unanswered
	firing   bool           // fire is preparing the next insertion
	misses   int            // timer events in a row with no ACK
	budget   int            // challenges still answered before the next timer event
	inserted bool           // an ACK came once
	first    time.Time      // first ACK
	acked    time.Time      // last ACK
	ackedBy  netip.AddrPort
	observed netip.AddrPort // the IP target of the last ACK: where ackedBy delivers (§5.1)
	followed time.Time      // when a hint last moved the trigger (follow)
	rebound  time.Time      // when a reflecting ping last re-pointed it (rebind)
	lapsed   bool           // logged as lapsed, not yet regained
	err      error
	removed  bool
}

// Insert inserts t and waits for the server's ACK: it answers the server's
// challenge (which proves this client asked for the target), signs public ids
// with Config.Identity, and resends every RetryInterval until ctx ends. It then
// refreshes t every RefreshMin–RefreshMax (jittered) until Remove or Close,
// answering challenges again whenever the server asks (after it restarted, for
// example): the trigger comes back on its own. A refusal is returned as a
// *RefusedError; silence until ctx ends wraps ErrNoAnswer and ctx.Err().
func (c *Client) Insert(ctx context.Context, t Trigger) (*Handle, error) {
	wt, err := c.wireTrigger(&t)
	if err != nil {
		return nil, err
	}
	if c.closed.Load() {
		return nil, ErrClosed
	}
	h := &Handle{
		c:        c,
		t:        t,
		public:   t.ID.IsPublic(),
		wt:       wt,
		firstAck: make(chan struct{}),
		refused:  make(chan error, 1),
	}
	h.t.Target = append([]id.ID(nil), t.Target...)
	start := time.Now()
	c.awaitInsertPath(ctx, t.ID)
	h.mu.Lock()
	h.timer = c.clock.AfterFunc(c.cfg.RetryInterval, h.fire)
	p, server := h.nextInsertLocked()
	h.mu.Unlock()
	c.mu.Lock()
	c.handles[t.ID] = append(c.handles[t.ID], h)
	c.mu.Unlock()
	if err := c.sendControl(&p, server); err != nil {
		h.drop()
		return nil, fmt.Errorf("client: insert %s: %w", t.ID.Short(), err)
	}
	select {
	case <-h.firstAck:
		return h, nil
	case err := <-h.refused:
		h.drop()
		return nil, err
	case <-ctx.Done():
		h.drop()
		h.mu.Lock()
		server = h.server
		h.mu.Unlock()
		return nil, fmt.Errorf("client: insert %s at %s: %w within %v: %w",
			t.ID.Short(), server, ErrNoAnswer, time.Since(start).Round(time.Millisecond), ctx.Err())
	case <-c.done:
		h.drop()
		return nil, ErrClosed
	}
}

// wireTrigger checks t and builds the trigger the client sends.
func (c *Client) wireTrigger(t *Trigger) (wire.Trigger, error) {
	var wt wire.Trigger
	if t.PrefixLen < 0 || t.PrefixLen > wire.MaxPrefixLen {
		return wt, fmt.Errorf("client: insert %s: prefix length %d; want 0 to 256", t.ID.Short(), t.PrefixLen)
	}
	if len(t.Target) > wire.MaxStack {
		return wt, fmt.Errorf("client: insert %s: a target stack of %d ids; at most %d", t.ID.Short(), len(t.Target), wire.MaxStack)
	}
	if t.ID.IsPublic() {
		switch {
		case c.cfg.NoExtensions:
			return wt, fmt.Errorf("client: insert %s: public ids are inserted signed, and signatures are extensions (Config.NoExtensions is set)", t.ID.Short())
		case c.cfg.Identity == nil:
			return wt, fmt.Errorf("client: insert %s: a public id must be signed by its key, and Config.Identity is not set", t.ID.Short())
		}
	}
	wt = wire.Trigger{Flags: uint8(t.Flags), ID: t.ID, PrefixLen: uint16(t.PrefixLen)}
	if len(t.Target) == 0 {
		wt.Target = wire.IPAddr(c.self())
		if !t.ID.IsPublic() {
			// The original server's r-constraint (id.SatisfiesConstraintIP);
			// i3net servers keep the key and ignore it.
			wt.Key = id.HashIDR(t.ID)
		}
	} else {
		wt.Target = wire.StackAddr(t.Target...)
	}
	return wt, nil
}

// nextInsertLocked builds the next insertion or refresh, marks it unanswered
// and renews the challenge budget. It goes to the server the cache names for
// the id, so that behind a NAT the mapping opens toward the server that will
// send to us (paper §5.1, nat.go: the caller asked for the hint first), else
// to the first hop, which sends it on to that server.
func (h *Handle) nextInsertLocked() (wire.Packet, netip.AddrPort) {
	h.waiting = true
	h.budget = challengeBudget
	return h.packetLocked(wire.OptTriggerInsert, wire.SigInsert)
}

func (h *Handle) packetLocked(op wire.OptType, sigOp byte) (wire.Packet, netip.AddrPort) {
	c := h.c
	now := c.clock.Now()
	server, ok := c.cache.lookup(h.wt.ID, now)
	if !ok {
		server = c.servers.firstHop()
	}
	h.server = server
	if len(h.t.Target) == 0 {
		h.wt.Target = wire.IPAddr(c.self()) // it may have changed (addrwatch.go)
	}
	h.wt.Flags = uint8(h.t.Flags)
	if c.nat.behind.Load() {
		h.wt.Flags &^= wire.TriggerShortcut // shortcuts are off behind a NAT (§5.2)
	}
	p := wire.Packet{Stack: wire.StackOf(h.wt.ID)}
	p.AddOption(wire.Option{Type: op, Trigger: h.wt})
	if h.public {
		p.AddOption(wire.Sign(c.cfg.Identity, sigOp, &h.wt, now))
	}
	return p, server
}

// fire is the trigger's timer: a refresh is due, or the last insertion or
// refresh went unanswered for RetryInterval, or the server it went to was
// declared down. Either way it sends the insertion again (behind a NAT, after
// asking for the hint) and waits RetryInterval for the ACK.
func (h *Handle) fire() {
	c := h.c
	h.mu.Lock()
	removed := h.removed
	h.firing = true
	h.mu.Unlock()
	if !removed {
		c.awaitHint(context.Background(), h.t.ID)
	}
	h.mu.Lock()
	h.firing = false
	if h.removed || c.closed.Load() {
		h.mu.Unlock()
		return
	}
	if h.waiting {
		h.misses++
		c.suspect(h.server)
		what := "refresh"
		if !h.inserted {
			what = "insert"
		}
		h.err = fmt.Errorf("client: %s %s at %s: %w for %v", what, h.wt.ID.Short(), h.server, ErrNoAnswer,
			time.Duration(h.misses)*c.cfg.RetryInterval)
		if h.misses == 2 {
			// The server the hint named stopped answering: go through
			// the first hop again, which will hint afresh.
			c.cache.forget(h.wt.ID)
		}
		if h.inserted && !h.lapsed && c.clock.Now().Sub(h.acked) > c.cfg.TriggerTTL {
			h.lapsed = true
			c.log.Warn("trigger lapsed: no ack within the trigger TTL", "id", h.wt.ID.Short(), "server", h.server,
				"since", c.clock.Now().Sub(h.acked))
		}
	}
	p, server := h.nextInsertLocked()
	h.timer.Reset(c.cfg.RetryInterval)
	h.mu.Unlock()
	_ = c.sendControl(&p, server) // a failure is a lost refresh: retried
}

// onAck handles TRIGGER_ACK from server, whose trigger's target was observed
// (zero for a stack target).
func (h *Handle) onAck(from, observed netip.AddrPort) {
	c := h.c
	now := c.clock.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.removed {
		return
	}
	if h.lapsed {
		h.lapsed = false
		c.log.Info("trigger regained", "id", h.wt.ID.Short(), "server", from, "after", now.Sub(h.acked))
	}
	h.acked, h.ackedBy, h.observed, h.err = now, from, observed, nil
	h.waiting, h.misses = false, 0
	h.timer.Reset(c.refreshInterval())
	if !h.inserted {
		h.inserted, h.first = true, now
		close(h.firstAck)
	}
}

// follow handles a cache hint, from a known server, naming server for h's
// id: when h's trigger lives on another server (a server joined in front of
// it and the trigger was handed over, or one took it over: the old or the
// new owner tells, server/handover.go), h is inserted at server at once
// rather than at its next refresh. Behind a NAT that is what opens the
// mapping toward the server that now delivers to this client. The copy on
// the old server is left to expire. Nothing moves while an insertion or
// refresh is being prepared (it goes where the hint says) or is unanswered
// (its answer or its retry settles where the trigger lives), nor more than
// once per RetryInterval; the server hinted at challenges the insertion like
// any other. It reports whether h moved.
func (h *Handle) follow(server netip.AddrPort) bool {
	c := h.c
	now := c.clock.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.removed || !h.inserted || h.waiting || h.firing || h.ackedBy == server ||
		(!h.followed.IsZero() && now.Sub(h.followed) < c.cfg.RetryInterval) {
		return false
	}
	h.followed = now
	h.timer.Reset(0)
	return true
}

// onChallenge handles TRIGGER_CHALLENGE: it echoes the server's nonce at once.
func (h *Handle) onChallenge(nonce [wire.NonceLen]byte) bool {
	h.mu.Lock()
	if h.removed || h.budget <= 0 {
		h.mu.Unlock()
		return false
	}
	h.budget--
	h.wt.Nonce = nonce
	p, server := h.packetLocked(wire.OptTriggerInsert, wire.SigInsert)
	h.waiting = true
	h.mu.Unlock()
	return h.c.sendControl(&p, server) == nil
}

// onRefused handles a refusal of this trigger.
func (h *Handle) onRefused(e *RefusedError) {
	c := h.c
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.removed {
		return
	}
	h.err = e
	if !h.inserted {
		select {
		case h.refused <- e:
		default:
		}
		return
	}
	// Refused on refresh (rate limit, table full): try again a refresh
	// interval later rather than every RetryInterval.
	h.timer.Reset(c.refreshInterval())
}

// Remove removes the trigger: it stops the refreshes and sends TRIGGER_REMOVE
// (signed for public ids) to the server that holds it. The protocol
// acknowledges no removal; a lost one leaves the trigger to expire after
// TriggerTTL. Removing twice is a no-op.
func (h *Handle) Remove(ctx context.Context) error {
	h.mu.Lock()
	if h.removed {
		h.mu.Unlock()
		return nil
	}
	h.removed = true
	h.timer.Stop()
	p, server := h.packetLocked(wire.OptTriggerRemove, wire.SigRemove)
	h.mu.Unlock()
	h.c.dropHandle(h)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("client: remove %s: %w", h.t.ID.Short(), err)
	}
	if err := h.c.sendControl(&p, server); err != nil {
		return fmt.Errorf("client: remove %s: %w", h.t.ID.Short(), err)
	}
	return nil
}

// Trigger returns the trigger h refreshes.
func (h *Handle) Trigger() Trigger {
	t := h.t
	t.Target = append([]id.ID(nil), h.t.Target...)
	return t
}

// TriggerState is what a Handle knows of its trigger.
type TriggerState struct {
	// Inserted is when the first ACK came; Acked when the last one came, and
	// Server the server that sent it.
	Inserted, Acked time.Time
	Server          netip.AddrPort
	// Err is why the last insertion or refresh failed (a *RefusedError, or no
	// answer); nil after an ACK.
	Err error
	// Lapsed reports no ACK for longer than Config.TriggerTTL: the server has
	// probably dropped the trigger, and packets to it are being lost until a
	// refresh gets through.
	Lapsed bool
	// Removed reports that Remove or Client.Close stopped the refreshes.
	Removed bool
}

// State returns what h knows of its trigger.
func (h *Handle) State() TriggerState {
	now := h.c.clock.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	return TriggerState{
		Inserted: h.first,
		Acked:    h.acked,
		Server:   h.ackedBy,
		Err:      h.err,
		Lapsed:   h.inserted && now.Sub(h.acked) > h.c.cfg.TriggerTTL,
		Removed:  h.removed,
	}
}

// stop ends h's refreshes without removing the trigger (Close).
func (h *Handle) stop() {
	h.mu.Lock()
	h.removed = true
	if h.timer != nil {
		h.timer.Stop()
	}
	h.mu.Unlock()
}

// drop stops h and forgets it (a failed Insert).
func (h *Handle) drop() {
	h.stop()
	h.c.dropHandle(h)
}

func (c *Client) dropHandle(h *Handle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.handles[h.t.ID]
	for i, x := range l {
		if x == h {
			l = append(l[:i:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(c.handles, h.t.ID)
	} else {
		c.handles[h.t.ID] = l
	}
}

// allHandles returns every handle of the client.
func (c *Client) allHandles() []*Handle {
	c.mu.Lock()
	defer c.mu.Unlock()
	var hs []*Handle
	for _, l := range c.handles {
		hs = append(hs, l...)
	}
	return hs
}

// handlesFor appends to dst the handles an ACK or CHALLENGE for t is about:
// same id, prefix length and target (any IP target: the first server may have
// replaced ours with the address it saw, paper §5.1). With t nil, every
// handle on x. It reads h.t, which is fixed at Insert, not h.wt, which the
// handle's timer rewrites under h.mu.
func (c *Client) handlesFor(dst []*Handle, x id.ID, t *wire.Trigger) []*Handle {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.handles[x] {
		if t != nil {
			ipTarget := len(h.t.Target) == 0
			if uint16(h.t.PrefixLen) != t.PrefixLen || ipTarget != t.Target.IsIP() ||
				(!ipTarget && wire.StackAddr(h.t.Target...) != t.Target) {
				continue
			}
		}
		dst = append(dst, h)
	}
	return dst
}

// refreshInterval draws the time to the next refresh.
func (c *Client) refreshInterval() time.Duration {
	lo, hi := c.cfg.RefreshMin, c.cfg.RefreshMax
	return lo + rand.N(hi-lo+1)
}

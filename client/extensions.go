package client

// Extensions, server by server. An original 2004 server drops every datagram
// that carries one of i3net's extension options ("Invalid packet: -7", see
// docs/wire.md), so the client adds EXT_HELLO and EXT_PADDING to a request
// only for a server that has shown it speaks them: it answered a server list
// request (EXT_SERVER_LIST) or sent an EXT_ERROR. The server list request is
// the probe: the discovery rounds send it, and Insert sends it to a server it
// knows nothing about yet and waits up to RetryInterval for the answer, so the
// first insertion at an i3net server still carries EXT_HELLO (and comes back
// refused with a reason), and the first at an original server goes out
// without extensions one RetryInterval later. Signed requests (public ids)
// carry their extensions whatever the server: they cannot work without them.

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/i3net/i3net/id"
)

// maxExtProbed bounds the servers probed for extensions that are remembered;
// past it the record of probes starts afresh (only delays the next one).
const maxExtProbed = 4096

// extState records which servers speak i3net's extensions.
type extState struct {
	mu      sync.Mutex
	speaks  map[netip.AddrPort]bool      // answered with an extension
	probed  map[netip.AddrPort]time.Time // last server list request sent (real time)
	changed chan struct{}                // closed and replaced when a server is confirmed
}

// extFor reports whether requests to server carry the extensions.
func (c *Client) extFor(server netip.AddrPort) bool {
	if c.cfg.NoExtensions {
		return false
	}
	e := &c.ext
	e.mu.Lock()
	ok := e.speaks[server]
	e.mu.Unlock()
	return ok
}

// extConfirmed records that server answered with an extension.
func (c *Client) extConfirmed(server netip.AddrPort) {
	e := &c.ext
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.speaks[server] {
		return
	}
	if e.speaks == nil {
		e.speaks = make(map[netip.AddrPort]bool)
	}
	e.speaks[server] = true // bounded: only known servers confirm (recv.go)
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
}

// extProbed records that a server list request went to server now.
func (c *Client) extProbed(server netip.AddrPort) {
	if c.cfg.NoExtensions {
		return
	}
	e := &c.ext
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.probed == nil || len(e.probed) >= maxExtProbed {
		e.probed = make(map[netip.AddrPort]time.Time)
	}
	e.probed[server] = time.Now()
}

// lastProbe returns when the last server list request went to server.
func (c *Client) lastProbe(server netip.AddrPort) (time.Time, bool) {
	e := &c.ext
	e.mu.Lock()
	defer e.mu.Unlock()
	last, ok := e.probed[server]
	return last, ok
}

// probeExtensions sends server a server list request, which only a server
// speaking the extensions answers, unless one went there within
// RetryInterval.
func (c *Client) probeExtensions(server netip.AddrPort) {
	if last, ok := c.lastProbe(server); ok && time.Since(last) < c.cfg.RetryInterval {
		return
	}
	c.sendListRequest(server)
}

// probeExtensionsOnce asks server whether it speaks the extensions unless it
// was ever asked: for the servers hints from an i3net server name, which
// then get the extensions on refreshes too.
func (c *Client) probeExtensionsOnce(server netip.AddrPort) {
	if _, ok := c.lastProbe(server); ok || c.cfg.NoExtensions || c.extFor(server) {
		return
	}
	c.sendListRequest(server)
}

// extWaitChan returns whether server speaks the extensions and, if not yet,
// a channel closed at the next confirmation of any server.
func (c *Client) extWaitChan(server netip.AddrPort) (bool, <-chan struct{}) {
	e := &c.ext
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.speaks[server] {
		return true, nil
	}
	if e.changed == nil {
		e.changed = make(chan struct{})
	}
	return false, e.changed
}

// awaitExtensions finds out, before an insertion at server, whether server
// speaks the extensions: unless it has shown it does, or was asked more than
// RetryInterval ago without answering (an original server), it is asked now
// (or the question in flight is awaited) and the answer awaited until
// RetryInterval after the question, ctx's end or Close.
func (c *Client) awaitExtensions(ctx context.Context, server netip.AddrPort) {
	if c.cfg.NoExtensions || c.extFor(server) {
		return
	}
	last, asked := c.lastProbe(server)
	now := time.Now()
	if asked && now.Sub(last) >= c.cfg.RetryInterval {
		return // asked before and silent: the list rounds ask again
	}
	if !asked {
		c.sendListRequest(server) // records the probe
		last = now
	}
	t := time.NewTimer(max(0, c.cfg.RetryInterval-time.Since(last)))
	defer t.Stop()
	for range 64 { // each turn is a confirmation of some server
		ok, ch := c.extWaitChan(server)
		if ok {
			return
		}
		select {
		case <-ch:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		case <-c.done:
			return
		}
	}
}

// awaitInsertPath prepares an insertion of x: it finds out whether the first
// hop speaks the extensions (hint requests are padded only then, and an
// i3net server answers no shorter one), asks for the hint behind a NAT
// (awaitHint), and finds out for the server the hint names too.
func (c *Client) awaitInsertPath(ctx context.Context, x id.ID) {
	c.awaitExtensions(ctx, c.servers.firstHop())
	c.awaitHint(ctx, x)
	if server, ok := c.cache.lookup(x, c.clock.Now()); ok {
		c.awaitExtensions(ctx, server)
	}
}

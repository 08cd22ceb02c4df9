package client

import (
	"testing"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/server/servertest"
	"github.com/i3net/i3net/wire"
)

// TestHandlesForWhileRefreshing: the receive loop matches an ACK or a
// CHALLENGE to its handles (handlesFor, under the client's lock) while a
// handle's timer builds its next insertion (packetLocked, under the handle's
// lock, which rewrites the trigger's IP target). Run with -race: the match
// must not read what the timer writes.
func TestHandlesForWhileRefreshing(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	c, _ := newClient(t, srv.Addr(), nil)
	x := id.Random()
	h := insert(t, c, Trigger{ID: x})
	h.mu.Lock()
	wt := h.wt
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			h.mu.Lock()
			h.packetLocked(wire.OptTriggerInsert, wire.SigInsert)
			h.mu.Unlock()
		}
	}()
	for range 200 {
		if hs := c.handlesFor(nil, x, &wt); len(hs) != 1 || hs[0] != h {
			t.Fatalf("handlesFor found %d handles for the trigger", len(hs))
		}
	}
	<-done
}

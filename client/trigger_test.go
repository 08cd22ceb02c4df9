package client

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server"
	"github.com/i3net/i3net/server/servertest"
	"github.com/i3net/i3net/wire"
)

// TestExpiry: a trigger that is not refreshed expires at the server after its
// TTL: packets are no longer delivered and the sender hears NOT_PRESENT. The
// client's clock is a fake that never moves (so it never refreshes); the
// server's is a fake advanced past the TTL.
func TestExpiry(t *testing.T) {
	checkLeaks(t)
	sclock := clock.NewFake()
	srv := servertest.Start(t, func(c *server.Config) { c.Clock = sclock })
	frozen := func(c *Config) { c.Clock = clock.NewFake() }
	recv, in := newClient(t, srv.Addr(), frozen)
	send, sin := newClient(t, srv.Addr(), frozen)

	x := id.Random()
	insert(t, recv, Trigger{ID: x})
	if err := send.SendTo(x, payload("before")); err != nil {
		t.Fatal(err)
	}
	in.next(t, "before expiry")

	sclock.Advance(server.TestConfig().TriggerTTL + time.Second)
	// The server may expire triggers from a timer the advance started:
	// retry until the id is reported missing.
	testwait.For(t, "NOT_PRESENT after the TTL", func() bool {
		if err := send.SendTo(x, payload("after")); err != nil {
			t.Fatal(err)
		}
		select {
		case e := <-sin.events:
			return e.Kind == EventNotPresent && e.ID == x && e.Server == srv.Addr()
		case <-time.After(50 * time.Millisecond):
			return false
		}
	})
	// Drain what may have been delivered before the expiry took effect; after
	// a NOT_PRESENT nothing more may come.
	for len(in.data) > 0 {
		<-in.data
	}
	if err := send.SendTo(x, payload("after, again")); err != nil {
		t.Fatal(err)
	}
	sin.nextEvent(t, EventNotPresent, "second packet after the TTL")
	in.empty(t, "after expiry")
	if send.Stats().NotPresent == 0 {
		t.Error("NotPresent not counted")
	}
}

// TestRemove: after Remove, packets to the id are reported not present.
func TestRemove(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	recv, in := newClient(t, srv.Addr(), nil)
	send, sin := newClient(t, srv.Addr(), nil)
	x := id.Random()
	h := insert(t, recv, Trigger{ID: x})
	send.SendTo(x, payload("one"))
	in.next(t, "before Remove")

	if err := h.Remove(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !h.State().Removed {
		t.Error("state not Removed")
	}
	// Remove is not acknowledged: send until the server reports the id gone.
	testwait.For(t, "NOT_PRESENT after Remove", func() bool {
		send.SendTo(x, payload("two"))
		select {
		case e := <-sin.events:
			return e.Kind == EventNotPresent && e.ID == x
		case <-time.After(20 * time.Millisecond):
			return false
		}
	})
	for len(in.data) > 0 {
		<-in.data
	}
	send.SendTo(x, payload("three"))
	sin.nextEvent(t, EventNotPresent, "after Remove")
	in.empty(t, "after Remove")
	if err := h.Remove(context.Background()); err != nil {
		t.Errorf("second Remove: %v", err)
	}
}

// TestPublicID: a public id is inserted signed with Config.Identity and
// works; without an Identity the insertion fails at once, saying why; with
// a key that is not the id's, the server refuses it and the refusal's reason
// (EXT_ERROR) comes back as a *RefusedError and an event.
func TestPublicID(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	pub, priv, _ := ed25519.GenerateKey(nil)
	x := id.FromPublicKey(pub)

	owner, in := newClient(t, srv.Addr(), func(c *Config) { c.Identity = priv })
	h := insert(t, owner, Trigger{ID: x})
	send, _ := newClient(t, srv.Addr(), nil)
	send.SendTo(x, payload("public"))
	if d := in.next(t, "public id"); d.ID != x || string(d.Payload) != "public" {
		t.Fatalf("got %+v", d)
	}
	if err := h.Remove(context.Background()); err != nil {
		t.Fatal(err)
	}

	t.Run("no identity", func(t *testing.T) {
		c, _ := newClient(t, srv.Addr(), nil)
		_, err := c.Insert(context.Background(), Trigger{ID: x})
		if err == nil || !strings.Contains(err.Error(), "Config.Identity is not set") || !strings.HasPrefix(err.Error(), "client: insert ") {
			t.Fatalf("Insert without identity: %v", err)
		}
	})

	t.Run("refused", func(t *testing.T) {
		_, other, _ := ed25519.GenerateKey(nil)
		c, cin := newClient(t, srv.Addr(), func(c *Config) { c.Identity = other })
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		start := time.Now()
		_, err := c.Insert(ctx, Trigger{ID: x})
		var re *RefusedError
		if !errors.As(err, &re) {
			t.Fatalf("Insert with the wrong key: %v, want a *RefusedError", err)
		}
		if re.Code != wire.ErrCodeBadSignature || re.ID != x || re.Server != srv.Addr() {
			t.Fatalf("refusal %+v", re)
		}
		if !strings.Contains(err.Error(), "bad signature") || !strings.HasPrefix(err.Error(), "client: ") {
			t.Fatalf("error text %q does not give the reason", err)
		}
		if time.Since(start) > waitLong/2 {
			t.Errorf("refusal took %v: it should end Insert at once", time.Since(start))
		}
		if e := cin.nextEvent(t, EventRefused, "refusal event"); e.Code != wire.ErrCodeBadSignature {
			t.Errorf("event %+v", e)
		}
		t.Logf("refusal: %v", err)
	})
}

// TestInsertNoAnswer: with no server, Insert ends with ctx, wrapping
// ErrNoAnswer and naming the server.
func TestInsertNoAnswer(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	addr := srv.Addr()
	srv.Stop()
	c, _ := newClient(t, addr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.Insert(ctx, Trigger{ID: id.Random()})
	if !errors.Is(err, ErrNoAnswer) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), addr.String()) {
		t.Fatalf("Insert: %v", err)
	}
	if c.Stats().Control < 2 {
		t.Errorf("the insertion was not retried: %+v", c.Stats())
	}
	t.Logf("Insert: %v", err)
}

// TestServerRestart: a server restarted on the same address has lost every
// trigger; the client's next refresh meets a challenge, answers it, and
// delivery resumes without the application doing anything.
func TestServerRestart(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	recv, in := newClient(t, srv.Addr(), nil)
	send, _ := newClient(t, srv.Addr(), nil) // a separate sender: recovery is the refresh's doing alone
	x := id.Random()
	h := insert(t, recv, Trigger{ID: x})
	send.SendTo(x, payload("before"))
	in.next(t, "before restart")
	challenges := recv.Stats().Challenges

	srv.Restart()
	restarted := time.Now()
	var took time.Duration
	testwait.For(t, "delivery after the restart", func() bool {
		send.SendTo(x, payload("after"))
		select {
		case d := <-in.data:
			took = time.Since(restarted)
			return string(d.Payload) == "after"
		case <-time.After(10 * time.Millisecond):
			return false
		}
	})
	st := h.State()
	if !st.Acked.After(restarted) || st.Err != nil {
		t.Errorf("state after recovery: %+v", st)
	}
	if recv.Stats().Challenges <= challenges {
		t.Error("the new server's challenge was not answered")
	}
	cfg := recv.cfg
	t.Logf("delivery resumed %v after the restart (refresh every %v–%v)", took.Round(time.Millisecond), cfg.RefreshMin, cfg.RefreshMax)
	if took > cfg.RefreshMax+cfg.RetryInterval+time.Second {
		t.Errorf("recovery took %v, more than a refresh interval and a retry", took)
	}
}

// TestRefreshKeepsTrigger: over several TTLs, refreshes keep the trigger alive
// (fake clocks on both sides, advanced together).
func TestRefreshKeepsTrigger(t *testing.T) {
	checkLeaks(t)
	ttl := server.TestConfig().TriggerTTL
	clk := clock.NewFake()
	srv := servertest.Start(t, func(c *server.Config) { c.Clock = clk })
	recv, in := newClient(t, srv.Addr(), func(c *Config) {
		c.Clock = clk
		c.TriggerTTL = ttl
		c.RefreshMin, c.RefreshMax = ttl/4, ttl/3
		c.RetryInterval = ttl / 8
	})
	send, _ := newClient(t, srv.Addr(), nil)
	x := id.Random()
	h := insert(t, recv, Trigger{ID: x})
	acks := recv.Stats().Acks
	step := recv.cfg.RefreshMax
	for i := range 8 { // about three TTLs
		clk.Advance(step)
		want := acks + uint64(i) + 1
		testwait.For(t, "refresh acknowledged", func() bool { return recv.Stats().Acks >= want })
	}
	send.SendTo(x, payload("still there"))
	if d := in.next(t, "after three TTLs"); string(d.Payload) != "still there" {
		t.Fatalf("got %+v", d)
	}
	if st := h.State(); st.Lapsed || st.Err != nil {
		t.Errorf("state %+v", st)
	}
}

// TestHandlesForWhileRefreshing: the receive loop matches an ACK or a
// CHALLENGE to its handles (handlesFor, under the client's lock) while a
// handle's timer builds its next insertion (packetLocked, under the handle's
// lock, which rewrites the trigger's IP target). Run with -race: the match
// must not read what the timer writes.
func TestHandlesForWhileRefreshing(t *testing.T) {
	x := id.Random()
	c, _ := newClient(t, servertest.Start(t, nil).Addr(), nil)
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

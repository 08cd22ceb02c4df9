package client

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/server/servertest"
)

// TestPing: the server echoes ping datagrams; PingID goes round through a
// trigger of this client; an id without a trigger fails fast with
// ErrNotPresent; a silent address ends with ErrNoAnswer.
func TestPing(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	c, in := newClient(t, srv.Addr(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()

	rtt, err := c.Ping(ctx, srv.Addr())
	if err != nil || rtt <= 0 {
		t.Fatalf("Ping: %v, %v", rtt, err)
	}
	p, err := c.PingServer(ctx, srv.Addr(), 100)
	if err != nil || p.Bytes != 100 || p.From != srv.Addr() {
		t.Fatalf("PingServer: %+v, %v", p, err)
	}

	x := id.Random()
	insert(t, c, Trigger{ID: x})
	p, err = c.PingID(ctx, x, 64)
	if err != nil || p.Bytes != 64 || p.From != srv.Addr() || p.RTT <= 0 {
		t.Fatalf("PingID: %+v, %v", p, err)
	}
	t.Logf("server echo %v, through a trigger %v", rtt, p.RTT)
	in.empty(t, "PingID replies must not reach the handler")

	start := time.Now()
	_, err = c.PingID(ctx, id.Random(), 0)
	if !errors.Is(err, ErrNotPresent) || time.Since(start) > waitLong/2 {
		t.Fatalf("PingID of an id without trigger: %v after %v", err, time.Since(start))
	}

	silent := listenLoopback(t)
	sctx, scancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer scancel()
	if _, err := c.Ping(sctx, addrOf(silent)); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("Ping of a silent address: %v", err)
	}
}

package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// blockWait bounds each step of TestBlockUnblockRunningPing: the proxies
// reload their books every 2 s, and a refused handshake gives up after the
// handshake timeout (10 s by default).
const blockWait = 60 * time.Second

// TestBlockUnblockRunningPing is the scenario of issue 9's bug 6, with real
// programs and the real CLI: a ping from laptop to home.i3 runs the whole
// time (it looked the name up once, at its start); "i3net book block laptop"
// on home cuts it (home removes the private trigger it gave laptop, refuses
// laptop's handshakes, and laptop marks home unreachable); "i3net book
// unblock laptop" restores it: laptop's next packets handshake again and the
// echoes come back, with no new lookup. Before the fix the failed handshake
// had forgotten home's mapping and the ping never resumed. Echo replies are
// counted by laptop's proxy (its peer's rx_packets): ping's own output is
// buffered until it exits.
func TestBlockUnblockRunningPing(t *testing.T) {
	t.Parallel()
	needProgram(t, "ping")
	w := newWorld(t, topoOptions{})
	pinger := startDaemon(t, w.laptop.Host, "ping", "-n", "-i", "0.2", "home.i3")

	echoes := func() (uint64, string) {
		st := w.laptop.mustStatus(t)
		p, ok := peerNamed(st, "home")
		if !ok {
			return 0, "no peer home"
		}
		return p.RxPackets, p.State
	}
	waitEchoes := func(what string, more uint64) uint64 {
		t.Helper()
		from, _ := echoes()
		err := poll(blockWait, func() error {
			if n, state := echoes(); n < from+more {
				return fmt.Errorf("%d echoes since %s began, want %d (home %s)", n-from, what, more, state)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v\nping: %s", what, err, tail(pinger.Output(), 512))
		}
		n, _ := echoes()
		return n
	}
	waitEchoes("the ping", 5)

	book := func(verb string) {
		t.Helper()
		if _, err := w.i3net(context.Background(), "book", verb, "laptop", "--state-dir", w.home.dir); err != nil {
			t.Fatal(err)
		}
	}
	book("block")
	err := poll(blockWait, func() error {
		if st := w.laptop.mustStatus(t); st.Counters["handshakes_failed"] == 0 {
			return errors.New("laptop has not given up on home")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after block: %v", err)
	}
	cut, state := echoes()
	// unreachable, or already connecting again: the running ping retries
	// retryAfterFailure (2 s) after the failure, and on a busy machine the
	// poll can read the state after that.
	if state != "unreachable" && state != "connecting" {
		t.Errorf("after block, laptop shows home %q, want unreachable (or connecting again)", state)
	}
	if n, _ := echoes(); n != cut {
		t.Fatalf("%d echoes came back while laptop was blocked", n-cut)
	}
	book("unblock")
	back := waitEchoes("unblock", 5)
	_, state = echoes()
	t.Logf("blocked at %d echoes; %d echoes after unblock, home %s", cut, back-cut, state)

	if err := pinger.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-pinger.Done():
	case <-time.After(blockWait):
		t.Fatal("ping did not exit after SIGINT")
	}
	if out := string(pinger.Output()); !strings.Contains(out, "packets transmitted") {
		t.Errorf("ping printed no summary: %s", tail(pinger.Output(), 512))
	}
}

// poll checks cond every 100 ms until it returns nil or d has passed.
func poll(d time.Duration, cond func() error) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return netlab.Poll(ctx, 100*time.Millisecond, cond)
}

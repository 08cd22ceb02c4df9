package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/internal/netlab"
)

// anycastMoveWithin is how soon after a middlebox dies new flows must go
// through the other member of its anycast group (the issue: 2 s).
const anycastMoveWithin = 2 * time.Second

// TestMiddleboxAnycast runs two middleboxes with one identity as an anycast
// group (mb-a, mb-b; §6.4) that home imposes, starts a slow download from
// home to laptop, kills the middlebox carrying it with SIGKILL, and
// measures how long after the kill a new connection (a new curl) gets
// through: it must, through the other member, within 2 s.
func TestMiddleboxAnycast(t *testing.T) {
	needProgram(t, "curl", "python3")
	t.Parallel()
	mw := newMiddleboxWorld(t)
	a := mw.addMiddlebox("mba", "mb-a", false)
	b := mw.addMiddlebox("mbb", "mb-b", false)
	w := mw.world
	dir := startHTTPServer(t, w.home.Host, 80)
	writeFile(t, filepath.Join(dir, "small"), []byte("small\n"), 0o644)
	big := make([]byte, 16<<20)
	rand.Read(big)
	writeFile(t, filepath.Join(dir, "big"), big, 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mustRun(t, ctx, w.laptop.Host, "curl", "-sS", "--fail", "-m", "20", "-o", "/dev/null", "http://home.i3/small")

	// A download that lasts (1 MB/s), and the member that carries it.
	dl := w.laptop.Exec(ctx, "curl", "-sS", "--fail", "--limit-rate", "1M", "-o", "/dev/null", "-w", "%{size_download}", "http://home.i3/big")
	var dlOut []byte
	dlDone := make(chan error, 1)
	go func() {
		var err error
		dlOut, err = dl.CombinedOutput()
		dlDone <- err
	}()
	carrier, other := carrierOf(t, a, b)
	t.Logf("the download goes through %s (forwarded counters: %s %d, %s %d)", carrier.Name(),
		a.Name(), a.counter("forwarded"), b.Name(), b.counter("forwarded"))
	otherBefore := other.counter("forwarded")

	carrier.kill()
	killed := time.Now()
	var tries int
	var lastOut string
	var startOK, connected time.Time
	err := netlab.Poll(ctx, 20*time.Millisecond, func() error {
		tries++
		start := time.Now()
		out, err := w.laptop.Run(ctx, "curl", "-sS", "--fail", "--connect-timeout", "0.5", "-m", "1",
			"-o", "/dev/null", "-w", "%{time_connect}", "http://home.i3/small")
		if err != nil {
			lastOut = string(out)
			return err
		}
		secs, perr := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		if perr != nil {
			return fmt.Errorf("curl's time_connect %q: %w", out, perr)
		}
		startOK, connected = start, start.Add(time.Duration(secs*float64(time.Second)))
		return nil
	})
	took := time.Since(killed)
	for _, n := range []*node{w.laptop, w.home} {
		c := n.mustMBStatus(t).Counters
		t.Logf("%s: middlebox_failovers %d, gateway_probes %d", n.Name(), c["middlebox_failovers"], c["gateway_probes"])
	}
	if err != nil {
		t.Fatalf("no new connection got through in the %d tries after %s was killed: %v (%s)\n%s",
			tries, carrier.Name(), err, lastOut, tail(other.proc.Output(), 2048))
	}
	// The connection's own time (curl's time_connect, from its start)
	// leaves out what the harness takes to start curl and to see it end.
	t.Logf("after kill -9 of %s: the first new connection that got through started %v after the kill, was established %v after it and ended %v after it (%d tries)",
		carrier.Name(), startOK.Sub(killed).Round(time.Millisecond), connected.Sub(killed).Round(time.Millisecond),
		took.Round(time.Millisecond), tries)
	if d := connected.Sub(killed); d > anycastMoveWithin {
		t.Errorf("a new connection was established %v after the kill, want within %v", d.Round(time.Millisecond), anycastMoveWithin)
	}
	if n := other.counter("forwarded"); n <= otherBefore {
		t.Errorf("%s forwarded nothing more after the kill (%d): the new connections did not go through it", other.Name(), n)
	}
	select {
	case err := <-dlDone:
		t.Logf("the download cut by the kill: %v, %s bytes", err, dlOut)
	case <-time.After(30 * time.Second):
		t.Logf("the download cut by the kill goes on (1 MB/s): stopped with the test")
	}
}

// carrierOf waits, bounded, until one of two middleboxes forwards while the
// other stays idle, and returns it and the other.
func carrierOf(t *testing.T, a, b *middleboxNode) (carrier, other *middleboxNode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a0, b0 := a.counter("forwarded"), b.counter("forwarded")
	const enough = 200 // frames: the download, not a keepalive
	err := netlab.Poll(ctx, 50*time.Millisecond, func() error {
		da, db := a.counter("forwarded")-a0, b.counter("forwarded")-b0
		switch {
		case da >= enough && db < enough:
			carrier, other = a, b
		case db >= enough && da < enough:
			carrier, other = b, a
		default:
			return fmt.Errorf("forwarded since the download started: %s %d, %s %d", a.Name(), da, b.Name(), db)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("no single middlebox carries the download: %v", err)
	}
	return carrier, other
}

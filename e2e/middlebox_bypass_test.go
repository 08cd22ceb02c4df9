package e2e

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/proxy/session"
	"github.com/i3net/i3net/wire"
)

// testMiddleboxBypass plays a peer that skips the middlebox: it captures, on
// the middlebox's host, a frame the overlay delivers there for home (stack
// [the middlebox's trigger for home, home's private id for laptop], the frame
// before the middlebox tags it), and a program on a third host, mallory,
// sends that frame with the native client straight to home's private id.
// Home must drop it and count it (drop_bypassed), where the same frames
// through the middlebox passed.
func testMiddleboxBypass(t *testing.T, mw *mbWorld, ids *middleboxNode) {
	w := mw.world
	before := w.home.mustMBStatus(t).Counters["drop_bypassed"]
	if before != 0 {
		t.Errorf("home counts %d bypassed frames before any bypass: frames that came through the middlebox were refused", before)
	}
	home4 := w.home.derived4()
	toHome := func(ip []byte) bool { return len(ip) >= 20 && netip.AddrFrom4([4]byte(ip[16:20])) == home4 }
	priv, frame := captureDelivery(t, ids, w.srvAddr, toHome, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		mustRun(t, ctx, w.laptop.Host, "curl", "-sS", "--fail", "-m", "20", "-o", "/dev/null", "http://home.i3/ids-probe")
	})
	t.Logf("captured on %s: a %d-byte plaintext frame for home's private id %v", ids.Name(), len(frame), priv)

	mallory := w.lab.Host("mallory")
	c := overlayClient(t, mallory, w.srvAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sent := 0
	err := netlab.Poll(ctx, 100*time.Millisecond, func() error {
		if err := c.SendTo(priv, frame); err != nil {
			return err
		}
		sent++
		st, err := w.home.mbStatus(ctx)
		if err != nil {
			return err
		}
		if n := st.Counters["drop_bypassed"]; n <= before {
			return fmt.Errorf("drop_bypassed is %d", n)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("home did not count the frame mallory sent straight to its private id (%d sent): %v", sent, err)
	}
	after := w.home.mustMBStatus(t).Counters["drop_bypassed"]
	t.Logf("mallory sent the captured frame %d times straight to home's private id: home's drop_bypassed %d -> %d", sent, before, after)
}

// overlayClient starts a native overlay client (package client) in h, its
// socket in h's namespace, with nothing that would look at the routes of
// this machine's own namespace from another thread (address checks,
// probes, server lists).
func overlayClient(t *testing.T, h *netlab.Host, srv netip.AddrPort) *client.Client {
	t.Helper()
	cfg := client.DefaultConfig()
	cfg.Servers = []netip.AddrPort{srv}
	cfg.AddrCheckInterval, cfg.ProbeInterval, cfg.ListInterval, cfg.NATCheckInterval = -1, -1, -1, -1
	var c *client.Client
	err := h.Do(func() error {
		var err error
		c, err = client.New(cfg)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// captureDelivery opens a packet socket in m's namespace, runs traffic, and
// returns the first packet the overlay server at srv delivered there with a
// plaintext frame whose IP packet want accepts and one id left after the
// matched trigger: that id (the receiving host's private id) and the frame.
func captureDelivery(t *testing.T, m *middleboxNode, srv netip.AddrPort, want func(ip []byte) bool, traffic func()) (id.ID, []byte) {
	t.Helper()
	f := packetSocket(t, m.Host)
	traffic()
	if err := f.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	for range 100000 {
		n, err := f.Read(buf)
		if err != nil {
			t.Fatalf("no plaintext frame from %v delivered on %s: %v", srv, m.Name(), err)
		}
		payload, ok := udpFrom(buf[:n], srv)
		if !ok {
			continue
		}
		var p wire.Packet
		if p.Decode(payload) != nil || p.Stack.N != 2 {
			continue
		}
		fr, err := session.ParseFrame(p.Payload)
		if err != nil || fr.Type != session.TypePlaintext || !want(fr.Body) {
			continue
		}
		return p.Stack.IDs[1], append([]byte(nil), p.Payload...)
	}
	t.Fatalf("no plaintext frame from %v among 100000 packets on %s", srv, m.Name())
	return id.ID{}, nil
}

// packetSocket opens an AF_PACKET datagram socket (IP packets, every
// interface, both ways) in h, closed with the test.
func packetSocket(t *testing.T, h *netlab.Host) *os.File {
	t.Helper()
	const ethPAll = 0x0003
	proto := int(ethPAll>>8 | ethPAll&0xff<<8) // network byte order
	var f *os.File
	err := h.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		f = os.NewFile(uintptr(fd), "packet socket")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// udpFrom returns the UDP payload of an IPv4 packet sent from src.
func udpFrom(pkt []byte, src netip.AddrPort) ([]byte, bool) {
	if len(pkt) < 28 || pkt[0]>>4 != 4 || pkt[9] != 17 {
		return nil, false
	}
	ihl := int(pkt[0]&0x0f) * 4
	if ihl < 20 || len(pkt) < ihl+8 {
		return nil, false
	}
	from := netip.AddrFrom4([4]byte(pkt[12:16]))
	udp := pkt[ihl:]
	if from != src.Addr() || binary.BigEndian.Uint16(udp[0:]) != src.Port() {
		return nil, false
	}
	end := int(binary.BigEndian.Uint16(udp[4:]))
	if end < 8 || end > len(udp) {
		return nil, false
	}
	return udp[8:end], true
}

package proxy

import (
	"context"
	"io"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// joinStacks joins two stacks back to back: what one sends, the other receives.
func joinStacks(t *testing.T, a, b *netstack) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.run(ctx, b.inject) })
	wg.Go(func() { b.run(ctx, a.inject) })
	t.Cleanup(func() { cancel(); wg.Wait(); a.close(); b.close() })
}

// TestNetstackPair: a TCP connection between two stacks joined by their
// packets, over IPv4 and IPv6, carries bytes both ways.
func TestNetstackPair(t *testing.T) {
	a4, a6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	b4, b6 := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::2")
	a, err := newNetstack(1360, a4, a6)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newNetstack(1360, b4, b6)
	if err != nil {
		t.Fatal(err)
	}
	joinStacks(t, a, b)
	for _, server := range []netip.AddrPort{netip.AddrPortFrom(b4, 7), netip.AddrPortFrom(b6, 7)} {
		ln, err := b.listenTCP(server)
		if err != nil {
			t.Fatal(err)
		}
		go func() { // echo one connection
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			io.Copy(c, c)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := a.dialTCP(ctx, server)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		msg := make([]byte, 100_000) // many segments
		for i := range msg {
			msg[i] = byte(i)
		}
		go c.Write(msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
			t.Fatalf("echo through %v: %v", server, err)
		}
		c.Close()
		ln.Close()
	}
}

// BenchmarkNewNetstack is what the first TCP segment to the DNS service
// address costs, once per proxy run: a stack with both service addresses.
func BenchmarkNewNetstack(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ns, err := newNetstack(1360, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"))
		if err != nil {
			b.Fatal(err)
		}
		ns.close()
	}
}

package proxy_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/proxytest"
)

// Two proxies in userspace mode (no tun device, no root): one resolves the
// other's name and fetches a page from a web server on the other's
// loopback, which it exposes to peers.
func TestUserspaceReachesExposedLoopback(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from b's loopback, you are %s", r.RemoteAddr)
	}))
	defer web.Close()
	port := netip.MustParseAddrPort(web.Listener.Addr().String()).Port()

	o := newOverlay(t)
	a, b := o.host("a"), o.host("b")
	names(t, a, map[string]*host{"b": b})
	names(t, b, map[string]*host{"a": a})
	userspace := func(expose ...uint16) func(*proxy.Config) {
		return func(c *proxy.Config) { c.Tun, c.Userspace, c.Expose = nil, true, expose }
	}
	o.start(b, userspace(port))
	o.start(a, userspace())

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r := a.PX.Router()
	v, err := r.Resolve(ctx, "b.i3")
	if err != nil || !netip.MustParsePrefix("100.64.0.0/10").Contains(v) {
		t.Fatalf("Resolve(b.i3) = %v, %v; want a virtual address", v, err)
	}
	if _, err := r.Resolve(ctx, "nobody.i3"); err == nil || !strings.Contains(err.Error(), "NXDOMAIN") {
		t.Fatalf("Resolve(nobody.i3): err = %v, want NXDOMAIN", err)
	}
	c, err := r.DialTCP(ctx, netip.AddrPortFrom(v, port))
	if err != nil {
		t.Fatalf("dial b.i3:%d: %v", port, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: b.i3\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&body)
	if !strings.Contains(body.String(), "hello from b's loopback") {
		t.Fatalf("body %q", body.String())
	}
}

// A UDP datagram a userspace host's program sends (SOCKS5 UDP ASSOCIATE
// dials this way) reaches a tun-mode peer, from the host's virtual address.
func TestUserspaceUDPReachesPeer(t *testing.T) {
	o := newOverlay(t)
	a, b := o.host("a"), o.host("b")
	names(t, a, map[string]*host{"b": b})
	names(t, b, map[string]*host{"a": a})
	o.start(b, nil)
	o.start(a, func(c *proxy.Config) { c.Tun, c.Userspace = nil, true })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := a.PX.Router().Resolve(ctx, "b.i3")
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.PX.Router().DialUDP(ctx, netip.AddrPortFrom(v, 5353))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello over udp")); err != nil {
		t.Fatal(err)
	}
	p := proxytest.Decode(t, b.Tun.Next(t))
	a4, _ := a.Self()
	if p.IPProto != packet.ProtoUDP || p.Dst.Port() != 5353 || p.Src.Addr() != a4 {
		t.Fatalf("b's tun got %v, want UDP from %v to port 5353", p.String(), a4)
	}
}

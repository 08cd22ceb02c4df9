package proxy

// Userspace mode (Config.Userspace): the proxy's tun device is a TCP/IP stack
// in the process (gVisor's netstack), so it runs without root: no device,
// no routes, no resolver file. The data path is the one the tun mode uses:
// netstack.go's stack sits behind the device of usdev.go, which hands the
// proxy many packets per read. Programs reach it through a local front door
// (proxy/front: SOCKS5 and HTTP proxy) that dials through Router, and peers
// reach the services of this host's loopback on the ports it exposes
// (Expose).

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/internal/splice"
	"github.com/i3net/i3net/proxy/resolvconf"
)

// openNetstack makes the userspace stack that stands for the tun device: it
// owns this host's virtual addresses and sends everything else out through
// the proxy.
func (px *Proxy) openNetstack() error {
	addrs := []netip.Addr{px.own4}
	if px.own6.IsValid() {
		addrs = append(addrs, px.own6)
	}
	ns, err := newHostStack(px.cfg.MTU, addrs...)
	if err != nil {
		return fmt.Errorf("proxy: userspace network stack: %w", err)
	}
	px.tun, px.net = newStackDevice(ns, px.cfg.MTU), ns
	return nil
}

// readResolvConf returns the upstreams (ups, or else the nameservers of the
// resolver file, which userspace mode only reads) and the search domains.
func (px *Proxy) readResolvConf(ups []netip.AddrPort) ([]netip.AddrPort, []string) {
	if px.cfg.ResolvConf == "" {
		return ups, nil
	}
	data, err := os.ReadFile(px.cfg.ResolvConf)
	if err != nil {
		return ups, nil
	}
	rc := resolvconf.Parse(data)
	if len(ups) == 0 {
		for _, a := range rc.Nameservers {
			ups = append(ups, netip.AddrPortFrom(a, 53))
		}
	}
	return ups, rc.Search
}

// Router returns what a front door dials through: names are resolved by this
// proxy's DNS service (overlay names, names the rules send to gateways, and
// the rest through its upstreams), and addresses in the pools go through the
// userspace stack, the rest directly. Only in userspace mode.
func (px *Proxy) Router() Router { return Router{px: px} }

// Router dials for a front door (proxy/front.Router).
type Router struct{ px *Proxy }

// inPools reports whether a is a virtual address of this proxy.
func (px *Proxy) inPools(a netip.Addr) bool {
	return px.cfg.Pool4.Contains(a) || px.cfg.Pool6.IsValid() && px.cfg.Pool6.Contains(a)
}

// Resolve returns the first address of host (an address is itself), asking
// the proxy's DNS service through the userspace stack: A first, then AAAA.
func (r Router) Resolve(ctx context.Context, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap(), nil
	}
	var last error
	for _, qtype := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
		a, err := r.lookup(ctx, host, qtype)
		if err == nil {
			return a, nil
		}
		last = err
	}
	return netip.Addr{}, last
}

// lookup asks the proxy's DNS service for host's records of qtype.
func (r Router) lookup(ctx context.Context, host string, qtype uint16) (netip.Addr, error) {
	if r.px.net == nil {
		return netip.Addr{}, errors.New("proxy: not in userspace mode")
	}
	c, err := r.px.net.dialUDP(netip.AddrPortFrom(r.px.dns4, 53))
	if err != nil {
		return netip.Addr{}, err
	}
	defer c.Close()
	dl, ok := ctx.Deadline()
	if !ok || time.Until(dl) > r.px.cfg.UpstreamTimeout+time.Second {
		dl = time.Now().Add(r.px.cfg.UpstreamTimeout + time.Second)
	}
	c.SetDeadline(dl)
	q := new(mdns.Msg)
	q.SetQuestion(mdns.Fqdn(host), qtype)
	resp, err := exchangeUDP(c, q)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve %s: %w", host, err)
	}
	if resp.Rcode != mdns.RcodeSuccess {
		return netip.Addr{}, fmt.Errorf("resolve %s: %s", host, mdns.RcodeToString[resp.Rcode])
	}
	for _, rr := range resp.Answer {
		switch v := rr.(type) {
		case *mdns.A:
			if a, ok := netip.AddrFromSlice(v.A); ok {
				return a.Unmap(), nil
			}
		case *mdns.AAAA:
			if a, ok := netip.AddrFromSlice(v.AAAA); ok {
				return a, nil
			}
		}
	}
	return netip.Addr{}, fmt.Errorf("resolve %s: no %s record", host, mdns.TypeToString[qtype])
}

// exchangeUDP sends q on c and returns the answer with q's id.
func exchangeUDP(c net.Conn, q *mdns.Msg) (*mdns.Msg, error) {
	b, err := q.Pack()
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(b); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	for range 8 {
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		var m mdns.Msg
		if m.Unpack(buf[:n]) == nil && m.Id == q.Id {
			return &m, nil
		}
	}
	return nil, errors.New("no answer with the query's id")
}

// DialTCP connects to dst: through the overlay when it is a virtual address,
// else directly.
func (r Router) DialTCP(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	if r.px.net != nil && r.px.inPools(dst.Addr()) {
		return r.px.net.dialTCP(ctx, dst)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", dst.String())
}

// DialUDP connects a UDP socket to dst, as DialTCP.
func (r Router) DialUDP(ctx context.Context, dst netip.AddrPort) (net.Conn, error) {
	if r.px.net != nil && r.px.inPools(dst.Addr()) {
		return r.px.net.dialUDP(dst)
	}
	var d net.Dialer
	return d.DialContext(ctx, "udp", dst.String())
}

// expose lets peers reach the services on this host's loopback on the
// configured ports: a listener of the userspace stack on each virtual
// address and port, each connection spliced to 127.0.0.1 (or ::1) there.
func (px *Proxy) expose() error {
	for _, port := range px.cfg.Expose {
		for _, a := range []netip.Addr{px.own4, px.own6} {
			if !a.IsValid() {
				continue
			}
			l, err := px.net.listenTCP(netip.AddrPortFrom(a, port))
			if err != nil {
				return fmt.Errorf("proxy: expose port %d: %w", port, err)
			}
			px.spawn(func() { <-px.ctx.Done(); l.Close() })
			px.spawn(func() { px.acceptExposed(l, port) })
		}
	}
	return nil
}

// acceptExposed carries the connections of one exposed port to the loopback.
func (px *Proxy) acceptExposed(l net.Listener, port uint16) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		if !px.spawn(func() { px.toLoopback(c, port) }) {
			c.Close()
			return
		}
	}
}

// toLoopback splices c to the loopback's port.
func (px *Proxy) toLoopback(c net.Conn, port uint16) {
	defer c.Close()
	var d net.Dialer
	ctx, cancel := context.WithTimeout(px.ctx, 5*time.Second)
	up, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(netip.IPv6Loopback(), port).String())
	if err != nil {
		up, err = d.DialContext(ctx, "tcp", netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port).String())
	}
	cancel()
	if err != nil {
		px.stats.exposeFailed.Add(1)
		return
	}
	defer up.Close()
	stop := context.AfterFunc(px.ctx, func() { c.Close(); up.Close() })
	defer stop()
	splice.Both(c, up)
}

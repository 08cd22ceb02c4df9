package ingress

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/i3net/i3net/ingress/proxyproto"
	"github.com/i3net/i3net/ingress/sniff"
	"github.com/i3net/i3net/internal/splice"
	"github.com/i3net/i3net/proxy/publish"
)

// maxHead is how many bytes of a connection's start the ingress reads to
// find its name (an HTTP request head, a TLS ClientHello).
const maxHead = 16 << 10

// how a connection was routed, for the counters.
type route int

const (
	byHost route = iota
	bySNI
	byHeuristic
)

// accept serves the connections of one waypoint's port until l closes.
func (g *Ingress) accept(l *net.TCPListener, wp netip.AddrPort) {
	defer g.wg.Done()
	for {
		c, err := l.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			g.log.Warn("accept", "waypoint", wp, "err", err)
			if !sleepCtx(g.ctx, 50*time.Millisecond) {
				return
			}
			continue
		}
		g.stats.accepted.Add(1)
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.handle(c, wp)
		}()
	}
}

// handle routes one client connection to its overlay host and carries it.
func (g *Ingress) handle(c *net.TCPConn, wp netip.AddrPort) {
	client := unmapAddrPort(c.RemoteAddr().(*net.TCPAddr).AddrPort())
	if n := g.stats.open.Add(1); n > int64(g.cfg.MaxConns) {
		g.stats.open.Add(-1)
		g.stats.overMax.Add(1)
		refuse(c)
		return
	}
	defer g.stats.open.Add(-1)
	if !g.conns.Allow(client.Addr()) {
		g.stats.rateLimited.Add(1)
		refuse(c)
		return
	}
	br := bufio.NewReaderSize(c, maxHead)
	name, how, ok := g.route(c, br, client.Addr(), wp)
	if !ok {
		refuse(c)
		return
	}
	svc, ok := g.pubs.lookup(name, wp.Port())
	if !ok {
		g.stats.notPublished.Add(1)
		refuse(c)
		return
	}
	g.countRoute(how)
	up, err := g.dial(svc)
	if err != nil {
		g.stats.dialFailed.Add(1)
		g.log.Info("overlay host not reached", "name", name+"."+g.cfg.Zone, "port", wp.Port(), "client", client, "err", err)
		refuse(c)
		return
	}
	g.px.TellFlow(svc.key, publish.Flow{From: uint16(up.LocalAddr().(*net.TCPAddr).Port), Port: wp.Port(),
		Client: client, Waypoint: wp, Name: name + "." + g.cfg.Zone})
	if svc.ProxyProtocol {
		if _, err := up.Write(proxyproto.Header(client, wp)); err != nil {
			up.Close()
			refuse(c)
			return
		}
	}
	g.carry(c, br, up)
}

// route finds the name a connection is for: by its protocol on an HTTP or
// TLS port, else (or when the protocol names nothing of the zone) by the
// heuristic. It reports false, counted, when nothing routes it.
func (g *Ingress) route(c *net.TCPConn, br *bufio.Reader, client netip.Addr, wp netip.AddrPort) (string, route, bool) {
	port := wp.Port()
	var sniffed string
	var how route
	switch {
	case slices.Contains(g.cfg.HTTPPorts, port):
		sniffed, how = g.peek(c, br, sniff.HTTPHost), byHost
	case slices.Contains(g.cfg.TLSPorts, port):
		sniffed, how = g.peek(c, br, sniff.TLSServerName), bySNI
	}
	if rel, ok := g.relative(sniffed); ok {
		g.table.Used(client, wp.Addr(), rel)
		return rel, how, true
	}
	if sniffed != "" {
		g.stats.foreignName.Add(1)
	}
	name, ok := g.table.Claim(client, wp.Addr(), port, g.pubs.serves)
	if !ok {
		g.stats.unrouted.Add(1)
		return "", byHeuristic, false
	}
	return name, byHeuristic, true
}

// peek reads a name from the connection's first bytes with find, waiting
// at most the sniff time-out; "" when there is none.
func (g *Ingress) peek(c *net.TCPConn, br *bufio.Reader, find func(*bufio.Reader, int) (string, error)) string {
	c.SetReadDeadline(time.Now().Add(g.cfg.SniffTimeout))
	defer c.SetReadDeadline(time.Time{})
	name, err := find(br, maxHead)
	if err != nil {
		g.stats.sniffFailed.Add(1)
		return ""
	}
	return name
}

// relative returns name relative to the zone ("home" for
// home.i3.example.net), if it is under it.
func (g *Ingress) relative(name string) (string, bool) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	rel, ok := strings.CutSuffix(name, "."+g.cfg.Zone)
	return rel, ok && rel != ""
}

// dial connects to the service through the ingress's proxy.
func (g *Ingress) dial(svc service) (*net.TCPConn, error) {
	addr, err := g.px.AddressOf(svc.key)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(g.ctx, g.cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(addr, svc.Port).String())
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// carry copies both ways until both sides have finished, passing on
// half-closes; br holds the client's bytes already read.
func (g *Ingress) carry(c *net.TCPConn, br *bufio.Reader, up *net.TCPConn) {
	g.stats.active.Add(1)
	defer g.stats.active.Add(-1)
	stop := context.AfterFunc(g.ctx, func() { c.Close(); up.Close() })
	defer stop()
	head, _ := br.Peek(br.Buffered())
	toHost, toClient := splice.Both(splice.Prefixed(c, head), up)
	g.stats.bytesToHosts.Add(uint64(toHost))
	g.stats.bytesToClients.Add(uint64(toClient))
	c.Close()
	up.Close()
}

// refuse resets a connection (the client sees "connection refused" or
// "reset", at once, not a hang).
func refuse(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

func unmapAddrPort(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// sleepCtx waits d or until ctx ends; it reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

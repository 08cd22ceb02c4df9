package ingress

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"syscall"
)

// listeners are the TCP listeners of the waypoints: the HTTP and TLS ports
// always, and every port a host publishes while one does. A connection to
// a port nobody publishes is refused by the kernel.
type listeners struct {
	g  *Ingress
	mu sync.Mutex
	m  map[netip.AddrPort]net.Listener
}

func newListeners(g *Ingress) *listeners {
	return &listeners{g: g, m: make(map[netip.AddrPort]net.Listener)}
}

// wanted returns the ports to listen on: the HTTP and TLS ports and
// published.
func (ls *listeners) wanted(published []uint16) []uint16 {
	ports := append(append(append([]uint16(nil), ls.g.cfg.HTTPPorts...), ls.g.cfg.TLSPorts...), published...)
	slices.Sort(ports)
	return slices.Compact(ports)
}

// sync listens on every waypoint for the wanted ports and closes the
// listeners of ports no longer wanted. It returns the errors of the
// listeners it could not open (the others serve).
func (ls *listeners) sync(published []uint16) error {
	ports := ls.wanted(published)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for ap, l := range ls.m {
		if !slices.Contains(ports, ap.Port()) {
			l.Close()
			delete(ls.m, ap)
		}
	}
	var errs []error
	for _, wp := range ls.g.cfg.Waypoints {
		for _, port := range ports {
			ap := netip.AddrPortFrom(wp, port)
			if ls.m[ap] != nil {
				continue
			}
			l, err := listen(ap)
			if err != nil {
				if !slices.ContainsFunc(errs, func(e error) bool { return e.Error() == err.Error() }) {
					errs = append(errs, err) // a missing address fails every port alike
				}
				continue
			}
			ls.m[ap] = l
			ls.g.wg.Add(1)
			go ls.g.accept(l.(*net.TCPListener), ap)
		}
	}
	return errors.Join(errs...)
}

// listen opens a TCP listener on ap, with an error that says what to do.
func listen(ap netip.AddrPort) (net.Listener, error) {
	l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(ap))
	switch {
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return nil, fmt.Errorf("ingress: waypoint %v is not an address of this host: add it (ip addr add %v/32 dev IFACE) or remove it from waypoints", ap.Addr(), ap.Addr())
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("ingress: waypoint %v: port %d is used by another program on this host", ap.Addr(), ap.Port())
	case err != nil:
		return nil, fmt.Errorf("ingress: waypoint %v: %w", ap, err)
	}
	return l, nil
}

// closeAll closes every listener.
func (ls *listeners) closeAll() {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for ap, l := range ls.m {
		l.Close()
		delete(ls.m, ap)
	}
}

// addrs returns the addresses listened on, sorted.
func (ls *listeners) addrs() []netip.AddrPort {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var out []netip.AddrPort
	for ap := range ls.m {
		out = append(out, ap)
	}
	slices.SortFunc(out, func(a, b netip.AddrPort) int { return a.Compare(b) })
	return out
}

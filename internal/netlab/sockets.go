package netlab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
)

// Do calls fn on an OS thread that has entered the host's network namespace,
// and returns fn's error. Sockets fn opens belong to the host and stay there
// after Do returns; this is how a test's own Go code listens and dials inside
// the lab without helper programs.
//
// Only fn's own thread is in the namespace: goroutines fn starts, and name
// lookups (which use other goroutines and this machine's resolver), are not.
// Use literal addresses.
func (h *Host) Do(fn func() error) error {
	if err := doIn(h.ns, fn); err != nil {
		return fmt.Errorf("netlab: %s: %w", h.name, err)
	}
	return nil
}

// Listen opens a stream listener ("tcp", "tcp4", "tcp6") inside the host. An
// invalid address in at means every address of the host.
func (h *Host) Listen(network string, at netip.AddrPort) (net.Listener, error) {
	var ln net.Listener
	err := h.Do(func() error {
		var err error
		ln, err = net.Listen(network, hostPort(at))
		return err
	})
	return ln, err
}

// ListenPacket opens a packet socket ("udp", "udp4", "udp6") inside the host;
// the result is a *net.UDPConn. An invalid address in at means every address
// of the host.
func (h *Host) ListenPacket(network string, at netip.AddrPort) (net.PacketConn, error) {
	var pc net.PacketConn
	err := h.Do(func() error {
		var err error
		pc, err = net.ListenPacket(network, hostPort(at))
		return err
	})
	return pc, err
}

// Dial connects from inside the host to the literal address to.
func (h *Host) Dial(ctx context.Context, network string, to netip.AddrPort) (net.Conn, error) {
	var c net.Conn
	err := h.Do(func() error {
		var (
			d   net.Dialer
			err error
		)
		c, err = d.DialContext(ctx, network, to.String())
		return err
	})
	return c, err
}

// hostPort formats at for net.Listen, with an invalid address meaning all.
func hostPort(at netip.AddrPort) string {
	if !at.Addr().IsValid() {
		return fmt.Sprintf(":%d", at.Port())
	}
	return at.String()
}

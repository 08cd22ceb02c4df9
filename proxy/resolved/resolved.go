package resolved

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/godbus/dbus/v5"
)

// D-Bus names of systemd-resolved.
const (
	// BusName is the name resolved owns on the system bus.
	BusName    = "org.freedesktop.resolve1"
	objectPath = "/org/freedesktop/resolve1"
	manager    = "org.freedesktop.resolve1.Manager"
)

// Address families of SetLinkDNS (AF_INET, AF_INET6).
const (
	afInet  = 2
	afInet6 = 10
)

// Registration is the overlay's DNS registered on one link; Revert undoes it.
type Registration struct {
	conn    *dbus.Conn
	ifindex int
}

// Running reports whether systemd-resolved owns its name on the system bus.
// No reachable system bus is false with the error saying why.
func Running() (bool, error) {
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return false, fmt.Errorf("resolved: connect to the D-Bus system bus: %w", err)
	}
	defer conn.Close()
	var owned bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, BusName).Store(&owned); err != nil {
		return false, fmt.Errorf("resolved: ask the system bus whether %s runs: %w", BusName, err)
	}
	return owned, nil
}

// Register gives link ifindex the DNS servers and a routing-only domain
// ~SUFFIX for each of suffixes (several overlays: ~i3 and ~lab), and takes
// it off resolved's default route. On failure it reverts what it did. The
// caller calls Revert when it stops.
func Register(ifindex int, servers []netip.Addr, suffixes ...string) (*Registration, error) {
	domains := make([]linkDomain, 0, len(suffixes))
	for _, s := range suffixes {
		s = strings.Trim(s, ".")
		if s == "" {
			domains = nil
			break
		}
		domains = append(domains, linkDomain{Domain: s, RoutingOnly: true})
	}
	if ifindex <= 0 || len(servers) == 0 || len(domains) == 0 {
		return nil, fmt.Errorf("resolved: register: need a link index (got %d), a DNS server (got %d) and suffixes (got %q)",
			ifindex, len(servers), suffixes)
	}
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		return nil, fmt.Errorf("resolved: connect to the D-Bus system bus: %w", err)
	}
	r := &Registration{conn: conn, ifindex: ifindex}
	if err := r.apply(servers, domains); err != nil {
		return nil, errors.Join(err, r.Revert())
	}
	return r, nil
}

// linkAddr is one entry of SetLinkDNS: a(iay).
type linkAddr struct {
	Family  int32
	Address []byte
}

// linkDomain is one entry of SetLinkDomains: a(sb), true for routing-only.
type linkDomain struct {
	Domain      string
	RoutingOnly bool
}

func (r *Registration) apply(servers []netip.Addr, domains []linkDomain) error {
	addrs := make([]linkAddr, 0, len(servers))
	for _, a := range servers {
		a = a.Unmap()
		fam := int32(afInet)
		if a.Is6() {
			fam = afInet6
		}
		addrs = append(addrs, linkAddr{Family: fam, Address: a.AsSlice()})
	}
	steps := []struct {
		method string
		arg    any
	}{
		{"SetLinkDNS", addrs},
		{"SetLinkDomains", domains},
		{"SetLinkDefaultRoute", false},
	}
	for _, s := range steps {
		if err := r.call(s.method, s.arg); err != nil {
			return err
		}
	}
	return nil
}

func (r *Registration) call(method string, args ...any) error {
	obj := r.conn.Object(BusName, objectPath)
	if err := obj.Call(manager+"."+method, 0, append([]any{int32(r.ifindex)}, args...)...).Err; err != nil {
		return fmt.Errorf("resolved: %s on link %d: %w", method, r.ifindex, err)
	}
	return nil
}

// Revert removes what Register set on the link (RevertLink) and closes the
// bus connection. A link that is already gone is not an error: resolved
// forgot it with the link.
func (r *Registration) Revert() error {
	if r == nil || r.conn == nil {
		return nil
	}
	defer func() { r.conn.Close(); r.conn = nil }()
	err := r.call("RevertLink")
	var de dbus.Error
	if errors.As(err, &de) && de.Name == "org.freedesktop.resolve1.NoSuchLink" {
		return nil
	}
	return err
}

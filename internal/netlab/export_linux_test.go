package netlab

import (
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// MappingsTo counts the conntrack entries in h's namespace whose replies go
// to a: a NAT's mappings of its address a.
func (h *Host) MappingsTo(a netip.Addr) (int, error) {
	fam := netlink.InetFamily(unix.AF_INET)
	if a.Is6() {
		fam = unix.AF_INET6
	}
	n := 0
	err := doIn(h.ns, func() error {
		flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, fam)
		for _, f := range flows {
			if f.Reverse.DstIP.Equal(net.IP(a.AsSlice())) {
				n++
			}
		}
		return err
	})
	return n, err
}

package netlab

import (
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// dropMappings deletes the conntrack entries in namespace ns whose replies
// go to a: a NAT's mappings of its address a. The kernel does the same when
// an address is removed, but in a work item that runs later and is skipped
// outright when more than 16 such flushes are pending
// (net/netfilter/nf_nat_masquerade.c) — as when many test namespaces close
// at once; the mappings then live on, and inside hosts keep the old address.
func dropMappings(ns string, a netip.Addr) error {
	f := &netlink.ConntrackFilter{}
	if err := f.AddIP(netlink.ConntrackReplyDstIP, net.IP(a.AsSlice())); err != nil {
		return err
	}
	return doIn(ns, func() error {
		_, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, family(a), f)
		return err
	})
}

// mappingsTo counts the conntrack entries in namespace ns whose replies go
// to a.
func mappingsTo(ns string, a netip.Addr) (int, error) {
	n := 0
	err := doIn(ns, func() error {
		flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, family(a))
		for _, f := range flows {
			if f.Reverse.DstIP.Equal(net.IP(a.AsSlice())) {
				n++
			}
		}
		return err
	})
	return n, err
}

// family is a's address family, as conntrack calls take it.
func family(a netip.Addr) netlink.InetFamily {
	if a.Is6() {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

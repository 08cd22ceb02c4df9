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
	fam := netlink.InetFamily(unix.AF_INET)
	if a.Is6() {
		fam = unix.AF_INET6
	}
	f := &netlink.ConntrackFilter{}
	if err := f.AddIP(netlink.ConntrackReplyDstIP, net.IP(a.AsSlice())); err != nil {
		return err
	}
	return doIn(ns, func() error {
		_, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, fam, f)
		return err
	})
}

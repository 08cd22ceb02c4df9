// Package resolvconf points the host's resolver at the proxy and puts it back:
// it backs up resolv.conf, writes one whose only nameserver is the proxy's DNS
// address (keeping the search, domain, options and sortlist lines), restores
// the original on exit, and, when a backup is found at start, restores it
// first (the previous run crashed).
//
// Every write is atomic: a temporary file in the same directory, synced, then
// renamed over the target, and the directory synced. A resolv.conf that is a
// symbolic link (to systemd-resolved's stub, say) is never written through:
// the link itself is backed up (the backup is a link with the same target),
// a regular file takes its place, and Restore puts the link back. Where the
// file is a mount point and cannot be renamed over (EBUSY: `ip netns exec`
// bind-mounts /etc/netns/NS/resolv.conf there, containers do the same), the
// content is written in place instead.
//
// Restore does not clobber a resolv.conf that another program rewrote while the
// proxy ran (DHCP, NetworkManager): it restores only a file that still carries
// the header this package writes, and otherwise just drops the backup.
//
// Parse reads resolv.conf as glibc does, leniently; ParseUpstreams returns the
// nameservers the proxy forwards to, without loopback and unspecified
// addresses: a local stub (dnsmasq, systemd-resolved) reads resolv.conf for its
// own upstreams, so once the file names the proxy the stub would send our
// queries back to us.
//
// The package knows nothing of DNS messages, the proxy or the overlay; it edits
// only the paths it is given (tests use temporary directories, never
// /etc/resolv.conf).
package resolvconf

// Package nat sets up the kernel side of the i3-to-IP gateway: the gateway
// process owns a tun device, its clients' packets leave it with source
// addresses from the clients' virtual pools, and the kernel forwards them to
// the intranet, masquerades them behind the gateway's own address and lets
// only replies back in. The kernel, not the gateway, rewrites: conntrack
// maps ports and ICMP echo ids, and its FTP helper rewrites active FTP's
// PORT/EPRT commands and lets the server's data connection back in.
//
// Install loads one nftables table (family inet, through netlink with
// github.com/google/nftables; no nft, ip or sysctl program runs):
//
//   - a ct helper "ftp" assigned to TCP port 21 connections from the tun;
//   - forward, from the tun: SYNs get their MSS clamped to the route's MTU,
//     a destination in Serve is accepted (counter "served"), anything else
//     dropped (counter "refused"), so the gateway is no open proxy;
//   - forward, towards the tun: SYNs clamped likewise, replies and related
//     flows (conntrack established,related, which includes the FTP data
//     connection the helper expects) accepted, the rest dropped (counter
//     "unsolicited"), so the intranet cannot open flows to clients;
//   - postrouting: a source in Pools leaving by another interface than the
//     tun is masqueraded.
//
// Forwarding between other interfaces is left alone (policy accept), and
// interfaces are matched by name, so a tun recreated by a restarted gateway
// still matches. Install replaces a table of the same name in one netlink
// batch: a restarted gateway keeps the kernel's conntrack state, so its
// clients' flows and their NAT mappings survive (its counters start again
// from zero). It also turns IPv4 forwarding on, and IPv6 forwarding when a
// pool is IPv6; Close deletes the table and puts those settings back as
// Install found them.
//
// The package acts in the network namespace of the thread that calls Install
// (the process's, unless the caller moved a locked thread): the netlink
// socket and the /proc/sys files are opened there once and kept, so Counters
// and Close act on that namespace from any goroutine. It knows nothing of i3,
// sessions or names. Nothing here is on the per-packet path: the kernel is.
package nat

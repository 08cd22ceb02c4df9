// Package netlab builds hosts out of Linux network namespaces, so that the
// end-to-end tests, the benchmarks and "i3net demo" can run real, unmodified
// programs (curl, ssh, ping, iperf3, dig, the i3net binary) between them, and
// removes everything afterwards. It is the only package of i3net that runs
// ip(8), bridge(8) and nft(8). It knows nothing of package testing, so the
// i3net binary can link it: its methods return errors, and Close cleans up.
// Tests use it through netlabtest, which fails the test on those errors,
// closes the lab at the test's end and skips a test that cannot build one.
//
// # Topology
//
// A Lab builds the hosts of DESIGN.md §3 from three pieces: an internet (a
// bridge in a namespace of its own), hosts on it, and NATs or routers with
// hosts on a LAN behind them:
//
//	 laptop ──┐                     ┌── nat ── home (192.168.1.0/24, behind masquerade)
//	 web    ──┤ "internet" bridge   ├── gw  ── intranet (10.1.0.0/24, overlapping ranges)
//	 srv1..3 ─┘ 198.18.0.0/15       └── ids (middlebox + IDS)
//
//	lab := netlabtest.New(t)                  // in a test: skips unless root with ip and nft
//	laptop, web := lab.Host("laptop"), lab.Host("web")
//	nat := lab.NATHost("nat", netip.MustParsePrefix("192.168.1.0/24"), netlab.NATCone)
//	home := nat.Inside("home")
//	gw := lab.NATHost("gw", netip.MustParsePrefix("10.1.0.0/24"), netlab.NATNone)
//	intranet := gw.Inside("intranet")
//	out, err := laptop.Run(ctx, "ping", "-c1", web.Addr4().String())
//
// Outside tests (the demo), the same calls return errors:
//
//	lab, err := netlab.New(netlab.Options{})  // netlab.Check says whether it can work here
//	defer lab.Close()
//	laptop, err := lab.Host("laptop")
//
// Every host is a namespace <prefix>-<name> with lo up and one interface,
// Uplink (eth0), the end of a veth pair whose other end is a port of its
// net's bridge. Internet hosts get the next free addresses of 198.18.0.0/15
// and 2001:db8:1::/64 (or the prefixes given to Lab.Internet) and no default
// route: they reach each other on-link and nothing else. A NAT is an internet
// host whose namespace also holds its LAN's bridge, with the LAN's first
// address; inside hosts get the next addresses and a default route through
// it. NATCone masquerades (Linux keeps a flow's source port when it can),
// NATSymmetric masquerades fully-random (a new port per flow), and both
// accept only replies from outside. NATNone neither forwards nor translates.
// Topology changes for mobility tests: Host.Renumber, Host.MoveTo,
// Host.SetLinkDown and Host.SetLinkUp.
//
// The kernel applies link changes asynchronously (a bridge port starts
// forwarding, an IPv6 address joins its solicited-node group, a moment after
// ip returns), and a first packet lost then costs a second of ARP or
// neighbour discovery retry. So every method that adds or changes a link
// returns only once it carries traffic: tests need no sleeps or retries for
// their first packet.
//
// # Running things inside
//
// Host.Run runs a command to completion, Host.Start starts a daemon (a Proc,
// whose output goes to a file that a failed test prints), Host.Exec returns an
// *exec.Cmd for anything else; all go through "ip netns exec". Host.Do runs Go
// code on a thread inside the namespace; Host.Listen, Host.ListenPacket and
// Host.Dial use it to give a test sockets inside a host, and Host.HTTPClient
// an HTTP client whose connections start there. WaitTCP, WaitUDP,
// WaitListen and Poll wait for readiness, always with a deadline.
//
// "ip netns exec" bind-mounts /etc/netns/<ns>/resolv.conf over
// /etc/resolv.conf only if that file exists, so every host gets one when it is
// created (DefaultResolvConf, a resolver on its own loopback where nothing
// listens; Host.SetResolvConf changes it). A program in a host that rewrites
// its resolver therefore never touches this machine's.
//
// # The network rule
//
// Nothing is ever added to the root namespace: no address, route, bridge,
// link or firewall rule. Every veth is created with its ends directly in the
// namespaces that use them, and bridges live inside namespaces (the internet's
// in <prefix>-inet). No namespace has a route out of the lab, so traffic
// between hosts never leaves it and this machine's own networking is never
// involved.
//
// # Cleanup
//
// Close, with every step bounded in time: stops each process Start started
// (SIGTERM to its pid, SIGKILL after StopGrace); then signals, the same way,
// any process still inside one of the lab's namespaces (a daemon's children;
// each pid re-checked to be in the namespace right before it is signalled);
// then deletes the namespaces and their /etc/netns directories. Namespace
// names carry the creating process's pid (i3t-<pid>-<n>-<host>), so names
// never clash between runs, and CleanupStale (called once per process by New)
// removes the leftovers of runs whose process has died without Close (a
// crash, SIGKILL). Interface names are fixed (eth0, br0, brlan, p<n>, lan<n>)
// and unique only within their namespace, so they fit the kernel's 15
// characters whatever the prefix.
//
// Topology methods belong to the lab's owner's goroutine; methods that act
// inside a host may be called from any. The package needs Linux and root
// (Check); elsewhere it builds, and New says that it needs Linux.
package netlab

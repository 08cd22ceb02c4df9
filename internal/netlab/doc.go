// Package netlab builds hosts out of Linux network namespaces, so that the
// end-to-end tests, the benchmarks and "i3net demo" can run real, unmodified
// programs (curl, ssh, ping, iperf3, dig, the i3net binary) between them, and
// removes everything afterwards. It is the only package of i3net that runs
// ip(8), bridge(8) and nft(8).
//
// It knows nothing of package testing, so the i3net binary links it: its
// methods return errors and Close cleans up. Tests use it through netlabtest,
// which skips a test that cannot build a lab, fails the test on those errors
// and closes the lab when the test ends.
//
//	 laptop ──┐                     ┌── nat ── home (192.168.1.0/24, behind masquerade)
//	 web    ──┤ "internet" bridge   ├── gw  ── intranet (10.1.0.0/24, no NAT)
//	 srv1..3 ─┘ 198.18.0.0/15       └── …
//
//	lab, err := netlab.New(netlab.Options{}) // after netlab.Check() == nil
//	defer lab.Close()
//	laptop, err := lab.Host("laptop")
//	nat, err := lab.NATHost("nat", netip.MustParsePrefix("192.168.1.0/24"), netlab.NATCone)
//	home, err := nat.Inside("home")
//	out, err := laptop.Run(ctx, "ping", "-c1", home.Addr4().String()) // fails: behind the NAT
//
// Every host is a namespace <prefix>-<name> with one interface, Uplink, on
// its net's bridge; every method that adds or changes a link returns only once
// the link carries traffic, so no caller needs a sleep. Host.Run, Start, Exec
// and Do run programs or Go code inside a host; Poll and the Wait functions
// wait for readiness, always with a deadline.
//
// The network rule: nothing is ever added to the root namespace (no address,
// route, link or firewall rule), bridges live inside namespaces, and no
// namespace has a route out of the lab. Close stops every process (SIGTERM,
// then SIGKILL), kills what else runs in the lab's namespaces and deletes
// them; names carry the creating pid, so New can remove what dead runs left
// (CleanupStale).
//
// The package needs Linux and root (Check). Elsewhere it builds, and New says
// that it needs Linux. docs/netlab.md tells the rest: addresses, NAT kinds,
// link readiness, resolv.conf, cleanup.
package netlab

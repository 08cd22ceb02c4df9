// Package doctor checks whether a host can run the i3net proxy and says what
// to fix: each check gives a Result, ok, warn or fail, with a remedy when it
// is not ok. The checks of the host itself (OS, tun device, capabilities,
// resolver) only read; CheckServers pings the overlay servers through a
// client of its own and inserts one short-lived trigger to learn whether a
// NAT is in front of this host. "i3net doctor" (cmd/i3net/cli) runs them
// with the pools and state directory of the proxy's configuration.
package doctor

// Package ingress is the IP-to-i3 ingress (paper §4.4.2 and its appendix):
// it lets programs on hosts that run nothing of ours (a phone, a friend's
// laptop) reach services that overlay hosts publish, by name.
//
// The ingress is the authoritative DNS server of a delegated zone
// (ingress/zone): a published name is answered with one of the ingress's
// waypoint addresses, TTL 0. A connection to a waypoint is routed to the
// right overlay host by its protocol where it can be (the HTTP Host header,
// the TLS ClientHello's server name: ingress/sniff; TLS is never terminated)
// and otherwise by the paper's heuristic (ingress/heuristic: the first
// connection to the waypoint handed out in the last second). It is carried
// over the overlay by the ingress's own proxy (package proxy, in ingress
// mode, whose tun device the connections are dialed through), optionally
// after a PROXY protocol v2 header naming the client (ingress/proxyproto),
// and the overlay host is told the client's real address in the session.
//
// Only what overlay hosts publish is reachable: a host in the ingress's
// address book publishes services (name, port) under its own book name
// (publications.go); they live as long as the host offers them again.
// New connections and DNS queries are rate limited per client
// (ingress/limit). docs/ingress.md is the user's guide.
package ingress

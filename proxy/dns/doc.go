// Package dns is the legacy proxy's DNS: the responder that answers names under
// the overlay suffix with virtual addresses (paper §3.2), the forwarder that
// sends every other query to the host's original resolvers, and the detection
// of systemd-resolved.
//
// # Responder
//
// The proxy reads DNS queries from its tun device (they are sent to the service
// address inside the virtual pool, so no port is bound on the host) and hands
// their UDP payload to Responder.Answer, which decides:
//
//	NAME.i3        A, AAAA, ANY  the virtual addresses, TTL 0 (0–5 s configurable)
//	NAME.i3        other types   NOERROR without answers (NODATA)
//	NAME.i3        unknown NAME  NXDOMAIN at once
//	NAME.i3.SEARCH               NXDOMAIN at once (SEARCH: a host search domain;
//	                             resolvers try it when NAME.i3 fails)
//	anything else                forward: the proxy passes the query to Forwarder
//
// Names are looked up through the Resolver the proxy implements (the address
// book, which also assigns and refreshes the mapping: each answer is a use,
// §7.2). Answers keep the query's id, question (with its letter case), opcode
// and RD and CD flags, set RA (the proxy recurses by forwarding) and AA for
// overlay names, and carry an OPT record when the query did (EDNS, 1232 bytes).
// Negative answers carry no SOA, so resolvers do not cache them.
//
// Answer takes untrusted bytes: a malformed query is an error (the proxy counts
// and drops it), never a panic; FuzzAnswer checks that. Answering a known name
// costs about a microsecond (BenchmarkAnswer): messages are pooled and the
// answer is packed into the caller's buffer.
//
// # Forwarder
//
// Forwarder sends a query to the upstream servers over UDP within one budget
// (2 s by default): the first is asked at once, the next after a share of the
// budget or as soon as the ones before it failed (an error, SERVFAIL, REFUSED,
// NOTIMP); the first usable answer wins, and when the budget is spent the
// proxy answers SERVFAIL. For a program that asked over TCP a truncated answer
// is asked again over TCP; over UDP it is passed on. It bounds how many
// queries are in flight.
//
// # Transports
//
// FitUDP cuts an answer to the size the query allows over UDP (its EDNS0
// size, 512 bytes without), with TC set. ServeTCP answers DNS over TCP (RFC
// 7766: length-prefixed messages, several per connection, answered out of
// order) on any net.Listener; the proxy gives it one from its userspace TCP
// stack. FuzzReadTCPMessage checks the framing.
//
// # systemd-resolved
//
// DESIGN.md's resolved mode (the routing-only domain ~i3 on the tun link, over
// D-Bus) is not implemented: DetectMode recognises a resolv.conf managed by
// resolved, and ChooseMode refuses it with ErrResolvedUnsupported unless the
// caller accepts the fallback to resolv.conf mode (upstreams then come from
// ResolvedUplink, because the stub 127.0.0.53 would loop back to us).
//
// The package knows nothing of tun devices, IP packets, sessions or the
// overlay, and does not edit files (proxy/resolvconf does).
package dns

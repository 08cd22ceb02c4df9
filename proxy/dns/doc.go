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
// Forwarder sends a query to the upstream servers, in order, over UDP with a
// timeout per server, moves to the next server on a timeout, an error or a
// SERVFAIL, REFUSED or NOTIMP answer, and repeats a truncated answer's query
// over TCP. It bounds how many queries are in flight. The proxy's DNS address
// speaks UDP only (there is no TCP stack behind the tun for it), so the full
// TCP answer is what the proxy sends back; it may exceed 512 bytes.
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

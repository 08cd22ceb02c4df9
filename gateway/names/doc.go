// Package names is the gateway's name service for its clients (paper §4.4.1,
// §7.4): a client's proxy sends the DNS query a program made for a name the
// gateway serves (wiki.corp.example), and the Answerer resolves it with the
// gateway's own resolvers, inside the intranet, and answers with only what
// the gateway serves.
//
// Answer takes the client's query (DNS wire format, untrusted) and returns
// the response: REFUSED for a name outside Config.Names, or an answer whose
// addresses are all outside Config.Serve; the upstream's NXDOMAIN; SERVFAIL
// when the resolvers fail; else the CNAME chain and the served A/AAAA
// records, nothing else. The upstream query is built anew (a random id, RD,
// the one question, EDNS0): no byte of the client's header or options
// reaches the intranet's resolver. FuzzAnswer checks that an answer never
// holds an address outside Serve.
//
// What it must not know: sessions, clients, virtual addresses (the client
// maps the real addresses, proxy/dns.RewriteGatewayAnswer), NAT.
//
// Performance: Answer blocks while the resolvers work (up to the
// forwarder's budget); callers run it on a goroutine per query, and queries
// do not wait for each other beyond the forwarder's MaxInflight.
package names

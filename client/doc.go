// Package client is the native overlay API for Go programs: it inserts and
// refreshes triggers, sends packets to ids and id stacks, and hands the packets
// the overlay delivers to a handler. The proxy, the gateway, the ingress, the
// middlebox and `i3net ping` are built on it.
//
//	cfg := client.DefaultConfig()
//	cfg.Servers = []netip.AddrPort{netip.MustParseAddrPort("198.18.0.1:5610")}
//	cfg.Handler = func(d client.Delivery) { … copy d.Payload … }
//	c, err := client.New(cfg)
//	h, err := c.Insert(ctx, client.Trigger{ID: myID})   // waits for the ACK
//	err = c.SendTo(peerID, payload)
//	…
//	h.Remove(ctx); c.Close()
//
// # What it does
//
// A Client owns one UDP socket (IPv4 or IPv6) and speaks the original i3
// protocol (docs/wire.md) with i3net's extensions. Triggers are soft state
// (paper §2): Insert answers the server's challenge, waits for the ACK, then
// refreshes every 10–15 s with jitter and resends a lost refresh after 2 s, for
// as long as the Handle lives. A server that lost the trigger (it restarted)
// challenges the next refresh, the client answers, and the trigger is back
// without the caller noticing. Insertions of public ids are signed with
// Config.Identity. Every overlay packet the client sends carries FIRST_HOP and
// SENDER, so that a server can see through a NAT (paper §5.1) and report an id
// that matches nothing (Event, EventNotPresent); the refreshes double as NAT
// keepalives.
//
// Servers hint which server is responsible for a 128-bit id prefix (CACHE_ADDR,
// paper §2.2); the client keeps the hints for 30 s and sends later packets and
// insertions for those ids straight there. Ping measures the round trip to a
// server, PingID the round trip through a trigger.
//
// # Buffers and the per-packet paths
//
// The data paths neither log nor allocate in steady state: SendTo and Send
// build the header and copy the payload into a pooled buffer and make one
// sendto; SendBatch writes headers into pooled slots and sends header and
// payload as two iovecs, BatchSize packets per sendmmsg. The receive goroutine
// reads up to BatchSize datagrams per recvmmsg into buffers it owns and calls
// Config.Handler serially; the Delivery's slices are reused once the handler
// returns, so a handler copies what it keeps (memberlist's rule) and must not
// block. Control replies (challenges, ACKs, hints, TRIGGER_NOT_PRESENT,
// refusals) are handled inside and believed only from known servers.
//
// # What it must not know
//
// Nothing of proxies, tun devices, DNS, names or address books: it moves
// payloads between ids. Sessions, encryption and the mapping of ids to
// hosts are the proxy's. Which server is responsible for an id is the
// servers' knowledge, learned only through their hints.
package client

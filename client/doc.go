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
// insertions for those ids straight there. A hint, from a known server, that
// names another server than the one holding a trigger of this client moves
// the trigger there at once (at most once per RetryInterval, not while an
// insertion is unanswered; the new server challenges it as usual): when a
// server joins the ring in front of a trigger's owner, or takes a trigger
// over, the server handing over tells the trigger's target so
// (server/handover.go), and behind a NAT this insertion is what opens the
// mapping toward the new owner; the old copy expires. Ping measures the round
// trip to a server, PingID the round trip through a trigger.
//
// # Servers, first hop and failover
//
// Config.Servers is where the client starts. It asks up to three servers for
// the overlay's server list (EXT_SERVER_LIST) at New and every minute, and
// knows at most MaxServers (64); a server no list named for three rounds is
// forgotten unless in use. It pings every known server at New and every
// 30 s (±20%, eight at once) and makes the nearest that answers the first
// hop (FirstHop, Servers, Measure): where packets and insertions go that no
// hint routes; the first hop sends them on to the responsible server in one
// hop. While it sends, the client watches the servers in use (the first hop,
// those live hints name, which include those holding its triggers): one
// silent for a quarter of FailoverAfter gets a ping (20 bytes); one silent for
// FailoverAfter (1 s) with two pings unanswered is declared down: the next
// best becomes the first hop, the hints naming it are dropped (and ignored
// while it is down), and the triggers it held are inserted again at once.
// An unanswered refresh makes a server suspect, watched even when the client
// sends nothing. Delivery resumes about a second after a server in use dies
// (the ring's "lan" failure detector notices it in about as long, in
// parallel). Timers, by default: lists 1 min, round trips 30 s, liveness
// tick 250 ms, failover 1 s, refresh 10–15 s, retry 2 s, hints 30 s, local
// address check 1 s, NAT check 2 s.
//
// # Its own address
//
// Bound to a wildcard address (the default), the client states as its own
// the source address the kernel picks toward Config.Servers[0], and asks
// again every AddrCheckInterval (1 s; a route lookup, nothing sent). When
// the host's address changed (renumbered, roamed), it states the new one
// (SENDER, trigger targets, shortcut offers), forgets what it knew of a NAT,
// inserts every trigger again at once and probes its shortcuts again:
// delivery resumes about a second after the move rather than at the next
// refresh. A NAT in front of the host that changes its outside address or
// loses its mappings, the host's own address unchanged, cannot be seen
// locally, but the servers see it: see NAT below.
//
// # NAT (paper §5.1)
//
// The servers replace the address a client states by the one they observe,
// and the ACK and CHALLENGE of a trigger on the client's own address carry
// the target they installed: the client compares it with its own and knows
// whether it is behind a NAT (NAT). Behind one, or before the first answer
// tells, an insertion the cache has no hint for first asks the first hop for
// the hint (REQUEST_FOR_CACHE) and then goes straight to the responsible
// server, so that restricted and symmetric NATs open the mapping toward the
// server that will send to the client; every ACK renews the hint, and the
// refreshes (every 10–15 s, below the usual 30 s of a UDP mapping) keep the
// mapping open.
//
// The liveness pings, and behind a NAT one ping every NATCheckInterval (2 s)
// to each server holding a trigger of the client on its own address, are
// reflecting pings: our servers echo them with the address they see
// (docs/wire.md). An echo naming another address than the one the server's
// last ACK named for a trigger means the NAT's mapping changed (a new
// outside address or port): the trigger is refreshed at once, from the new
// mapping, at most once per RetryInterval (logged "NAT mapping changed",
// counted in Stats.NATRebinds). Delivery resumes within about 2 s of the
// change, sooner while the client sends, rather than at the next refresh.
// The checks cost a 20-byte datagram each way per such server every 2 s.
//
// # Shortcuts (paper §5.2)
//
// A trigger inserted with ShortcutAllowed and packets sent with SendShortcut
// may bypass the servers: the sender's client probes the id through the
// overlay (a data packet with the shortcut flag, payload "i3netSCP" and a
// random 16-byte token); the server delivers it with the sender's address;
// the receiver's client answers with an offer (CACHE_SHORTCUT_ADDR, its
// address, the token) sent straight to the sender, which takes it only from
// the address it names and with a token it sent. Packets then go straight
// to the receiver; a probe along the direct path every ShortcutTimeout/3
// must be answered, or after ShortcutTimeout (1.5 s) the packets go through
// the overlay again, where the next probe finds the receiver wherever it
// moved. Behind a NAT shortcuts are off. Stats counts shortcut packets,
// probes, offers and fallbacks.

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
// refusals, server lists) are handled inside and believed only from known
// servers; from anyone else only shortcut offers are taken. The receive path
// stamps each datagram from a known server with the batch's time (one lookup
// in a lock-free map); with SendShortcut, the send path takes one read lock
// more.
//
// # What it must not know
//
// Nothing of proxies, tun devices, DNS, names or address books: it moves
// payloads between ids. Sessions, encryption and the mapping of ids to
// hosts are the proxy's. Which server is responsible for an id is the
// servers' knowledge, learned only through their hints; which servers exist,
// only through their lists.
package client

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
// A Client owns one UDP socket and speaks the original i3 protocol with
// i3net's extensions: it keeps its triggers alive (soft state, paper §2), finds
// and fails over between servers, follows its own address and NAT (§5.1), and
// sends straight to peers that allow shortcuts (§5.2). docs/client.md says
// what it sends and when, and its timers.
//
// What it must not know: proxies, tun devices, DNS, names or address books; it
// moves payloads between ids. Sessions, encryption and the mapping of ids to
// hosts are the proxy's. Which server is responsible for an id it learns only
// through the servers' hints; which servers exist, only through their lists.
//
// Performance rules: the data paths neither log nor allocate in steady state.
// SendTo and Send build the header and copy the payload into a pooled buffer
// and make one sendto; SendBatch writes headers into pooled slots and sends
// header and payload as two iovecs, BatchSize packets per sendmmsg. The receive
// goroutine reads up to BatchSize datagrams per recvmmsg into buffers it owns
// and calls Config.Handler serially: the Delivery's slices are reused once the
// handler returns, so a handler copies what it keeps and must not block.
// Control replies are handled inside and believed only from known servers (from
// anyone else, only shortcut offers). The receive path stamps each datagram
// from a known server with the batch's time (one lookup in a lock-free map);
// with SendShortcut, the send path takes one read lock more.
package client

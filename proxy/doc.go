// Package proxy is the legacy proxy of the paper (§3, §4.1–4.3, §7.1–7.3): on an
// end host, it lets unmodified programs reach overlay hosts by name.
//
// A program asks for home.i3; the proxy's DNS responder (proxy/dns), reached on
// a service address inside the virtual pool through the tun device, answers with
// home's virtual address (proxy/vaddr), derived from home's public id so that
// both ends agree and IP headers pass unchanged (§3.3). Packets to that address
// come out of the tun device; the proxy seals them in the session it holds with
// home (proxy/session: a Noise IK handshake bound to the identity keys the
// address book pins, carrying each side's private id, §4.3) and sends them over
// the overlay (client) to home's private trigger. home's proxy opens them and
// writes them into its own tun device, where the kernel hands them to the
// program that listens.
//
// The data path, in the files named for its directions:
//
//	outbound.go  tun → parse → mapping → seal → overlay (batched)
//	inbound.go   overlay → open → check → tun
//	handshake.go sessions: private triggers, message 1 / message 2, resets
//	registry.go  the peers, by key, private ids and address; their liveness
//	anon.go      anonymous peers (§6.3): ephemeral keys, relay choice, rotation
//
// The proxy knows nothing of how servers route: it asks the client to send to
// ids, and gives it every configured server (the client picks the nearest,
// learns the others and fails over). For a peer the address book marks
// `shortcut`, the private trigger and the packets allow shortcuts (§5.2): the
// client then sends straight to the peer's address when the peer allows it
// too. Per packet it does one parse, one map lookup and one seal or open; it
// never logs per packet (it counts), and it allocates nothing in steady state.
//
// State that must survive a restart (the mappings and the private ids) is saved
// atomically and restored at start, so an open TCP connection survives a proxy
// restart (§7.2): the restarted proxy re-inserts the same private triggers and
// handshakes again; the programs see the same addresses throughout.
package proxy

// Package gateway is the i3-to-IP gateway of the paper (§4.4.1, §6.2, §7.4):
// a host inside a network (an intranet, a lab) that overlay hosts reach by
// name, and that carries their flows on to ordinary hosts that run nothing of
// ours.
//
// It is the legacy proxy (package proxy) in gateway mode, plus two parts of
// its own:
//
//   - names (gateway/names): a client's proxy sends the name a program asked
//     for (wiki.corp.example) through its session; the gateway resolves it
//     with its own resolvers, inside the network, on a goroutine per query,
//     and answers only for the names and addresses it serves;
//   - the kernel's NAT (gateway/nat): packets of clients come out of the
//     gateway's tun device with their virtual source addresses and real
//     destinations; nftables forwards them, masquerades them behind the
//     gateway's address, lets only replies (and what the FTP helper expects)
//     back, clamps TCP MSS, and drops and counts destinations it does not
//     serve.
//
// Who may use it: the keys of its address book (the allowlist), proven by the
// session's Noise handshake, with no extra round trip; anybody else gets an
// authenticated refusal at once, and so does an anonymous client (an
// ephemeral key) unless allow_anonymous = true. Several gateways that share an identity (an
// anycast group) serve one name: each inserts the key's prefix with its own
// suffix, and a client whose gateway dies handshakes with another (§2.1).
//
// docs/gateway.md says how to deploy one.
package gateway

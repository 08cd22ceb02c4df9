// Package session is the authenticated key exchange and the data framing
// between two proxies (paper §4.1–4.3): the first messages carry each side's
// private id, piggybacked on a Noise IK handshake bound to the hosts' identity
// keys, and IP packets then travel as encrypted (or, on request, authenticated
// plaintext) frames to those private ids. Initiator and Responder make the
// handshake, resent messages, replays, restarts and simultaneous opens
// included; a Session seals and opens frames; ParseFrame reads untrusted
// bytes. docs/session.md describes the handshake, the frame layouts, the
// replay window, resets and what is left out.
//
// It is pure logic: it knows no sockets, tun, overlay client, DNS or address
// book. Callers feed it bytes, send what it returns to the id it names, own
// every timer (resends, keepalives, expiry) and decide policy (which keys may
// talk to them) in an AcceptFunc and after Finish.
//
// Performance rules: Seal, Keepalive, Open and AppendReset append to a dst the
// caller owns and return the extended slice; with enough capacity they
// allocate nothing (0 allocations per packet, asserted by tests). Seal and Open
// also work in place (see their docs), for pooled *[wire.MaxPacket]byte
// buffers with an offset. Frame, Initiator.Message1 and Accepted.Message2
// alias or share memory: do not modify them. A Session is safe for concurrent
// Seal from many goroutines and Open from others; Initiator and Responder are
// safe for concurrent use.
package session

// Package session is the authenticated key exchange and the data framing
// between two proxies (paper §4.1–4.3): the first messages carry each side's
// private id, piggybacked on a Noise handshake bound to the hosts' identity
// keys, and IP packets then travel as encrypted frames to those private ids.
//
// It is pure logic: it knows no sockets, tun, overlay client, DNS or address
// book. Callers feed it bytes, send what it returns to the id it names, own
// every timer (resends, keepalives, expiry) and decide policy (which keys may
// talk to them) in an AcceptFunc and after Finish.
//
// # Handshake
//
// Noise_IK_25519_ChaChaPoly_BLAKE2s (github.com/flynn/noise; WireGuard's
// primitives) with the prologue "i3net session v1". Each side's static key is
// the X25519 form of its Ed25519 identity key (identity.Identity.X25519). The
// initiator A knows the responder B's key from its address book, so IK needs
// one round trip:
//
//	A → id_B  (B's public id):  handshake1 {A's key, id_AB, flags, timestamp}
//	B → id_AB (A's private id): handshake2 {id_BA, flags, timestamp}
//	A → id_BA, B → id_AB:        data frames
//
// B learns A's X25519 static key from message 1; as an X25519 key cannot be
// turned back into an Ed25519 one, message 1 also carries A's Ed25519 key,
// which B accepts only if its X25519 form is the Noise static key (the caller
// then checks the Ed25519 key against its book or policy). An impostor
// without B's private key cannot read message 1 nor write a message 2 that
// A's Finish accepts.
//
// Loss (§4.3): A resends the same message 1 bytes (Initiator.Message1) on its
// own timer until a message 2 arrives. B answers a resent message 1 with its
// cached message 2 and the same session, without new cryptography; A keeps
// the first valid message 2 and ignores later ones (ErrFinished).
//
// Replay: B keeps, per initiator key, the newest message 1 timestamp it
// accepted (TAI64N, as WireGuard) and refuses any message 1 not newer
// (ErrStale); Options.MaxHandshakeAge optionally bounds the clock skew too. A
// peer that restarted and lost its keys simply initiates again: its newer
// message 1 makes a new session that replaces the old one
// (Accepted.Replaces). A responder's session is unconfirmed
// (Session.Confirmed) until a frame from the initiator opens on it: a
// message 1 replayed to a responder that forgot the initiator or restarted
// makes a session nobody can use, so callers keep sending on a confirmed
// session until its replacement is confirmed, and an initiator with nothing
// to send after Finish sends a keepalive.
//
// Simultaneous open: if A and B initiate to each other at once (through
// Responder.Initiate, which tracks pending initiators), the side with the
// larger Ed25519 public key, compared as bytes, keeps its initiator role and
// ignores the other's message 1 (ErrSimultaneous); the other answers it as
// responder and abandons its own initiator (Accepted.Abandoned). One session
// results.
//
// # Frames
//
// Every message the proxies exchange is a frame whose first byte is its type;
// ParseFrame decodes untrusted bytes (ErrLength, ErrType). Integers are
// big-endian.
//
//	handshake1 0x01  type(1) e(32) enc(s)(32+16) enc(payload1)(78+16)   175 bytes
//	handshake2 0x02  type(1) e(32) enc(payload2)(45+16)                  94 bytes
//	data       0x03  type(1) counter(8) ciphertext(n)+tag(16)            n+25
//	plaintext  0x04  type(1) counter(8) packet(n) tag(16)                n+25
//	keepalive  0x05  type(1) counter(8) tag(16)                          25 bytes
//	reset      0x06  type(1) stale id(32) timestamp(12) signature(64)    109 bytes
//
//	payload1: version(1)=1 ed25519 key(32) private id(32) flags(1) timestamp(12)
//	payload2: private id(32) flags(1) timestamp(12)
//	flags:    0x01 shortcut allowed, 0x02 plaintext requested,
//	          0x04 headers preserved, 0x08 AES-GCM in hardware (data
//	          under AES-256-GCM when both set it, else ChaCha20-Poly1305);
//	          other bits carried, ignored
//	timestamp: TAI64N, 8 bytes 2^62+10+Unix seconds, 4 bytes nanoseconds
//
// A private id is never zero and has its public bit clear (ErrPayload).
//
// # Data
//
// The handshake's two Noise cipher keys become ChaCha20-Poly1305 keys, one per
// direction. A frame's nonce is 4 zero bytes and its counter little-endian;
// the additional data is the 9-byte header, so type and counter are
// authenticated. Counters start at 0; a sender refuses to seal beyond
// RejectAfterMessages (ErrExhausted). The receiver keeps a sliding window of
// ReplayWindow counters (RFC 6479 bitmap): frames may arrive out of order and
// are accepted once each; a replayed frame is ErrReplay, one behind the window
// ErrTooOld, an altered one ErrAuth. The window is updated only after the tag
// checks out.
//
// Plaintext mode (§6.4.1: an IDS on the path must read the traffic): a session
// is plaintext if either side's handshake asked for it (only the
// authenticated peer can ask, so it cannot be forced by the path). Frames then
// carry the IP packet in clear, followed by a Poly1305 tag over header and
// packet: integrity, authenticity and replay protection remain; confidentiality
// does not: every server and middlebox on the path reads the packets, and a
// middlebox must not modify them (the tag would fail). The handshake itself is
// encrypted and authenticated as in the encrypted mode.
//
// Keepalive frames are authenticated empty frames on the same counter and
// window; Open returns dst unchanged for them.
//
// Reset: a proxy that receives a frame on one of its private ids for a session
// it no longer has (it restarted, kept its mappings, lost the keys) sends a
// reset to the peer's private id from its mapping (AppendReset). It is signed
// with its identity key over the stale id, the receiving private id and a
// timestamp; the peer accepts it (Session.CheckReset) only for the session
// whose peer private id it names and only if stamped after that session's
// handshake (by the same clock), and then initiates again at once rather than
// waiting for keepalives to time out.
//
// # Buffers and concurrency
//
// Seal, Keepalive, Open and AppendReset append to a dst the caller owns and
// return the extended slice; with enough capacity they allocate nothing (0
// allocations per packet, asserted by tests). Seal and Open also work in place
// (see their docs), for pooled *[wire.MaxPacket]byte buffers with an offset.
// Frame, Initiator.Message1 and Accepted.Message2 alias or share memory: do not
// modify them. A Session is safe for concurrent Seal from many goroutines and
// Open from others; Initiator and Responder are safe for concurrent use.
//
// # Left out
//
//   - Rekeying: a session lives until RejectAfterMessages frames or until the
//     caller handshakes again (e.g. after a time bound of its choosing); there
//     is no in-session rekey.
//   - Early data: message 1 carries no IP packet (IK could, without forward
//     secrecy and replayable), so the initiator's first packet waits one round
//     trip; the responder may send at once, and frames arriving before
//     message 2 are dropped by the initiator's caller.
//   - Handshake DoS cookies (WireGuard's cookie reply): a forged message 1
//     costs the responder one or two X25519 operations, an accepted one five;
//     callers rate-limit handshakes (i3 packets to a public id carry no
//     source to answer a cookie to).
//   - Message 1's payload (private id, flags) has no forward secrecy against a
//     later compromise of the responder's identity key, as in any IK payload.
package session

package session

import "time"

// Protocol names and versions.
const (
	// Prologue is mixed into every handshake, so both sides must agree on the
	// protocol (and its version) for a handshake to complete at all.
	Prologue = "i3net session v1"
	// Version is the handshake payload version carried in message 1.
	Version = 2
)

// Frame types: the first byte of every message two proxies exchange.
const (
	TypeHandshake1 Type = 0x01 // initiator → responder's public id: Noise IK message 1
	TypeHandshake2 Type = 0x02 // responder → initiator's private id: Noise IK message 2
	TypeData       Type = 0x03 // an encrypted IP packet
	TypePlaintext  Type = 0x04 // an IP packet in clear with an authentication tag
	TypeKeepalive  Type = 0x05 // an authenticated empty frame
	TypeReset      Type = 0x06 // "I no longer know this session": signed, handshake again
	TypeChunk      Type = 0x08 // an encrypted piece of a large packet (chunk.go); 0x07 is a middlebox alert (middlebox/pass)
)

// Handshake payload flags (message 1 and message 2). Unknown bits are carried
// and ignored.
const (
	// FlagShortcut: the sender accepts shortcuts (paper §5.2); a session uses
	// them only if both sides set it.
	FlagShortcut Flags = 1 << 0
	// FlagPlaintext: the sender wants data in clear (an IDS on the path must
	// read it, §6.4.1); the session is plaintext if either side sets it.
	FlagPlaintext Flags = 1 << 1
	// FlagPreserveHeaders: the sender keeps IP headers unchanged (both ends
	// derive the same virtual addresses, §3.3); informational.
	FlagPreserveHeaders Flags = 1 << 2
	// FlagAESGCM: the sender's CPU has AES-GCM instructions and prefers
	// AES-256-GCM for data; a session uses it if both sides set it (about
	// 1.7× as fast as ChaCha20-Poly1305 there), else ChaCha20-Poly1305. The
	// session package sets it itself (hardwareFlags).
	FlagAESGCM Flags = 1 << 3
	// FlagRefused, in a message 2: the responder refuses the initiator (its
	// key is not on the responder's allowlist) and opens no session; the
	// private id is zero. The refusal is authenticated like any message 2,
	// so the initiator can say so at once instead of timing out.
	FlagRefused Flags = 1 << 4
	// FlagAnonymous, in a message 1: the initiator's key is ephemeral, made
	// for this session only (paper §6.3); the responder's policy decides
	// whether it accepts such sessions, and labels them. A responder that
	// predates it ignores it, as any unknown bit.
	FlagAnonymous Flags = 1 << 5
	// FlagChunks: the sender takes chunk frames (chunk.go): it can put a
	// large packet back together and hand it to its kernel whole. A session
	// carries chunks only if both sides set it and it is encrypted.
	FlagChunks Flags = 1 << 6
)

// Sizes in bytes.
const (
	// KeyLen is the size of an X25519 key and of a ChaCha20-Poly1305 key.
	KeyLen = 32
	// TagLen is the size of a Poly1305 authentication tag.
	TagLen = 16
	// CounterLen is the size of a data frame's counter.
	CounterLen = 8
	// HeaderLen is the size of a data frame's header: type and counter.
	HeaderLen = 1 + CounterLen
	// Overhead is what Seal adds to an IP packet: header and tag.
	Overhead = HeaderLen + TagLen
	// KeepaliveLen is the size of a keepalive frame.
	KeepaliveLen = Overhead
	// TimestampLen is the size of a TAI64N timestamp.
	TimestampLen = 12

	// Payload1Len is the plaintext payload of message 1: version, initiator
	// Ed25519 key, initiator private id, flags, timestamp, via.
	Payload1Len = 1 + 32 + 32 + 1 + TimestampLen + 32
	// Payload2Len is the plaintext payload of message 2: responder private id,
	// flags, timestamp, via.
	Payload2Len = 32 + 1 + TimestampLen + 32
	// Handshake1Len is the size of a message 1 frame: type, ephemeral key,
	// encrypted static key, encrypted payload.
	Handshake1Len = 1 + KeyLen + (KeyLen + TagLen) + (Payload1Len + TagLen)
	// Handshake2Len is the size of a message 2 frame: type, ephemeral key,
	// encrypted payload.
	Handshake2Len = 1 + KeyLen + (Payload2Len + TagLen)
	// SignatureLen is the size of an Ed25519 signature.
	SignatureLen = 64
	// ResetLen is the size of a reset frame: type, stale private id,
	// timestamp, signature.
	ResetLen = 1 + 32 + TimestampLen + SignatureLen
)

// Limits.
const (
	// RejectAfterMessages is the number of frames a session may send; Seal
	// refuses after it (ErrExhausted) and a new handshake is needed. At 10
	// million frames a second it takes 3,600 years to reach; there is no rekey.
	RejectAfterMessages = 1 << 60
	// ReplayWindow is how far behind the highest counter seen a frame may
	// arrive and still be accepted (once), in frames.
	ReplayWindow = (replayBlocks - 1) * replayBlockBits

	replayBlockBits = 64
	replayBlocks    = 64 // a power of two: 4096 bits, 512 bytes per session
)

// DefaultMaxHandshakeAge is a sensible Options.MaxHandshakeAge for hosts whose
// clocks are kept by NTP: a message 1 stamped longer ago than this (by the
// initiator's clock, as seen by the responder's) is refused.
const DefaultMaxHandshakeAge = 10 * time.Minute

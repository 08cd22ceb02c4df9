package session

import "errors"

// Reasons a frame or handshake is rejected. Every error this package returns
// is, or wraps, one of these (or, from Responder.Handle, the AcceptFunc's own
// error), so that callers can count drops by reason with errors.Is. The data
// path (Seal, Open) returns them bare, without allocating.
var (
	// ErrLength: a frame is shorter than its type needs, or a fixed-size
	// frame has the wrong size.
	ErrLength = errors.New("session: bad frame length")
	// ErrType: the first byte is not a known frame type, or the frame type is
	// not the one the call expects.
	ErrType = errors.New("session: unexpected frame type")
	// ErrMode: a data frame in clear on an encrypted session, or the reverse.
	ErrMode = errors.New("session: frame type does not match the session's mode")
	// ErrAuth: a frame or handshake message failed authentication (altered,
	// forged, for another session, or from a peer with another key).
	ErrAuth = errors.New("session: authentication failed")
	// ErrReplay: a frame whose counter was already accepted.
	ErrReplay = errors.New("session: replayed frame")
	// ErrTooOld: a frame whose counter is behind the replay window.
	ErrTooOld = errors.New("session: frame too old for the replay window")
	// ErrExhausted: the session has sent RejectAfterMessages frames (or a
	// frame claims a counter beyond that); handshake again.
	ErrExhausted = errors.New("session: message counter exhausted")

	// ErrVersion: a message 1 payload of an unknown version.
	ErrVersion = errors.New("session: unsupported handshake version")
	// ErrPayload: a handshake payload that authenticated but is malformed
	// (e.g. a zero or public private id).
	ErrPayload = errors.New("session: malformed handshake payload")
	// ErrKey: a public key that is not a valid Ed25519 point, or a private id
	// argument that is not a private id.
	ErrKey = errors.New("session: invalid key or id")
	// ErrKeyMismatch: the Ed25519 key in message 1 is not the one whose X25519
	// form the initiator used as its Noise static key.
	ErrKeyMismatch = errors.New("session: ed25519 key does not match the noise static key")
	// ErrStale: a message 1 whose timestamp is not newer than the newest one
	// accepted from the same initiator (a replay), or outside
	// Options.MaxHandshakeAge; also a reset older than the session.
	ErrStale = errors.New("session: stale handshake timestamp")
	// ErrSimultaneous: both sides initiated at once and this side keeps its
	// initiator role; the message 1 is ignored (the peer will answer ours).
	ErrSimultaneous = errors.New("session: simultaneous open, keeping the initiator role")
	// ErrFinished: a message 2 for an initiator that already has its session
	// (a later copy); ignore it.
	ErrFinished = errors.New("session: handshake already finished")
	// ErrAbandoned: the initiator was abandoned (by the caller, or because
	// the peer's message 1 won a simultaneous open).
	ErrAbandoned = errors.New("session: initiator abandoned")
	// ErrRefusedByPeer: an authenticated message 2 saying the peer refuses
	// this host (FlagRefused); no session is made.
	ErrRefusedByPeer = errors.New("session: the peer refused this host")
	// ErrRefuse is what an AcceptFunc wraps to have the refusal announced to
	// the initiator (Accepted.Refusal) rather than ignored.
	ErrRefuse = errors.New("session: refused")
	// ErrResetMismatch: a reset that names another session than this one.
	ErrResetMismatch = errors.New("session: reset is for another session")
)

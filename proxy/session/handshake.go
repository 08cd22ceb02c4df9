package session

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/flynn/noise"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
)

// cipherSuite is Noise_IK_25519_ChaChaPoly_BLAKE2s, WireGuard's choice of
// primitives; the pattern is fixed in handshakeConfig.
var cipherSuite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)

// Options tune a handshake. The zero value is usable.
type Options struct {
	// Flags are what an initiator announces in message 1 (the responder's
	// come from its AcceptFunc).
	Flags Flags
	// Via is the middlebox an initiator asks the responder to send through
	// (§6.4), zero for none (the responder's comes from its AcceptFunc).
	Via id.ID
	// Rand is the source of ephemeral keys; nil means crypto/rand. Tests set
	// it to a fixed stream to make handshakes reproducible.
	Rand io.Reader
	// MaxHandshakeAge, if not zero, makes a Responder refuse a message 1
	// whose timestamp differs from its own clock by more than this
	// (ErrStale): it bounds replays of old message 1s after Forget, at the
	// price of needing clocks within that skew. DefaultMaxHandshakeAge suits
	// NTP-kept hosts. Zero (the default) checks only that timestamps grow.
	MaxHandshakeAge time.Duration
}

func (o *Options) rand() io.Reader {
	if o.Rand == nil {
		return rand.Reader
	}
	return o.Rand
}

// staticKeypair returns the Noise static key pair of an identity: the X25519
// forms of its Ed25519 key.
func staticKeypair(x *identity.Identity) (noise.DHKey, error) {
	priv := x.X25519()
	pub, err := x.Public().X25519()
	if err != nil {
		return noise.DHKey{}, fmt.Errorf("session: local key: %w", ErrKey)
	}
	return noise.DHKey{Private: priv[:], Public: pub[:]}, nil
}

// handshakeConfig returns the Noise configuration of one side. rnd must
// yield the ephemeral private key.
func handshakeConfig(initiator bool, static noise.DHKey, peerStatic []byte, rnd io.Reader) noise.Config {
	return noise.Config{
		CipherSuite:   cipherSuite,
		Random:        rnd,
		Pattern:       noise.HandshakeIK,
		Initiator:     initiator,
		Prologue:      []byte(Prologue),
		StaticKeypair: static,
		PeerStatic:    peerStatic,
	}
}

// Initiator is one side's attempt to open a session with a host whose key it
// knows (from the address book). Its message 1 goes to the peer's public id,
// again and again on a timer the caller owns, until a message 2 arrives on
// the initiator's private id. It is safe for concurrent use.
type Initiator struct {
	local   *identity.Identity
	static  noise.DHKey
	remote  identity.PublicKey
	remoteX [KeyLen]byte
	privID  id.ID
	flags   Flags
	via     id.ID
	ts      timestamp
	eph     [KeyLen]byte // ephemeral private key: rebuilds the state after a bad message 2
	msg1    []byte
	resp    *Responder // set when created by Responder.Initiate

	mu        sync.Mutex
	hs        *noise.HandshakeState // state after writing message 1; nil: rebuild from eph
	sess      *Session
	abandoned bool
}

// NewInitiator starts a handshake from local to remote. localPrivID is the
// private id on which local has (or will have) a trigger for this peer; now
// stamps message 1 (its timestamp must grow from one initiator to the next
// for the same pair, or the responder takes it for a replay).
//
// An Initiator made here is not known to any Responder, so a simultaneous
// open is not detected; use Responder.Initiate for that.
func NewInitiator(local *identity.Identity, remote identity.PublicKey, localPrivID id.ID, opts Options, now time.Time) (*Initiator, error) {
	if !validPrivateID(localPrivID) {
		return nil, fmt.Errorf("session: local private id %s: %w", localPrivID.Short(), ErrKey)
	}
	static, err := staticKeypair(local)
	if err != nil {
		return nil, err
	}
	remoteX, err := remote.X25519()
	if err != nil {
		return nil, fmt.Errorf("session: remote key %v: %w", remote, ErrKey)
	}
	i := &Initiator{
		local:   local,
		static:  static,
		remote:  remote,
		remoteX: remoteX,
		privID:  localPrivID,
		flags:   opts.Flags | hardwareFlags(),
		via:     opts.Via,
		ts:      stamp(now),
	}
	if _, err := io.ReadFull(opts.rand(), i.eph[:]); err != nil {
		return nil, fmt.Errorf("session: ephemeral key: %w", err)
	}
	i.hs, i.msg1, err = i.build()
	if err != nil {
		return nil, err
	}
	return i, nil
}

// build makes the handshake state after message 1 from the stored ephemeral
// key: the same bytes every time, as Noise encryption is deterministic.
func (i *Initiator) build() (*noise.HandshakeState, []byte, error) {
	hs, err := noise.NewHandshakeState(handshakeConfig(true, i.static, i.remoteX[:], bytes.NewReader(i.eph[:])))
	if err != nil {
		return nil, nil, fmt.Errorf("session: handshake state: %w", err)
	}
	p := payload1{version: Version, key: i.local.Public(), privID: i.privID, flags: i.flags, ts: i.ts, via: i.via}
	var pb [Payload1Len]byte
	msg, _, _, err := hs.WriteMessage(make([]byte, 1, Handshake1Len), p.appendTo(pb[:0]))
	if err != nil {
		// Only X25519 fails here: remote is a low-order point.
		return nil, nil, fmt.Errorf("session: handshake 1 to %v: %v: %w", i.remote, err, ErrKey)
	}
	msg[0] = byte(TypeHandshake1)
	if i.msg1 != nil && !bytes.Equal(msg, i.msg1) {
		return nil, nil, fmt.Errorf("session: handshake 1 to %v: rebuilt message differs", i.remote)
	}
	return hs, msg, nil
}

// Message1 returns the message 1 frame, to send to the peer's public id. It
// is the same slice on every call (a resend is the same bytes, so the
// responder recognises it); the caller must not modify it.
func (i *Initiator) Message1() []byte { return i.msg1 }

// Remote returns the peer's public key.
func (i *Initiator) Remote() identity.PublicKey { return i.remote }

// LocalPrivateID returns the private id announced in message 1.
func (i *Initiator) LocalPrivateID() id.ID { return i.privID }

// Finish completes the handshake with a message 2 frame (which arrives on
// the local private id). The first valid message 2 returns the session;
// later ones return ErrFinished, and invalid ones (ErrAuth, ErrPayload,
// ErrLength, ErrType) leave the initiator waiting for a valid one. After
// Abandon, or when the peer's own message 1 won a simultaneous open, it
// returns ErrAbandoned.
func (i *Initiator) Finish(msg2 []byte) (*Session, error) {
	f, err := ParseFrame(msg2)
	if err != nil {
		return nil, fmt.Errorf("session: handshake 2 from %v: %w", i.remote, err)
	}
	if f.Type != TypeHandshake2 {
		return nil, fmt.Errorf("session: handshake 2 from %v: %v frame: %w", i.remote, f.Type, ErrType)
	}
	i.mu.Lock()
	sess, err := i.finishLocked(f.Body)
	i.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if i.resp != nil {
		i.resp.untrack(i)
	}
	return sess, nil
}

func (i *Initiator) finishLocked(body []byte) (*Session, error) {
	switch {
	case i.sess != nil:
		return nil, ErrFinished
	case i.abandoned:
		return nil, ErrAbandoned
	}
	if i.hs == nil {
		hs, _, err := i.build()
		if err != nil {
			return nil, err
		}
		i.hs = hs
	}
	var pb [Payload2Len]byte
	plain, cs1, cs2, err := i.hs.ReadMessage(pb[:0], body)
	if err != nil || cs1 == nil {
		// A failed read may leave the state half-updated (flynn/noise does
		// not roll back a failed DH); rebuild it for the next message 2.
		i.hs = nil
		return nil, fmt.Errorf("session: handshake 2 from %v: %w", i.remote, ErrAuth)
	}
	i.hs = nil
	var p payload2
	if err := p.parse(plain); err != nil {
		return nil, fmt.Errorf("session: handshake 2 from %v: %w", i.remote, err)
	}
	if p.flags&FlagRefused != 0 {
		i.abandoned = true // later copies: ErrAbandoned
		return nil, fmt.Errorf("session: handshake 2 from %v: %w", i.remote, ErrRefusedByPeer)
	}
	i.sess = newSession(sessionParams{
		send:       cs1.UnsafeKey(),
		recv:       cs2.UnsafeKey(),
		initiator:  true,
		peer:       i.remote,
		localPriv:  i.privID,
		peerPriv:   p.privID,
		localFlags: i.flags,
		peerFlags:  p.flags,
		peerTime:   p.ts,
		localVia:   i.via,
		peerVia:    p.via,
	})
	return i.sess, nil
}

// Abandon stops the handshake: later messages 2 get ErrAbandoned, and a
// Responder that tracked it forgets it. It reports whether the initiator was
// still waiting (false if it had finished or was already abandoned).
func (i *Initiator) Abandon() bool {
	ok := i.abandon()
	if i.resp != nil {
		i.resp.untrack(i)
	}
	return ok
}

// abandon marks i abandoned unless it has finished.
func (i *Initiator) abandon() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.sess != nil || i.abandoned {
		return false
	}
	i.abandoned = true
	i.hs = nil
	return true
}

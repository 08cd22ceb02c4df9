package session

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/flynn/noise"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
)

// AcceptFunc decides on a message 1 that authenticated: peer is the
// initiator's Ed25519 key (proven: its X25519 form did the Noise handshake)
// and peerFlags its flags. It returns the private id the peer must send to
// (on which the caller has or will insert a trigger) and this side's flags,
// or an error to refuse the peer (not in the address book, policy); the
// error is returned from Handle, wrapped. It runs under the Responder's lock:
// it must not call the Responder.
type AcceptFunc func(hello Hello) (Reply, error)

// Hello is what a message 1 that authenticated says of its initiator.
type Hello struct {
	Key   identity.PublicKey // the initiator's key, proven
	Flags Flags              // its flags
	Via   id.ID              // the middlebox it asks this side to send through; zero: none
}

// Reply is the responder's side of a session it accepts.
type Reply struct {
	PrivID id.ID // the private id the initiator must send to
	Flags  Flags // this side's flags
	Via    id.ID // the middlebox this side asks the initiator to send through; zero: none
}

// Accepted is the outcome of a message 1 that Handle accepted.
type Accepted struct {
	// Session is the new session (on a duplicate message 1, the same one as
	// before). The responder may send on it at once; it is unconfirmed
	// (Session.Confirmed) until a frame from the initiator opens on it.
	Session *Session
	// Message2 is the frame to send to Session.PeerPrivateID(). It is shared
	// and cached: the caller must not modify it.
	Message2 []byte
	// Peer is the initiator's Ed25519 key, checked against its Noise static
	// key; the caller checked it against its book in the AcceptFunc.
	Peer identity.PublicKey
	// Duplicate reports a resent message 1 (message 2 was lost): Session and
	// Message2 are those of the first copy, nothing changed, and the
	// AcceptFunc was not called.
	Duplicate bool
	// Replaces is the previous session with the same peer (the peer
	// restarted or handshook again), which Session supersedes; nil if none.
	Replaces *Session
	// Abandoned is this side's own pending Initiator to the same peer, which
	// lost a simultaneous open and has been abandoned; stop resending it.
	Abandoned *Initiator
	// Refusal is set, with Handle's error, when the AcceptFunc refused the
	// initiator with an error wrapping ErrRefuse: an authenticated message 2
	// (FlagRefused) to send to RefusalTo, the initiator's private id, so it
	// learns at once. Nothing else is set and nothing is stored.
	Refusal   []byte
	RefusalTo id.ID
}

// peerState is what a Responder keeps per initiator key.
type peerState struct {
	ts   timestamp // newest message 1 timestamp accepted
	eph  [KeyLen]byte
	msg1 []byte // the message 1 that made acc, to recognise resends
	acc  Accepted
}

// Responder answers message 1s arriving at a host's public id. There is one
// per proxy: it keeps, per initiator key, the newest timestamp accepted (to
// refuse replayed message 1s) and the last message 2 (to answer resends), and
// it tracks the host's own pending Initiators to settle simultaneous opens.
// It is safe for concurrent use; handshakes are serialised.
//
// Memory: one entry (about 400 bytes and the session) per accepted peer,
// kept until Forget. The AcceptFunc is the admission control: nothing is
// stored for a refused peer.
type Responder struct {
	local  *identity.Identity
	pub    identity.PublicKey
	static noise.DHKey
	opts   Options

	mu      sync.Mutex
	peers   map[identity.PublicKey]*peerState
	byEph   map[[KeyLen]byte]*peerState
	pending map[identity.PublicKey]*Initiator
}

// NewResponder returns the responder of the host local. opts.Rand and
// opts.MaxHandshakeAge apply; opts.Flags is ignored (see AcceptFunc).
func NewResponder(local *identity.Identity, opts Options) (*Responder, error) {
	static, err := staticKeypair(local)
	if err != nil {
		return nil, err
	}
	return &Responder{
		local:   local,
		pub:     local.Public(),
		static:  static,
		opts:    opts,
		peers:   make(map[identity.PublicKey]*peerState),
		byEph:   make(map[[KeyLen]byte]*peerState),
		pending: make(map[identity.PublicKey]*Initiator),
	}, nil
}

// Initiate starts a handshake to remote, as NewInitiator does, and tracks it
// until it finishes or is abandoned, so that a message 1 from remote arriving
// meanwhile settles the simultaneous open (see Handle). A previous pending
// Initiator to remote is abandoned.
func (r *Responder) Initiate(remote identity.PublicKey, localPrivID id.ID, flags Flags, now time.Time) (*Initiator, error) {
	return r.InitiateVia(remote, localPrivID, flags, id.ID{}, now)
}

// InitiateVia is Initiate asking the peer to send through the middlebox id
// via (Options.Via).
func (r *Responder) InitiateVia(remote identity.PublicKey, localPrivID id.ID, flags Flags, via id.ID, now time.Time) (*Initiator, error) {
	opts := r.opts
	opts.Flags, opts.Via = flags, via
	i, err := NewInitiator(r.local, remote, localPrivID, opts, now)
	if err != nil {
		return nil, err
	}
	i.resp = r
	r.mu.Lock()
	old := r.pending[remote]
	r.pending[remote] = i
	if old != nil {
		old.abandon()
	}
	r.mu.Unlock()
	return i, nil
}

// untrack forgets i if it is the pending initiator to its peer.
func (r *Responder) untrack(i *Initiator) {
	r.mu.Lock()
	if r.pending[i.remote] == i {
		delete(r.pending, i.remote)
	}
	r.mu.Unlock()
}

// KeepsInitiatorRole reports whether, when local and remote initiate to each
// other at the same time, local keeps its initiator role: the side with the
// larger Ed25519 public key (compared as bytes) does, the other answers.
func KeepsInitiatorRole(local, remote identity.PublicKey) bool {
	return bytes.Compare(local[:], remote[:]) > 0
}

// Handle answers a message 1 frame at time now. In order:
//
//  1. A resend of the message 1 last accepted from its initiator returns the
//     same Accepted (Duplicate set) without any cryptography.
//  2. The Noise message is read (ErrAuth), the payload parsed (ErrVersion,
//     ErrPayload) and the Ed25519 key in it checked against the Noise static
//     key (ErrKeyMismatch).
//  3. Its timestamp must be newer than the last accepted from that key, and
//     within Options.MaxHandshakeAge if set (ErrStale).
//  4. If this side has a pending Initiator (from Initiate) to the same peer,
//     the side with the larger key keeps its role: here ErrSimultaneous, and
//     nothing changes; otherwise that Initiator is abandoned
//     (Accepted.Abandoned).
//  5. accept decides (its error is returned, wrapped) and names the private
//     id; message 2 is written and the session made. It replaces the
//     previous session with that peer (Accepted.Replaces).
//
// Nothing is stored unless the message is accepted.
func (r *Responder) Handle(msg1 []byte, accept AcceptFunc, now time.Time) (Accepted, error) {
	f, err := ParseFrame(msg1)
	if err != nil {
		return Accepted{}, fmt.Errorf("session: handshake 1: %w", err)
	}
	if f.Type != TypeHandshake1 {
		return Accepted{}, fmt.Errorf("session: handshake 1: %v frame: %w", f.Type, ErrType)
	}
	var eph [KeyLen]byte
	copy(eph[:], f.Body)

	r.mu.Lock()
	defer r.mu.Unlock()
	if acc, ok := r.duplicate(eph, msg1); ok {
		return acc, nil
	}
	hs, p, err := r.readMessage1(f.Body)
	if err != nil {
		return Accepted{}, err
	}
	st := r.peers[p.key]
	if err := r.checkFresh(st, &p, now); err != nil {
		return Accepted{}, err
	}
	pend := r.pending[p.key]
	if pend != nil && KeepsInitiatorRole(r.pub, p.key) {
		return Accepted{}, fmt.Errorf("session: handshake 1 from %v: %w", p.key, ErrSimultaneous)
	}
	acc, err := answerMessage1(hs, &p, accept, now)
	if err != nil {
		return refusal(hs, &p, err, now), err
	}
	r.record(&acc, st, pend, eph, msg1, p.ts)
	return acc, nil
}

// duplicate returns the Accepted of the message 1 last accepted with
// ephemeral key eph if msg1 is a resend of it (step 1 of Handle). r.mu is held.
func (r *Responder) duplicate(eph [KeyLen]byte, msg1 []byte) (Accepted, bool) {
	st := r.byEph[eph]
	if st == nil || subtle.ConstantTimeCompare(st.msg1, msg1) != 1 {
		return Accepted{}, false
	}
	acc := st.acc
	acc.Duplicate, acc.Replaces, acc.Abandoned = true, nil, nil
	return acc, true
}

// readMessage1 reads the Noise message of a message 1 frame's body, parses its
// payload and checks the Ed25519 key in it against the Noise static key (step
// 2 of Handle). The returned handshake state writes message 2.
func (r *Responder) readMessage1(body []byte) (*noise.HandshakeState, payload1, error) {
	var p payload1
	hs, err := noise.NewHandshakeState(handshakeConfig(false, r.static, nil, r.opts.rand()))
	if err != nil {
		return nil, p, fmt.Errorf("session: handshake state: %w", err)
	}
	var pb [Payload1Len]byte
	plain, _, _, err := hs.ReadMessage(pb[:0], body)
	if err != nil {
		return nil, p, fmt.Errorf("session: handshake 1: %w", ErrAuth)
	}
	if err := p.parse(plain); err != nil {
		return nil, p, fmt.Errorf("session: handshake 1: %w", err)
	}
	peerX, err := p.key.X25519()
	if err != nil || subtle.ConstantTimeCompare(peerX[:], hs.PeerStatic()) != 1 {
		return nil, p, fmt.Errorf("session: handshake 1 claiming %v: %w", p.key, ErrKeyMismatch)
	}
	return hs, p, nil
}

// checkFresh refuses a message 1 not newer than the last accepted from its key
// (st, nil if none) or, with Options.MaxHandshakeAge, too far from now (step 3
// of Handle).
func (r *Responder) checkFresh(st *peerState, p *payload1, now time.Time) error {
	if st != nil && !p.ts.after(st.ts) {
		return fmt.Errorf("session: handshake 1 from %v: stamped %v, have %v: %w",
			p.key, p.ts.time().UTC(), st.ts.time().UTC(), ErrStale)
	}
	if age := r.opts.MaxHandshakeAge; age > 0 {
		if d := now.Sub(p.ts.time()); d > age || d < -age {
			return fmt.Errorf("session: handshake 1 from %v: stamped %v, %v from now: %w",
				p.key, p.ts.time().UTC(), d, ErrStale)
		}
	}
	return nil
}

// answerMessage1 asks accept for the private id and flags, writes message 2
// with hs and makes the session (step 5 of Handle).
func answerMessage1(hs *noise.HandshakeState, p *payload1, accept AcceptFunc, now time.Time) (Accepted, error) {
	reply, err := accept(Hello{Key: p.key, Flags: p.flags, Via: p.via})
	localPriv, localFlags := reply.PrivID, reply.Flags
	if err != nil {
		return Accepted{}, fmt.Errorf("session: handshake 1 from %v refused: %w", p.key, err)
	}
	if !validPrivateID(localPriv) {
		return Accepted{}, fmt.Errorf("session: handshake 1 from %v: local private id %s: %w", p.key, localPriv.Short(), ErrKey)
	}
	localFlags |= hardwareFlags()
	p2 := payload2{privID: localPriv, flags: localFlags, ts: stamp(now), via: reply.Via}
	var pb2 [Payload2Len]byte
	msg2, cs1, cs2, err := hs.WriteMessage(make([]byte, 1, Handshake2Len), p2.appendTo(pb2[:0]))
	if err != nil {
		return Accepted{}, fmt.Errorf("session: handshake 2 to %v: %w", p.key, err)
	}
	msg2[0] = byte(TypeHandshake2)
	return Accepted{
		Session: newSession(sessionParams{
			send:       cs2.UnsafeKey(),
			recv:       cs1.UnsafeKey(),
			peer:       p.key,
			localPriv:  localPriv,
			peerPriv:   p.privID,
			localFlags: localFlags,
			peerFlags:  p.flags,
			peerTime:   p.ts,
			localVia:   reply.Via,
			peerVia:    p.via,
		}),
		Message2: msg2,
		Peer:     p.key,
	}, nil
}

// refusal returns, for an AcceptFunc error err that wraps ErrRefuse, the
// Accepted that carries the authenticated refusal message 2 (FlagRefused, zero
// private id); for any other error an empty Accepted.
func refusal(hs *noise.HandshakeState, p *payload1, err error, now time.Time) Accepted {
	if !errors.Is(err, ErrRefuse) {
		return Accepted{}
	}
	p2 := payload2{flags: FlagRefused, ts: stamp(now)}
	var pb2 [Payload2Len]byte
	msg2, _, _, werr := hs.WriteMessage(make([]byte, 1, Handshake2Len), p2.appendTo(pb2[:0]))
	if werr != nil {
		return Accepted{}
	}
	msg2[0] = byte(TypeHandshake2)
	return Accepted{Refusal: msg2, RefusalTo: p.privID, Peer: p.key}
}

// record stores an accepted message 1: acc replaces the peer's previous state
// st (nil if none) and abandons this side's pending initiator pend (nil if
// none), both noted in acc. r.mu is held.
func (r *Responder) record(acc *Accepted, st *peerState, pend *Initiator, eph [KeyLen]byte, msg1 []byte, ts timestamp) {
	if st != nil {
		acc.Replaces = st.acc.Session
		delete(r.byEph, st.eph)
	}
	if pend != nil && pend.abandon() {
		acc.Abandoned = pend
	}
	if pend != nil {
		delete(r.pending, acc.Peer)
	}
	nst := &peerState{ts: ts, eph: eph, msg1: bytes.Clone(msg1), acc: *acc}
	nst.acc.Replaces, nst.acc.Abandoned = nil, nil
	r.peers[acc.Peer] = nst
	r.byEph[eph] = nst
}

// Forget drops what the Responder keeps about peer: call it when the caller
// drops the peer's session and mapping. Afterwards an old message 1 of that
// peer, replayed, is accepted again (unless Options.MaxHandshakeAge refuses
// it), so forget only peers that are gone.
func (r *Responder) Forget(peer identity.PublicKey) {
	r.mu.Lock()
	if st := r.peers[peer]; st != nil {
		delete(r.byEph, st.eph)
		delete(r.peers, peer)
	}
	r.mu.Unlock()
}

// Len returns the number of peers the Responder keeps state for.
func (r *Responder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.peers)
}

package session

import (
	"crypto/cipher"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
)

// Session is an established session with one peer: the keys of both
// directions, the send counter and the replay window. Seal and Keepalive may
// be called from several goroutines at once, and Open concurrently with them
// (and with itself): the send counter is atomic and the replay window sits
// under a small lock taken twice per Open, around no cryptography.
type Session struct {
	send, recv cipher.AEAD
	next       atomic.Uint64 // counter of the next frame sent
	confirmed  atomic.Bool   // the peer proved it holds the keys

	mu     sync.Mutex
	window replayWindow

	initiator  bool
	plaintext  bool
	peer       identity.PublicKey
	localPriv  id.ID
	peerPriv   id.ID
	localFlags Flags
	peerFlags  Flags
	peerTime   timestamp // the peer's handshake timestamp: older resets are stale
	localVia   id.ID     // the middlebox this side asked the peer to send through
	peerVia    id.ID     // the middlebox the peer asked this side to send through
}

// sessionParams are what a completed handshake hands to newSession.
type sessionParams struct {
	send, recv            [KeyLen]byte
	initiator             bool
	peer                  identity.PublicKey
	localPriv, peerPriv   id.ID
	localFlags, peerFlags Flags
	peerTime              timestamp
	localVia, peerVia     id.ID
}

func newSession(p sessionParams) *Session {
	aead := newChaCha
	if p.localFlags&p.peerFlags&FlagAESGCM != 0 {
		aead = newAESGCM
	}
	send, recv := aead(p.send[:]), aead(p.recv[:])
	clear(p.send[:])
	clear(p.recv[:])
	s := &Session{
		send:       send,
		recv:       recv,
		initiator:  p.initiator,
		plaintext:  (p.localFlags|p.peerFlags)&FlagPlaintext != 0,
		peer:       p.peer,
		localPriv:  p.localPriv,
		peerPriv:   p.peerPriv,
		localFlags: p.localFlags,
		peerFlags:  p.peerFlags,
		peerTime:   p.peerTime,
		localVia:   p.localVia,
		peerVia:    p.peerVia,
	}
	s.confirmed.Store(p.initiator) // message 2 proved the responder
	return s
}

// nonces holds 12-byte AEAD nonces: a nonce on the stack would escape
// through the cipher.AEAD interface and cost an allocation per frame.
var nonces = sync.Pool{New: func() any { return new([chacha20poly1305.NonceSize]byte) }}

// getNonce returns a nonce for counter n: 4 zero bytes, then n
// little-endian (Noise's ChaChaPoly nonce).
func getNonce(n uint64) *[chacha20poly1305.NonceSize]byte {
	np := nonces.Get().(*[chacha20poly1305.NonceSize]byte)
	np[0], np[1], np[2], np[3] = 0, 0, 0, 0
	binary.LittleEndian.PutUint64(np[4:], n)
	return np
}

// Seal appends to dst a frame carrying packet (an IP packet) and returns the
// extended slice: a data frame (encrypted), or a plaintext frame if the
// session is plaintext. It adds Overhead bytes and allocates nothing when
// dst has the capacity. To seal in place, put the packet at
// dst[len(dst)+HeaderLen:] (inside dst's capacity) and pass it as packet.
// It fails only with ErrExhausted, after RejectAfterMessages frames.
func (s *Session) Seal(dst, packet []byte) ([]byte, error) {
	typ := TypeData
	if s.plaintext {
		typ = TypePlaintext
	}
	return s.seal(dst, typ, packet)
}

// Keepalive appends a keepalive frame to dst (KeepaliveLen bytes): it
// proves the session alive to the peer without carrying a packet.
func (s *Session) Keepalive(dst []byte) ([]byte, error) {
	return s.seal(dst, TypeKeepalive, nil)
}

func (s *Session) seal(dst []byte, typ Type, packet []byte) ([]byte, error) {
	n := s.next.Add(1) - 1
	if n >= RejectAfterMessages {
		return dst, ErrExhausted
	}
	start := len(dst)
	dst = append(dst, byte(typ))
	dst = binary.BigEndian.AppendUint64(dst, n)
	np := getNonce(n)
	if typ == TypePlaintext {
		// The tag authenticates header and packet, which travel in clear.
		dst = append(dst, packet...)
		dst = s.send.Seal(dst, np[:], nil, dst[start:])
	} else {
		dst = s.send.Seal(dst, np[:], packet, dst[start:start+HeaderLen])
	}
	nonces.Put(np)
	return dst, nil
}

// Open authenticates a data, plaintext or keepalive frame from the peer and
// appends its IP packet to dst (nothing for a keepalive), returning the
// extended slice. On error dst is returned unchanged, with one of
// ErrLength, ErrType, ErrMode, ErrTooOld, ErrReplay, ErrExhausted or ErrAuth
// (never wrapped, so counting drops costs nothing). It allocates nothing
// when dst has the capacity. To open in place, pass
// dst = frame[HeaderLen:HeaderLen]: the packet then lands where the
// ciphertext was (on error the frame's bytes may be overwritten).
func (s *Session) Open(dst, frame []byte) ([]byte, error) {
	if len(frame) < Overhead {
		return dst, ErrLength
	}
	typ := Type(frame[0])
	switch typ {
	case TypeData:
		if s.plaintext {
			return dst, ErrMode
		}
	case TypePlaintext:
		if !s.plaintext {
			return dst, ErrMode
		}
	case TypeKeepalive:
		if len(frame) != KeepaliveLen {
			return dst, ErrLength
		}
	default:
		return dst, ErrType
	}
	n := binary.BigEndian.Uint64(frame[1:HeaderLen])
	if typ == TypePlaintext {
		// The tag authenticates header and packet, which travel in clear.
		tagAt := len(frame) - TagLen
		if _, err := s.openCounted(dst[len(dst):len(dst)], n, frame[tagAt:], frame[:tagAt]); err != nil {
			return dst, err
		}
		return append(dst, frame[HeaderLen:tagAt]...), nil
	}
	return s.openCounted(dst, n, frame[HeaderLen:], frame[:HeaderLen])
}

// openCounted is every open of a frame with counter n: it checks n against
// the replay window, authenticates ciphertext (its tag last) with the
// additional data ad and appends the plaintext to dst, then records n, and
// with it the peer's proof that it holds the keys (Confirmed). Errors are
// Open's; on error dst is returned unchanged.
func (s *Session) openCounted(dst []byte, n uint64, ciphertext, ad []byte) ([]byte, error) {
	s.mu.Lock()
	err := s.window.check(n)
	s.mu.Unlock()
	if err != nil {
		return dst, err
	}
	np := getNonce(n)
	out, err := s.recv.Open(dst, np[:], ciphertext, ad)
	nonces.Put(np)
	if err != nil {
		return dst, ErrAuth
	}
	s.mu.Lock()
	err = s.window.accept(n)
	s.mu.Unlock()
	if err != nil {
		return dst, err
	}
	if !s.confirmed.Load() {
		s.confirmed.Store(true)
	}
	return out, nil
}

// Confirmed reports whether the peer has proven it holds this session's
// keys: always for the initiator (message 2 proved the responder), and for
// the responder once a frame from the initiator has opened. A message 1
// replayed to a responder that forgot (Forget) or restarted yields a session
// nobody can use, which stays unconfirmed: keep sending on a confirmed
// session until its replacement is confirmed. An initiator with nothing to
// send right after Finish sends a keepalive, to confirm at once.
func (s *Session) Confirmed() bool { return s.confirmed.Load() }

// Peer returns the peer's Ed25519 key, proven by the handshake.
func (s *Session) Peer() identity.PublicKey { return s.peer }

// PeerPrivateID returns the private id the peer receives on: send frames
// there.
func (s *Session) PeerPrivateID() id.ID { return s.peerPriv }

// Via returns the middlebox (§6.4) the session's frames go through, first on
// their stack, and whether this side imposed it: the one this side asked
// for, else the one the peer asked for; zero when none.
func (s *Session) Via() (via id.ID, local bool) {
	if !s.localVia.IsZero() {
		return s.localVia, true
	}
	return s.peerVia, false
}

// LocalPrivateID returns the private id this side receives the peer's
// frames on.
func (s *Session) LocalPrivateID() id.ID { return s.localPriv }

// Plaintext reports whether data frames travel in clear (either side asked).
func (s *Session) Plaintext() bool { return s.plaintext }

// Shortcut reports whether both sides accept shortcuts (§5.2).
func (s *Session) Shortcut() bool { return s.localFlags&s.peerFlags&FlagShortcut != 0 }

// LocalFlags returns the flags this side announced.
func (s *Session) LocalFlags() Flags { return s.localFlags }

// Cipher names the AEAD that protects the session's data.
func (s *Session) Cipher() string {
	if s.localFlags&s.peerFlags&FlagAESGCM != 0 {
		return "aes-256-gcm"
	}
	return "chacha20-poly1305"
}

// PeerFlags returns the flags the peer announced.
func (s *Session) PeerFlags() Flags { return s.peerFlags }

// Initiator reports whether this side initiated the handshake.
func (s *Session) Initiator() bool { return s.initiator }

// Sent returns the number of frames sealed so far.
func (s *Session) Sent() uint64 { return min(s.next.Load(), RejectAfterMessages) }

// String describes the session for logs: the peer and the private ids in
// short form, never keys.
func (s *Session) String() string {
	mode := "encrypted"
	if s.plaintext {
		mode = "plaintext"
	}
	return "session(" + s.peer.String() + " local " + s.localPriv.Short() + " peer " + s.peerPriv.Short() + " " + mode + ")"
}

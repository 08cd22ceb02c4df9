// Package pass is what a middlebox and the hosts that impose it share (paper
// §6.4: "some protocol between the client proxy and the middle-box" so that
// it cannot be bypassed):
//
//   - a pass key per (middlebox, host) pair, from the static X25519 forms of
//     their identity keys (each side computes it from its own private key
//     and the other's public key: nothing to configure but the keys);
//   - a pass tag the middlebox appends to every frame it forwards on a host's
//     trigger: HMAC-SHA256 over the frame, cut to 16 bytes (SHA-256 has
//     instructions in today's CPUs: 1.36 GB/s here against BLAKE2s's 0.3). The host that
//     requires the middlebox accepts a data frame only with a valid tag, so a
//     peer that sends straight to the host's private id, skipping the
//     middlebox, is dropped; the other end of the session strips the tag;
//   - the middlebox's trigger ids: one per host it serves, its public id's
//     128-bit prefix with a suffix from the host's key (15 bytes) and the
//     member's byte (anycast groups share the identity, §2.1);
//   - alert frames: what the middlebox's IDS said, sent to the host that
//     imposed it, authenticated with the pass key.
package pass

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/hkdf"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
)

// TagLen is the size of a pass tag.
const TagLen = 16

// Key is a pass key.
type Key [32]byte

// NewKey returns the pass key local shares with remote: HKDF-SHA256 of their
// X25519 shared secret and both public keys, so the middlebox and the host
// compute the same key.
func NewKey(local *identity.Identity, remote identity.PublicKey) (Key, error) {
	var k Key
	priv := local.X25519()
	pub, err := remote.X25519()
	if err != nil {
		return k, fmt.Errorf("pass: key %v: %w", remote, err)
	}
	shared, err := curve25519.X25519(priv[:], pub[:])
	if err != nil {
		return k, fmt.Errorf("pass: key %v: %w", remote, err)
	}
	a, b := local.Public(), remote
	if string(a[:]) > string(b[:]) {
		a, b = b, a
	}
	info := append(append([]byte("i3net middlebox pass v1"), a[:]...), b[:]...)
	if _, err := io.ReadFull(hkdf.New(sha256.New, shared, nil, info), k[:]); err != nil {
		return k, err
	}
	return k, nil
}

// Tagger appends and checks pass tags with one key. It is not safe for
// concurrent use (it keeps its MAC state); make one per goroutine.
type Tagger struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

// NewTagger returns a Tagger for k.
func NewTagger(k Key) *Tagger {
	return &Tagger{mac: hmac.New(sha256.New, k[:])}
}

// tag returns the tag of frame.
func (t *Tagger) tag(frame []byte) []byte {
	t.mac.Reset()
	t.mac.Write(frame)
	return t.mac.Sum(t.sum[:0])[:TagLen]
}

// Append appends frame and its tag to dst.
func (t *Tagger) Append(dst, frame []byte) []byte {
	dst = append(dst, frame...)
	return append(dst, t.tag(frame)...)
}

// ErrTag: a frame without a valid pass tag (it did not pass the middlebox).
var ErrTag = errors.New("pass: no valid middlebox tag")

// Check returns tagged without its tag if the tag is valid.
func (t *Tagger) Check(tagged []byte) ([]byte, error) {
	if len(tagged) < TagLen {
		return nil, ErrTag
	}
	frame := tagged[:len(tagged)-TagLen]
	want := t.tag(frame)
	var diff byte
	for i, b := range tagged[len(frame):] {
		diff |= b ^ want[i]
	}
	if diff != 0 {
		return nil, ErrTag
	}
	return frame, nil
}

// Strip returns tagged without its tag, unchecked: what the end of a session
// that does not hold the pass key does.
func Strip(tagged []byte) ([]byte, bool) {
	if len(tagged) < TagLen {
		return nil, false
	}
	return tagged[:len(tagged)-TagLen], true
}

// HostTrigger is the id of the trigger middlebox member (its byte) inserts
// for host: the middlebox's public id's first 16 bytes, 15 bytes of a hash of
// the host's key, the member byte.
func HostTrigger(mb id.ID, host identity.PublicKey, member byte) id.ID {
	h := sha256.Sum256(append([]byte("i3net middlebox host v1\x00"), host[:]...))
	x := mb
	copy(x[16:31], h[:15])
	x[31] = member
	return x
}

// Member returns the byte of the anycast member named name ("" is member 0).
func Member(name string) byte {
	if name == "" {
		return 0
	}
	h := sha256.Sum256([]byte("i3net middlebox member v1\x00" + name))
	return h[0]
}

// HostOf returns which of hosts the trigger id x names (its bytes 16–30), or
// false.
func HostOf(x id.ID, mb id.ID, hosts []identity.PublicKey) (identity.PublicKey, bool) {
	if id.CommonPrefixLen(x, mb) < 128 {
		return identity.PublicKey{}, false
	}
	for _, h := range hosts {
		t := HostTrigger(mb, h, x[31])
		if t == x {
			return h, true
		}
	}
	return identity.PublicKey{}, false
}

// TypeAlert is the first byte of an alert frame (session frames use 1 to 6 and 8).
const TypeAlert = 0x07

// MaxAlert bounds an alert's event text.
const MaxAlert = 4096

// AppendAlert appends an alert frame carrying event (the IDS's own record,
// e.g. a line of Suricata's eve.json) to dst: the type byte, the event, the
// pass tag over both.
func (t *Tagger) AppendAlert(dst, event []byte) []byte {
	if len(event) > MaxAlert {
		event = event[:MaxAlert]
	}
	start := len(dst)
	dst = append(dst, TypeAlert)
	dst = append(dst, event...)
	return append(dst, t.tag(dst[start:])...)
}

// OpenAlert returns the event of an alert frame if its tag is valid.
func (t *Tagger) OpenAlert(frame []byte) ([]byte, error) {
	body, err := t.Check(frame)
	if err != nil || len(body) < 1 || body[0] != TypeAlert {
		return nil, ErrTag
	}
	return body[1:], nil
}

package id

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

const (
	// Len is the size of an id in bytes.
	Len = 32
	// Bits is the size of an id in bits.
	Bits = Len * 8
	// MatchBits is how many leading bits a packet id must share with a trigger id
	// for them to match at all.
	MatchBits = 128
	// KeyLen is the size of the part every match must share, in bytes.
	KeyLen = MatchBits / 8

	publicByte = 7
	publicBit  = 0x01
)

// ID is a 256-bit i3 identifier.
type ID [Len]byte

// Key128 is the first 128 bits of an id: all ids that can match each other share it,
// so it is the key of a trigger table and the position of an id on the ring.
type Key128 [KeyLen]byte

// Key returns the first 128 bits of x.
func (x ID) Key() Key128 {
	var k Key128
	copy(k[:], x[:KeyLen])
	return k
}

// IsZero reports whether x is all zero bits.
func (x ID) IsZero() bool { return x == ID{} }

// IsPublic reports whether the public bit of x is set.
func (x ID) IsPublic() bool { return x[publicByte]&publicBit != 0 }

// WithPublic returns x with its public bit set or cleared.
func (x ID) WithPublic(public bool) ID {
	if public {
		x[publicByte] |= publicBit
	} else {
		x[publicByte] &^= publicBit
	}
	return x
}

// String returns x as 64 lowercase hex digits.
func (x ID) String() string { return hex.EncodeToString(x[:]) }

// Short returns the first 8 hex digits of x and an ellipsis, for logs and tables.
func (x ID) Short() string { return hex.EncodeToString(x[:4]) + "…" }

// MarshalText implements encoding.TextMarshaler (64 hex digits).
func (x ID) MarshalText() ([]byte, error) { return []byte(x.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it accepts what Parse accepts.
func (x *ID) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*x = v
	return nil
}

// ErrSyntax is returned (wrapped) by Parse for input that is not an id.
var ErrSyntax = errors.New("not an id")

// Parse reads an id written as 64 hex digits; an optional "0x" prefix and ':' or
// '-' separators are ignored, so ids pasted from other tools parse too.
func Parse(s string) (ID, error) {
	clean := strings.NewReplacer(":", "", "-", "", " ", "").Replace(strings.TrimPrefix(strings.TrimSpace(s), "0x"))
	var x ID
	if len(clean) != 2*Len {
		return x, fmt.Errorf("id.Parse(%q): %w: want %d hex digits, have %d", s, ErrSyntax, 2*Len, len(clean))
	}
	if _, err := hex.Decode(x[:], []byte(clean)); err != nil {
		return x, fmt.Errorf("id.Parse(%q): %w: %v", s, ErrSyntax, err)
	}
	return x, nil
}

// MustParse is Parse for tests and constants; it panics on bad input.
func MustParse(s string) ID {
	x, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return x
}

// CommonPrefixLen returns the number of leading bits a and b share (0..256).
func CommonPrefixLen(a, b ID) int {
	for i := 0; i < Len; i += 8 {
		wa := uint64(a[i])<<56 | uint64(a[i+1])<<48 | uint64(a[i+2])<<40 | uint64(a[i+3])<<32 |
			uint64(a[i+4])<<24 | uint64(a[i+5])<<16 | uint64(a[i+6])<<8 | uint64(a[i+7])
		wb := uint64(b[i])<<56 | uint64(b[i+1])<<48 | uint64(b[i+2])<<40 | uint64(b[i+3])<<32 |
			uint64(b[i+4])<<24 | uint64(b[i+5])<<16 | uint64(b[i+6])<<8 | uint64(b[i+7])
		if d := wa ^ wb; d != 0 {
			return i*8 + bits.LeadingZeros64(d)
		}
	}
	return Bits
}

// Matches reports whether a packet sent to pkt matches a trigger on trig whose
// prefix length is prefixLen: they must share at least max(128, prefixLen) bits.
// It returns the length of the shared prefix as the match's strength.
func Matches(pkt, trig ID, prefixLen int) (int, bool) {
	need := max(MatchBits, min(prefixLen, Bits))
	n := CommonPrefixLen(pkt, trig)
	return n, n >= need
}

// Random returns a fresh random id with the public bit cleared: a private id.
func Random() ID {
	var x ID
	if _, err := rand.Read(x[:]); err != nil {
		panic("id: crypto/rand failed: " + err.Error())
	}
	return x.WithPublic(false)
}

// RandomWithPrefix returns a random private id whose first n bits are those of p
// (n is clamped to 0..256). With n ≥ 128 the result joins p's anycast group; the
// proxy uses it to give all its private ids one shared trigger (paper §4.1).
func RandomWithPrefix(p ID, n int) ID {
	r := Random()
	n = max(0, min(n, Bits))
	full := n / 8
	copy(r[:full], p[:full])
	if rem := n % 8; rem != 0 {
		mask := byte(0xff << (8 - rem))
		r[full] = p[full]&mask | r[full]&^mask
	}
	return r
}

// FromPublicKey derives the public id of an Ed25519 identity key: SHA-256 of
// "i3net public id v1" and the key, with the public bit set. The address book
// stores the key, so a name pins a key and nobody else can answer for it.
func FromPublicKey(pub ed25519.PublicKey) ID {
	h := sha256.New()
	h.Write([]byte("i3net public id v1\x00"))
	h.Write(pub)
	var x ID
	copy(x[:], h.Sum(nil))
	return x.WithPublic(true)
}

// FromName hashes a name to an id (public bit set). It is for tests, examples and
// well-known rendezvous ids only: names hashed this way can be claimed by anyone.
func FromName(name string) ID {
	sum := sha256.Sum256([]byte(name))
	return ID(sum).WithPublic(true)
}

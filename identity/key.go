package identity

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"filippo.io/edwards25519"
	"github.com/btcsuite/btcd/btcutil/bech32"

	"github.com/i3net/i3net/id"
)

// The text form of a public key is bech32m (BIP 350): the human-readable part
// "i3pk", the separator "1", the 32 key bytes as 52 characters of the bech32
// alphabet, and a 6-character checksum; 63 characters in all, within bech32's
// limit of 90. The checksum detects any change of up to 4 characters, and a
// single wrong character or two swapped ones can be located, so a typo is an
// error naming its position rather than another valid key. bech32m rather than
// bech32: it also detects characters inserted or removed before a final "p".
const (
	// KeyHRP is the human-readable part of a key's text form.
	KeyHRP = "i3pk"
	// KeyPrefix starts the text form of every key: KeyHRP and the separator.
	KeyPrefix = KeyHRP + "1"
	// KeyTextLen is the length of a key's text form.
	KeyTextLen = len(KeyPrefix) + 52 + 6
	// LegacyKeyPrefix starts the text form of releases before bech32m:
	// "i3pk1:" and 43 characters of unpadded base64url, without a checksum.
	// ParseKeyText still reads it, for one release.
	LegacyKeyPrefix = "i3pk1:"
)

// bech32Chars is the bech32 alphabet (BIP 173), in value order.
const bech32Chars = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// PublicKey is an Ed25519 public key naming a host.
type PublicKey [ed25519.PublicKeySize]byte

// ErrKeySyntax is returned (wrapped) by ParsePublicKey and ParseKeyText.
var ErrKeySyntax = errors.New("not an i3net public key")

// KeyError is a text that is not a public key. It wraps ErrKeySyntax.
type KeyError struct {
	Text string // the text as given, without surrounding space
	Pos  int    // the character (from 1) found wrong, or 0
	Msg  string // what is wrong, in the reader's words
}

// Error returns `not an i3net public key: "TEXT": MSG`.
func (e *KeyError) Error() string {
	t := e.Text
	if utf8.RuneCountInString(t) > 80 {
		t = string([]rune(t)[:76]) + "…"
	}
	if t == "" {
		return fmt.Sprintf("%v: %s", ErrKeySyntax, e.Msg)
	}
	return fmt.Sprintf("%v: %q: %s", ErrKeySyntax, t, e.Msg)
}

// Unwrap returns ErrKeySyntax.
func (e *KeyError) Unwrap() error { return ErrKeySyntax }

// ParsePublicKey reads a key in its text form, or in the legacy form without a
// checksum (which ParseKeyText reports).
func ParsePublicKey(s string) (PublicKey, error) {
	k, _, err := ParseKeyText(s)
	return k, err
}

// ParseKeyText reads a key in its text form ("i3pk1…", in lower or upper
// case); legacy reports that s was in the form of earlier releases
// ("i3pk1:…"), which a person should be told to replace with k.String(). A
// typo is a *KeyError naming the character.
func ParseKeyText(s string) (k PublicKey, legacy bool, err error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, LegacyKeyPrefix) {
		k, err = parseLegacy(s)
		return k, err == nil, err
	}
	if err := checkKeyShape(s); err != nil {
		return k, false, err
	}
	lower := strings.ToLower(s)
	_, data, version, err := bech32.DecodeGeneric(lower)
	if err != nil || version != bech32.VersionM {
		return k, false, checksumError(s, lower)
	}
	b, err := bech32.ConvertBits(data, 5, 8, false)
	if err != nil || len(b) != len(k) {
		// Only a text made on purpose gets here: its checksum holds.
		return k, false, &KeyError{Text: s, Pos: KeyTextLen - 6,
			Msg: fmt.Sprintf("character %d is wrong: the key does not end on a byte boundary", KeyTextLen-6)}
	}
	if _, err := new(edwards25519.Point).SetBytes(b); err != nil {
		return k, false, &KeyError{Text: s, Msg: "the checksum holds, but this is not an Ed25519 public key"}
	}
	copy(k[:], b)
	return k, false, nil
}

// checkKeyShape checks what can be checked character by character: the case,
// the prefix, the alphabet and the length.
func checkKeyShape(s string) error {
	for i, r := range s {
		if r >= utf8.RuneSelf || r < ' ' { // so that what follows is all ASCII
			pos := utf8.RuneCountInString(s[:i]) + 1
			return &KeyError{Text: s, Pos: pos, Msg: fmt.Sprintf("character %d (%q) cannot be in a key: keys use letters and digits but 1, b, i and o", pos, r)}
		}
	}
	switch {
	case s == "":
		return &KeyError{Msg: `no key given: a key is "` + KeyPrefix + `" and 58 more characters, as "i3net id" prints it`}
	case strings.ToLower(s) != s && strings.ToUpper(s) != s:
		return mixedCaseError(s)
	}
	lower := strings.ToLower(s)
	n := commonPrefix(lower, KeyPrefix)
	if n < len(KeyPrefix) {
		if n >= len(lower) || n < 3 && len(s) != KeyTextLen { // not a mistyped key
			return &KeyError{Text: s, Msg: fmt.Sprintf(`a key starts with %q and has %d characters, as "i3net id" prints it`, KeyPrefix, KeyTextLen)}
		}
		return &KeyError{Text: s, Pos: n + 1, Msg: fmt.Sprintf("character %d is wrong: a key starts with %q", n+1, KeyPrefix)}
	}
	for i := len(KeyPrefix); i < len(lower); i++ {
		if strings.IndexByte(bech32Chars, lower[i]) < 0 {
			return &KeyError{Text: s, Pos: i + 1, Msg: fmt.Sprintf("character %d (%q) cannot be in a key: keys use letters and digits but 1, b, i and o", i+1, s[i])}
		}
	}
	switch {
	case len(s) < KeyTextLen:
		return &KeyError{Text: s, Msg: fmt.Sprintf("%d characters, want %d: %s missing", len(s), KeyTextLen, count(KeyTextLen-len(s)))}
	case len(s) > KeyTextLen:
		return &KeyError{Text: s, Msg: fmt.Sprintf("%d characters, want %d: %s too many", len(s), KeyTextLen, count(len(s)-KeyTextLen))}
	}
	return nil
}

// mixedCaseError names the character whose case differs from the others when
// there is one.
func mixedCaseError(s string) error {
	var upper, lower []int
	for i, r := range s {
		switch {
		case 'a' <= r && r <= 'z':
			lower = append(lower, i)
		case 'A' <= r && r <= 'Z':
			upper = append(upper, i)
		}
	}
	e := &KeyError{Text: s, Msg: "it mixes upper and lower case: a key is all in lower case (or all in upper case)"}
	odd := upper
	if len(lower) < len(upper) {
		odd = lower
	}
	if len(odd) == 1 {
		e.Pos = utf8.RuneCountInString(s[:odd[0]]) + 1
		e.Msg = fmt.Sprintf("character %d (%q) is in the wrong case: a key is all in lower case (or all in upper case)", e.Pos, s[odd[0]])
	}
	return e
}

func count(n int) string {
	if n == 1 {
		return "one character"
	}
	return fmt.Sprintf("%d characters", n)
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// checksumError says where the typo of s (of the right shape, whose checksum
// fails) is: the one character whose change makes the checksum hold, or the
// two neighbours whose swap does. bech32's code has distance 5, so one
// substitution is located without doubt; for more errors it says so.
func checksumError(s, lower string) error {
	b := []byte(lower)
	for i := len(KeyPrefix); i < len(b); i++ {
		orig := b[i]
		for j := 0; j < len(bech32Chars); j++ {
			if b[i] = bech32Chars[j]; b[i] != orig && checksumHolds(b) {
				return &KeyError{Text: s, Pos: i + 1, Msg: fmt.Sprintf("character %d (%q) is wrong: the checksum does not match", i+1, s[i])}
			}
		}
		b[i] = orig
	}
	for i := len(KeyPrefix); i+1 < len(b); i++ {
		if b[i] == b[i+1] {
			continue
		}
		b[i], b[i+1] = b[i+1], b[i]
		ok := checksumHolds(b)
		b[i], b[i+1] = b[i+1], b[i]
		if ok {
			return &KeyError{Text: s, Pos: i + 1, Msg: fmt.Sprintf("characters %d and %d are swapped: the checksum does not match", i+1, i+2)}
		}
	}
	return &KeyError{Text: s, Msg: "the checksum does not match: more than one character is wrong; copy the key again"}
}

func checksumHolds(b []byte) bool {
	_, _, v, err := bech32.DecodeGeneric(string(b))
	return err == nil && v == bech32.VersionM
}

// parseLegacy reads the form of earlier releases: "i3pk1:" and the key in
// unpadded base64url.
func parseLegacy(s string) (PublicKey, error) {
	var k PublicKey
	b, err := base64.RawURLEncoding.DecodeString(s[len(LegacyKeyPrefix):])
	if err != nil || len(b) != len(k) {
		return k, &KeyError{Text: s, Msg: fmt.Sprintf(`in the old form %q, want %d bytes of base64url after the colon; "i3net id" prints keys in the new form`, LegacyKeyPrefix+"…", len(k))}
	}
	if _, err := new(edwards25519.Point).SetBytes(b); err != nil {
		return k, &KeyError{Text: s, Msg: "not an Ed25519 public key"}
	}
	copy(k[:], b)
	return k, nil
}

// String returns the text form of k.
func (k PublicKey) String() string {
	data, err := bech32.ConvertBits(k[:], 8, 5, true)
	if err == nil {
		var s string
		if s, err = bech32.EncodeM(KeyHRP, data); err == nil {
			return s
		}
	}
	panic("identity: bech32 of 32 bytes: " + err.Error()) // cannot happen
}

// LegacyString returns the form of earlier releases ("i3pk1:…"), for tests
// and for messages that show both.
func (k PublicKey) LegacyString() string {
	return LegacyKeyPrefix + base64.RawURLEncoding.EncodeToString(k[:])
}

// MarshalText implements encoding.TextMarshaler.
func (k PublicKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler. It reads both forms
// silently: files a program wrote are rewritten in the new form.
func (k *PublicKey) UnmarshalText(b []byte) error {
	v, err := ParsePublicKey(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// ID returns the public id the key owns.
func (k PublicKey) ID() id.ID { return id.FromPublicKey(k[:]) }

// X25519 returns the key's Montgomery form, the peer's static key in the proxy
// handshake.
func (k PublicKey) X25519() ([32]byte, error) {
	var out [32]byte
	p, err := new(edwards25519.Point).SetBytes(k[:])
	if err != nil {
		return out, fmt.Errorf("identity: %v: %w", k, err)
	}
	copy(out[:], p.BytesMontgomery())
	return out, nil
}

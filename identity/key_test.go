package identity

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestKeyTextRoundTrip(t *testing.T) {
	x, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	s := x.Public().String()
	if !strings.HasPrefix(s, KeyPrefix) || len(s) != KeyTextLen || KeyTextLen != 63 {
		t.Fatalf("text form %q (%d characters)", s, len(s))
	}
	for _, in := range []string{s, strings.ToUpper(s), " " + s + "\n"} {
		k, legacy, err := ParseKeyText(in)
		if err != nil || legacy || k != x.Public() {
			t.Fatalf("ParseKeyText(%q) = %v, %v, %v", in, k, legacy, err)
		}
	}
	if x.Public().ID() != x.ID() || !x.ID().IsPublic() {
		t.Fatal("public id mismatch")
	}
}

// TestKeyTypoCaught is the regression test of bug 7 (issue 9): a key in the
// form i3net prints, with any one character changed, must be refused with an
// error that names that character. The text form of earlier releases had no
// checksum, and most such changes gave another valid key.
func TestKeyTypoCaught(t *testing.T) {
	x, err := FromSeed([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	s := x.Public().String()
	replacements := "qp9xlz0a" // bech32 characters, and '0' etc. for the old form
	for i := range len(s) {
		tried := 0
		for _, r := range replacements {
			if byte(r) == s[i] || tried == 2 {
				continue
			}
			tried++
			typo := s[:i] + string(r) + s[i+1:]
			k, err := ParsePublicKey(typo)
			if err == nil {
				t.Fatalf("%q (character %d of %q changed) was accepted as key %v", typo, i+1, s, k)
			}
			if !errors.Is(err, ErrKeySyntax) || !strings.Contains(err.Error(), fmt.Sprintf("character %d ", i+1)) {
				t.Errorf("%q (character %d changed): error %q does not name character %d", typo, i+1, err, i+1)
			}
		}
	}
}

func TestKeyErrors(t *testing.T) {
	x, err := FromSeed([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	s := x.Public().String()
	swapAt := 20
	for s[swapAt] == s[swapAt+1] {
		swapAt++
	}
	swapped := s[:swapAt] + s[swapAt+1:swapAt+2] + s[swapAt:swapAt+1] + s[swapAt+2:]
	tests := []struct {
		name, in, want string
		pos            int
	}{
		{"empty", "", `no key given`, 0},
		{"garbage", "deadbeef", `"deadbeef": a key starts with "i3pk1" and has 63 characters`, 0},
		{"prefix typo", "i3pj" + s[4:], `character 4 is wrong: a key starts with "i3pk1"`, 4},
		{"not in alphabet", s[:30] + "b" + s[31:], `character 31 ('b') cannot be in a key`, 31},
		{"non-ASCII", s[:30] + "é" + s[31:], `character 31 ('é') cannot be in a key`, 31},
		{"short", s[:62], `62 characters, want 63: one character missing`, 0},
		{"long", s + "qq", `65 characters, want 63: 2 characters too many`, 0},
		{"case", s[:40] + strings.ToUpper(s[40:41]) + s[41:], `character 41 ('` + strings.ToUpper(s[40:41]) + `') is in the wrong case`, 41},
		{"swap", swapped, fmt.Sprintf("characters %d and %d are swapped", swapAt+1, swapAt+2), swapAt + 1},
		{"two typos", s[:10] + flip(s[10]) + s[11:50] + flip(s[50]) + s[51:], "more than one character is wrong", 0},
		{"old form broken", LegacyKeyPrefix + "AAAA", `in the old form "i3pk1:…", want 32 bytes`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePublicKey(tt.in)
			var ke *KeyError
			if !errors.As(err, &ke) || !errors.Is(err, ErrKeySyntax) || !strings.Contains(err.Error(), tt.want) || ke.Pos != tt.pos {
				t.Fatalf("ParsePublicKey(%q) = %v (pos %v), want %q at %d", tt.in, err, ke, tt.want, tt.pos)
			}
		})
	}
}

// flip returns another bech32 character than c.
func flip(c byte) string {
	if c == 'q' {
		return "p"
	}
	return "q"
}

// TestLegacyKey: the form of earlier releases is read, and reported as such.
func TestLegacyKey(t *testing.T) {
	x, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	old := x.Public().LegacyString()
	if !strings.HasPrefix(old, LegacyKeyPrefix) || len(old) != len(LegacyKeyPrefix)+43 {
		t.Fatalf("legacy form %q", old)
	}
	k, legacy, err := ParseKeyText(old)
	if err != nil || !legacy || k != x.Public() {
		t.Fatalf("ParseKeyText(%q) = %v, %v, %v", old, k, legacy, err)
	}
	var back PublicKey
	if err := back.UnmarshalText([]byte(old)); err != nil || back != k {
		t.Fatalf("UnmarshalText(%q) = %v, %v", old, back, err)
	}
}

func TestKeyNotOnCurve(t *testing.T) {
	// A y coordinate with no point: 2 is not a valid encoding's y for any x.
	var k PublicKey
	k[0] = 2
	if _, err := ParsePublicKey(k.String()); !errors.Is(err, ErrKeySyntax) || !strings.Contains(err.Error(), "not an Ed25519 public key") {
		t.Fatalf("ParsePublicKey(off-curve) = %v", err)
	}
}

package identity

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParsePublicKey feeds arbitrary text to ParseKeyText, which reads the
// keys pasted into address books and found in state files: no panic, every
// rejection wraps ErrKeySyntax, and an accepted key prints back to a text
// that parses to the same key (the very text given, when it was in the new
// form) and owns a public id.
func FuzzParsePublicKey(f *testing.F) {
	x, err := FromSeed(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	s := x.Public().String()
	f.Add(s)
	f.Add(strings.ToUpper(s))
	f.Add(" " + s + "\n")
	f.Add(s[:40] + "x" + s[41:])                     // one typo
	f.Add(x.Public().LegacyString())                 // the old form
	f.Add(KeyPrefix)                                 // the prefix alone
	f.Add(LegacyKeyPrefix + strings.Repeat("A", 43)) // old form, off the curve
	f.Add(KeyPrefix + strings.Repeat("q", 58))       // right shape, bad checksum
	f.Add(LegacyKeyPrefix + strings.Repeat("_", 43)) // old form, all ones
	f.Fuzz(func(t *testing.T, s string) {
		k, legacy, err := ParseKeyText(s)
		if err != nil {
			if !errors.Is(err, ErrKeySyntax) {
				t.Fatalf("ParseKeyText(%q): %v does not wrap ErrKeySyntax", s, err)
			}
			return
		}
		text := k.String()
		if !legacy && text != strings.ToLower(strings.TrimSpace(s)) {
			t.Fatalf("%q parsed to %v, which prints otherwise", s, text)
		}
		back, again, err := ParseKeyText(text)
		if err != nil || back != k || again {
			t.Fatalf("%q parsed to %v, which parses back to %v, %v, %v", s, k, back, again, err)
		}
		if !k.ID().IsPublic() {
			t.Fatalf("%v owns %v, not a public id", k, k.ID())
		}
	})
}

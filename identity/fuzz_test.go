package identity

import (
	"errors"
	"testing"
)

// FuzzParsePublicKey feeds arbitrary text to ParsePublicKey, which reads the
// keys pasted into address books and found in state files: no panic, every
// rejection wraps ErrKeySyntax, and an accepted key prints back to a text that
// parses to the same key and owns a public id.
func FuzzParsePublicKey(f *testing.F) {
	x, err := FromSeed(make([]byte, 32))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(x.Public().String())
	f.Add(" " + x.Public().String() + "\n")
	f.Add(KeyPrefix)
	f.Add(KeyPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("i3pk1:" + "_____________________________________________")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParsePublicKey(s)
		if err != nil {
			if !errors.Is(err, ErrKeySyntax) {
				t.Fatalf("ParsePublicKey(%q): %v does not wrap ErrKeySyntax", s, err)
			}
			return
		}
		back, err := ParsePublicKey(k.String())
		if err != nil || back != k {
			t.Fatalf("%q parsed to %v, which parses back to %v, %v", s, k, back, err)
		}
		if !k.ID().IsPublic() {
			t.Fatalf("%v owns %v, not a public id", k, k.ID())
		}
	})
}

package book

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary text to Parse: it must not panic, and a book it
// accepts must survive Encode and Parse with the same entries and bytes.
func FuzzLoad(f *testing.F) {
	seeds := []string{
		"",
		"# only a comment\n",
		"[hosts.home]\nkey = \"KEY1\"\n",
		"[hosts.home]\nkey = \"KEY1\"\nid = \"ID1\"\nshortcut = true\nplaintext = true\npreserve_headers = false\nblocked = true\ncomment = \"a \\\"b\\\" \\u0001\"\n",
		"[hosts.\"web.office\"]\nkey = \"KEY2\"\n[hosts.HOUSE]\nkey = \"KEY2\"\n",
		"hosts = { home = { key = \"KEY1\", comment = '''raw \\ text''' } }\n",
		"[hosts.home]\nkey = \"\"\"\nKEY1\"\"\"\ncomment = \"\"\"\nmulti\nline\"\"\"\n",
		"[hosts.web.office]\nkey = \"KEY1\"\n",
		"[[hosts]]\nkey = 1\n",
		"[hosts.home]\nkey = \"i3pk1:abc\"\nshortcut = \"yes\"\n[x]\n",
		"[hosts.home]\nkey = \"KEY1\"\nanonymous = true\nplaintext = true\n",
		"[hosts.home]\nkey = \"KEY1\"\nanonymous = true\nmiddlebox = \"ids\"\n",
	}
	for _, s := range seeds {
		f.Add(expand(f, s))
	}
	f.Add("[hosts.home]\nkey = \"" + testKey(f, 1).LegacyString() + "\"\n") // the old form: a warning
	f.Add("[hosts.home]\nkey = \"" + strings.ToUpper(testKey(f, 1).String()) + "\"\n")
	f.Fuzz(func(t *testing.T, text string) {
		b, err := Parse("fuzz.toml", []byte(text))
		if err != nil {
			return
		}
		enc := b.Encode()
		b2, err := Parse("encoded.toml", enc)
		if err != nil {
			t.Fatalf("Parse of Encode: %v\n%s", err, enc)
		}
		if w := b2.Warnings(); len(w) > 0 {
			t.Fatalf("Encode wrote what Parse warns about: %v\n%s", w, enc)
		}
		if !reflect.DeepEqual(b.Entries(), b2.Entries()) {
			t.Fatalf("entries differ after Encode\nbefore: %+v\n after: %+v", b.Entries(), b2.Entries())
		}
		if enc2 := b2.Encode(); string(enc2) != string(enc) {
			t.Fatalf("Encode not stable:\n%s\n%s", enc, enc2)
		}
	})
}

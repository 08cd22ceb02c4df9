package book

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/i3net/i3net/identity"
)

// testKey returns the public key of the identity whose seed is 32 bytes of n.
func testKey(t testing.TB, n byte) identity.PublicKey {
	t.Helper()
	x, err := identity.FromSeed(bytes.Repeat([]byte{n}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return x.Public()
}

// testEntry returns the entry of name for testKey(n), with default options.
func testEntry(t testing.TB, name string, n byte) Entry {
	return NewEntry(name, testKey(t, n))
}

// expand replaces KEY1, KEY2, ID1 and ID2 in s with the test keys and their ids.
func expand(t testing.TB, s string) string {
	k1, k2 := testKey(t, 1), testKey(t, 2)
	return strings.NewReplacer("KEY1", k1.String(), "KEY2", k2.String(),
		"ID1", k1.ID().String(), "ID2", k2.ID().String()).Replace(s)
}

func TestParse(t *testing.T) {
	home := testEntry(t, "home", 1)
	tests := []struct {
		name    string
		text    string
		want    func(t *testing.T) []Entry // nil: no entries
		wantErr string                     // the whole message, with KEY1 etc. expanded
		typo    int                        // if > 0, KEY1 has an 'x' at this character
	}{
		{name: "empty", text: ""},
		{name: "comments only", text: "# nothing yet\n\n"},
		{
			name: "valid, every field",
			text: `# i3net address book
[hosts.home]
key = "KEY1"          # required
id = "ID1"            # a check
shortcut = true
plaintext = true
preserve_headers = false
blocked = true
comment = "the \"big\" box\tunder the stairs"

[hosts."web.office"]
key = "KEY2"
`,
			want: func(t *testing.T) []Entry {
				e := home
				e.Shortcut, e.Plaintext, e.PreserveHeaders, e.Blocked = true, true, false, true
				e.Comment = "the \"big\" box\tunder the stairs"
				return []Entry{e, testEntry(t, "web.office", 2)}
			},
		},
		{
			name: "defaults",
			text: "[hosts.home]\nkey = \"KEY1\"\n",
			want: func(t *testing.T) []Entry { return []Entry{home} },
		},
		{
			name: "names in any case, kept in lower case",
			text: "[hosts.HoMe]\nkey = \"KEY1\"\n",
			want: func(t *testing.T) []Entry { return []Entry{home} },
		},
		{
			name: "inline tables and dotted keys",
			text: "hosts = { home = { key = \"KEY1\" } }\n",
			want: func(t *testing.T) []Entry { return []Entry{home} },
		},
		{
			name: "aliases: two names, one key",
			text: "[hosts.home]\nkey = \"KEY1\"\nshortcut = true\n[hosts.house]\nkey = \"KEY1\"\nshortcut = true\ncomment = \"alias\"\n",
			want: func(t *testing.T) []Entry {
				a, b := home, testEntry(t, "house", 1)
				a.Shortcut, b.Shortcut, b.Comment = true, true, "alias"
				return []Entry{a, b}
			},
		},
		{
			name: "anonymous",
			text: "[hosts.home]\nkey = \"KEY1\"\nanonymous = true\n",
			want: func(t *testing.T) []Entry {
				e := home
				e.Anonymous = true
				return []Entry{e}
			},
		},
		{
			name:    "anonymous and shortcut",
			text:    "[hosts.home]\nkey = \"KEY1\"\nshortcut = true\nanonymous = true\n",
			wantErr: `book.toml:1: hosts.home: anonymous and shortcut exclude each other (a shortcut shows the peer this host's address): drop one`,
		},
		{
			name:    "anonymous and middlebox",
			text:    "[hosts.home]\nkey = \"KEY1\"\nmiddlebox = \"ids\"\nanonymous = true\n",
			wantErr: `book.toml:1: hosts.home: anonymous and middlebox "ids" exclude each other (the middlebox's route names this host): drop one`,
		},
		{
			name:    "anonymous not a bool",
			text:    "[hosts.home]\nkey = \"KEY1\"\nanonymous = \"yes\"\n",
			wantErr: `book.toml:3: hosts.home.anonymous: want true or false, have a string ("yes")`,
		},
		{
			name:    "aliases differ in anonymous",
			text:    "[hosts.home]\nkey = \"KEY1\"\nanonymous = true\n[hosts.house]\nkey = \"KEY1\"\n",
			wantErr: `book.toml:4: hosts.house: same key as hosts.home (line 1) but differs in anonymous: names that share a key are one host and must agree on its options`,
		},
		{
			name:    "missing key",
			text:    "# hosts\n[hosts.home]\nshortcut = true\n",
			wantErr: `book.toml:2: hosts.home: no key: every host needs key = "i3pk1…", as "i3net id" prints it on that host`,
		},
		{
			name:    "bad key",
			text:    "[hosts.home]\nkey = \"i3pk1:abc\"\n",
			wantErr: `book.toml:2: hosts.home.key: not an i3net public key: "i3pk1:abc": in the old form "i3pk1:…", want 32 bytes of base64url after the colon; "i3net id" prints keys in the new form`,
		},
		{
			name:    "key without prefix",
			text:    "[hosts.home]\nkey = \"abc\"\n",
			wantErr: `book.toml:2: hosts.home.key: not an i3net public key: "abc": a key starts with "i3pk1" and has 63 characters, as "i3net id" prints it`,
		},
		{
			name:    "key with a typo",
			text:    "[hosts.home]\nkey = \"KEY1\"\n",
			typo:    40,
			wantErr: `book.toml:2: hosts.home.key: not an i3net public key: "KEY1": character 40 ('x') is wrong: the checksum does not match`,
		},
		{
			name:    "unknown field",
			text:    "[hosts.home]\nkey = \"KEY1\"\nshortcutt = true\n",
			wantErr: `book.toml:3: hosts.home.shortcutt: unknown key (a host has key, id, shortcut, plaintext, preserve_headers, blocked, middlebox, anonymous, comment)`,
		},
		{
			name:    "field in the wrong case",
			text:    "[hosts.home]\nKey = \"KEY1\"\n",
			wantErr: `book.toml:2: hosts.home.Key: unknown key (a host has key, id, shortcut, plaintext, preserve_headers, blocked, middlebox, anonymous, comment)`,
		},
		{
			name:    "unknown top-level table",
			text:    "[host.home]\nkey = \"KEY1\"\n",
			wantErr: `book.toml:1: host: unknown key: the file holds only [hosts.NAME] tables`,
		},
		{
			name:    "bad name",
			text:    "[hosts.web_1]\nkey = \"KEY1\"\n",
			wantErr: `book.toml:1: hosts.web_1: bad name "web_1": '_' is not allowed: use letters, digits and hyphens, with dots between labels`,
		},
		{
			name:    "bad name: hyphen",
			text:    "[hosts.-home]\nkey = \"KEY1\"\n",
			wantErr: `book.toml:1: hosts.-home: bad name "-home": label "-home" starts or ends with a hyphen`,
		},
		{
			name:    "bad name: empty label",
			text:    "[hosts.\"a..b\"]\nkey = \"KEY1\"\n",
			wantErr: `book.toml:1: hosts."a..b": bad name "a..b": empty label: dots go between labels, not at the ends or twice`,
		},
		{
			name:    "dotted name not quoted",
			text:    "[hosts.web.office]\nkey = \"KEY1\"\n",
			wantErr: `book.toml:1: hosts.web.office: unknown key; if "web.office" is one name, quote it: [hosts."web.office"]`,
		},
		{
			name:    "duplicate name in another case",
			text:    "[hosts.home]\nkey = \"KEY1\"\n\n[hosts.Home]\nkey = \"KEY2\"\n",
			wantErr: `book.toml:4: hosts.Home: duplicate name: hosts.home (line 1) has the same name; names are case-insensitive`,
		},
		{
			name:    "duplicate name",
			text:    "[hosts.home]\nkey = \"KEY1\"\n\n[hosts.home]\nkey = \"KEY2\"\n",
			wantErr: `book.toml:4: hosts: syntax error: Key 'hosts.home' has already been defined.`,
		},
		{
			name:    "wrong type: boolean",
			text:    "[hosts.home]\nkey = \"KEY1\"\nshortcut = \"yes\"\n",
			wantErr: `book.toml:3: hosts.home.shortcut: want true or false, have a string ("yes")`,
		},
		{
			name:    "wrong type: date",
			text:    "[hosts.home]\nkey = \"\"\"\nKEY1\"\"\"\nblocked = 1979-05-27\n",
			wantErr: `book.toml:4: hosts.home.blocked: want true or false, have a date-time`,
		},
		{
			name:    "wrong type: key",
			text:    "[hosts.home]\nkey = 42\n",
			wantErr: `book.toml:2: hosts.home.key: want a string, have an integer (42)`,
		},
		{
			name:    "wrong type: key as a table",
			text:    "[hosts.home.key]\nx = 1\n",
			wantErr: `book.toml:1: hosts.home.key: want a string, have a table`,
		},
		{
			name:    "wrong type: comment",
			text:    "[hosts.home]\nkey = \"KEY1\"\ncomment = [\"a\"]\n",
			wantErr: `book.toml:3: hosts.home.comment: want a string, have an array`,
		},
		{
			name:    "wrong type: hosts",
			text:    "hosts = 1\n",
			wantErr: `book.toml:1: hosts: want a table of hosts ([hosts.NAME]), have an integer (1)`,
		},
		{
			name:    "wrong type: array of hosts",
			text:    "[[hosts]]\nkey = \"KEY1\"\n",
			wantErr: `book.toml:1: hosts: want a table of hosts ([hosts.NAME]), have an array of tables`,
		},
		{
			name:    "wrong type: host",
			text:    "hosts.home = 7\n",
			wantErr: `book.toml:1: hosts.home: want a table ([hosts.home] with key = "i3pk1…"), have an integer (7)`,
		},
		{
			name:    "wrong type in an inline table",
			text:    "hosts = { home = { key = \"KEY1\", shortcut = 3 } }\n",
			wantErr: `book.toml:1: hosts.home.shortcut: want true or false, have an integer (3)`,
		},
		{
			name:    "id not matching the key",
			text:    "[hosts.home]\nkey = \"KEY1\"\nid = \"ID2\"\n",
			wantErr: `book.toml:3: hosts.home.id: 4683fe1f… does not match the key, whose id is 7ce23d15…`,
		},
		{
			name:    "id not an id",
			text:    "[hosts.home]\nkey = \"KEY1\"\nid = \"abc\"\n",
			wantErr: `book.toml:3: hosts.home.id: not an id: want the host's public id, 64 hex digits (an optional check of the key), have "abc"`,
		},
		{
			name:    "aliases that disagree",
			text:    "[hosts.home]\nkey = \"KEY1\"\n[hosts.house]\nkey = \"KEY1\"\nshortcut = true\n",
			wantErr: `book.toml:3: hosts.house: same key as hosts.home (line 1) but differs in shortcut: names that share a key are one host and must agree on its options`,
		},
		{
			name:    "syntax error",
			text:    "[hosts.home]\nkey = \"KEY1\"\nshortcut = yes\n",
			wantErr: `book.toml:3: hosts.home.shortcut: syntax error: expected value but found "yes" instead`,
		},
		{
			name: "several errors, in line order",
			text: "[hosts.a]\nkey = 1\n[hosts.b]\nkey = \"KEY1\"\nplaintext = 2\n[x]\n",
			wantErr: "book.toml:2: hosts.a.key: want a string, have an integer (1)\n" +
				"book.toml:5: hosts.b.plaintext: want true or false, have an integer (2)\n" +
				"book.toml:6: x: unknown key: the file holds only [hosts.NAME] tables",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := expand(t, tt.text)
			if tt.typo > 0 {
				k := testKey(t, 1).String()
				typo := k[:tt.typo-1] + "x" + k[tt.typo:]
				text, tt.wantErr = strings.ReplaceAll(text, k, typo), strings.ReplaceAll(tt.wantErr, "KEY1", typo)
			}
			b, err := Parse("book.toml", []byte(text))
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("no error; book %+v", b.Entries())
				}
				if got := err.Error(); got != tt.wantErr {
					t.Fatalf("error\n got: %s\nwant: %s", got, tt.wantErr)
				}
				var e *Error
				if !errors.As(err, &e) || e.File != "book.toml" || e.Line == 0 || e.Key == "" {
					t.Fatalf("error %#v: want an *Error with file, line and key", e)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want []Entry
			if tt.want != nil {
				want = tt.want(t)
			}
			if got := b.Entries(); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("entries\n got: %+v\nwant: %+v", got, want)
			}
		})
	}
}

// TestParseLegacyKey: a key in the form of earlier releases is read, with a
// warning that names the line and gives the key's new form.
func TestParseLegacyKey(t *testing.T) {
	k := testKey(t, 1)
	b, err := Parse("book.toml", []byte("# a book\n[hosts.home]\nkey = \""+k.LegacyString()+"\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := b.Lookup("home"); !ok || e.Key != k {
		t.Fatalf("home: %+v, %v", e, ok)
	}
	w := b.Warnings()
	want := `book.toml:3: hosts.home.key: the key is in the old form without a checksum, which the next release will not read: write it as "` + k.String() + `"`
	if len(w) != 1 || !strings.HasPrefix(w[0].Error(), want) {
		t.Fatalf("warnings %v, want %s…", w, want)
	}
	if !bytes.Contains(b.Encode(), []byte(`key = "`+k.String()+`"`)) {
		t.Fatalf("Encode does not write the new form:\n%s", b.Encode())
	}
}

func TestParseErrorWraps(t *testing.T) {
	_, err := Parse("book.toml", []byte("[hosts.home]\nkey = \"nope\"\n"))
	if !errors.Is(err, identity.ErrKeySyntax) {
		t.Fatalf("%v: does not wrap identity.ErrKeySyntax", err)
	}
	_, err = Parse("book.toml", []byte("[hosts.a_b]\nkey = \"nope\"\n"))
	if !errors.Is(err, ErrName) {
		t.Fatalf("%v: does not wrap ErrName", err)
	}
}

func TestParseManyErrors(t *testing.T) {
	var text strings.Builder
	for i := range 150 {
		fmt.Fprintf(&text, "[hosts.h%d]\nkey = 1\n", i)
	}
	_, err := Parse("book.toml", []byte(text.String()))
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 || lines[maxErrors] != "book.toml: and 140 more problems" {
		t.Fatalf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	t.Run("missing file is an empty book", func(t *testing.T) {
		b, err := Load(filepath.Join(dir, "nope.toml"))
		if err != nil || b.Len() != 0 {
			t.Fatalf("Load: %v, %d entries", err, b.Len())
		}
	})
	t.Run("missing directory is an error", func(t *testing.T) {
		path := filepath.Join(dir, "nodir", "book.toml")
		_, err := Load(path)
		var e *Error
		if !errors.Is(err, ErrNoDir) || !errors.As(err, &e) || e.File != path || !strings.Contains(err.Error(), filepath.Join(dir, "nodir")) {
			t.Fatalf("Load(%s) = %v, want ErrNoDir naming the directory", path, err)
		}
		if _, err := NewWatcher(path); !errors.Is(err, ErrNoDir) {
			t.Fatalf("NewWatcher(%s) = %v, want ErrNoDir", path, err)
		}
	})
	t.Run("error names the path", func(t *testing.T) {
		path := filepath.Join(dir, "book.toml")
		if err := os.WriteFile(path, []byte("\n\n[hosts.home]\nkey = 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if want := path + ":4: hosts.home.key: want a string, have an integer (1)"; err == nil || err.Error() != want {
			t.Fatalf("Load: %v, want %s", err, want)
		}
	})
	t.Run("unreadable path", func(t *testing.T) {
		if _, err := Load(dir); err == nil {
			t.Fatal("Load of a directory: no error")
		}
	})
}

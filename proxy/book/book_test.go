package book

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		entries func(t *testing.T) []Entry
		wantErr string
	}{
		{name: "none", entries: func(t *testing.T) []Entry { return nil }},
		{name: "two", entries: func(t *testing.T) []Entry {
			return []Entry{testEntry(t, "web", 2), testEntry(t, "home", 1)}
		}},
		{name: "duplicate name", wantErr: `duplicate name "home"`, entries: func(t *testing.T) []Entry {
			return []Entry{testEntry(t, "home", 1), testEntry(t, "HOME", 2)}
		}},
		{name: "bad name", wantErr: `bad name "a b": ' ' is not allowed: use letters, digits and hyphens, with dots between labels`,
			entries: func(t *testing.T) []Entry { return []Entry{testEntry(t, "a b", 1)} }},
		{name: "no key", wantErr: `host "home": no key`, entries: func(t *testing.T) []Entry {
			return []Entry{{Name: "home"}}
		}},
		{name: "comment not UTF-8", wantErr: `host "home": comment is not valid UTF-8`, entries: func(t *testing.T) []Entry {
			e := testEntry(t, "home", 1)
			e.Comment = "\xff"
			return []Entry{e}
		}},
		{name: "aliases that disagree",
			wantErr: `host "house" has the same key as host "home" but differs in plaintext, blocked: names that share a key are one host and must agree on its options`,
			entries: func(t *testing.T) []Entry {
				e := testEntry(t, "house", 1)
				e.Plaintext, e.Blocked = true, true
				return []Entry{testEntry(t, "home", 1), e}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(tt.entries(t)...)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("New: %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Len() != len(tt.entries(t)) {
				t.Fatalf("Len %d", b.Len())
			}
		})
	}
}

func TestLookup(t *testing.T) {
	home, web := testEntry(t, "home", 1), testEntry(t, "web.office", 2)
	house := testEntry(t, "house", 1)
	b, err := New(web, house, home)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"home", "HOME", "Home"} {
		if e, ok := b.Lookup(name); !ok || e != home {
			t.Errorf("Lookup(%q) = %+v, %v", name, e, ok)
		}
	}
	for _, name := range []string{"", "hom", "home.", "web", "office", "WEB.OFFICE.I3"} {
		if e, ok := b.Lookup(name); ok {
			t.Errorf("Lookup(%q) = %+v", name, e)
		}
	}
	if e, ok := b.Lookup("Web.Office"); !ok || e != web {
		t.Errorf("Lookup(Web.Office) = %+v, %v", e, ok)
	}
	// home and house share a key: by key and id, the first name answers.
	if e, ok := b.ByKey(home.Key); !ok || e != home {
		t.Errorf("ByKey = %+v, %v", e, ok)
	}
	if e, ok := b.ByID(home.Key.ID()); !ok || e != home {
		t.Errorf("ByID = %+v, %v", e, ok)
	}
	if e, ok := b.ByID(id.FromName("home")); ok {
		t.Errorf("ByID of a stranger = %+v", e)
	}
	if got := b.Names(home.Key); !reflect.DeepEqual(got, []string{"home", "house"}) {
		t.Errorf("Names = %q", got)
	}
	if got := b.Entries(); !reflect.DeepEqual(got, []Entry{home, house, web}) {
		t.Errorf("Entries = %+v", got)
	}
	b.Entries()[0].Name = "changed"
	if e, _ := b.Lookup("home"); e.Name != "home" {
		t.Error("Entries shares the book's slice")
	}
}

func TestNilBook(t *testing.T) {
	var b *Book
	if _, ok := b.Lookup("home"); ok || b.Len() != 0 || b.Entries() != nil {
		t.Fatal("nil book is not empty")
	}
	if _, ok := b.ByKey(identity.PublicKey{}); ok {
		t.Fatal("nil book: ByKey")
	}
	b2, err := b.With(testEntry(t, "home", 1))
	if err != nil || b2.Len() != 1 {
		t.Fatalf("With on nil: %v", err)
	}
}

func TestWithWithout(t *testing.T) {
	b0, err := New(testEntry(t, "home", 1))
	if err != nil {
		t.Fatal(err)
	}
	web := testEntry(t, "web", 2)
	b1, err := b0.With(web)
	if err != nil {
		t.Fatal(err)
	}
	if b0.Len() != 1 || b1.Len() != 2 {
		t.Fatalf("lengths %d, %d: With changed the old book", b0.Len(), b1.Len())
	}
	// With replaces an entry of the same name, in any case, and derives the id.
	repl := testEntry(t, "HOME", 2)
	repl.ID = id.ID{1}
	b2, err := b1.With(repl)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := b2.Lookup("home"); e.Key != testKey(t, 2) || e.ID != testKey(t, 2).ID() || e.Name != "home" {
		t.Fatalf("replaced entry %+v", e)
	}
	if _, err := b2.With(Entry{Name: "x_y", Key: testKey(t, 3)}); !errors.Is(err, ErrName) {
		t.Fatalf("With bad name: %v", err)
	}
	b3, err := b2.Without("WEB")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b3.Lookup("web"); ok || b2.Len() != 2 {
		t.Fatal("Without did not remove, or changed the old book")
	}
	if _, err := b3.Without("web"); !errors.Is(err, ErrNotFound) || err.Error() != `no such host named "web"` {
		t.Fatalf("Without absent: %v", err)
	}
}

func TestCheckName(t *testing.T) {
	long := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = 'a'
		}
		return string(b)
	}
	good := []string{"home", "HOME", "a", "0", "web-1", "web.office", "a.b.c", "xn--bcher-kva", long(63), long(63) + "." + long(63) + "." + long(63) + "." + long(48)}
	for _, n := range good {
		if err := CheckName(n); err != nil {
			t.Errorf("CheckName(%q): %v", n, err)
		}
	}
	bad := map[string]string{
		"":       `bad name "": empty`,
		"-a":     `bad name "-a": label "-a" starts or ends with a hyphen`,
		"a-":     `bad name "a-": label "a-" starts or ends with a hyphen`,
		".a":     `bad name ".a": empty label: dots go between labels, not at the ends or twice`,
		"a.":     `bad name "a.": empty label: dots go between labels, not at the ends or twice`,
		"bücher": `bad name "bücher": 'ü' is not allowed: use letters, digits and hyphens, with dots between labels`,
		"a/b":    `bad name "a/b": '/' is not allowed: use letters, digits and hyphens, with dots between labels`,
		long(64): fmt.Sprintf(`bad name %q: label %q has 64 characters, at most 63`, long(64), long(64)),
		long(63) + "." + long(63) + "." + long(63) + "." + long(49): `bad name "` + long(63) + "." + long(63) + "." + long(63) + "." + long(49) + `": 241 characters, at most 240`,
	}
	for n, want := range bad {
		err := CheckName(n)
		if err == nil || (want != "" && err.Error() != want) {
			t.Errorf("CheckName(%q) = %v, want %s", n, err, want)
		}
	}
}

func TestLookupAllocs(t *testing.T) {
	b := benchBook(t, 100)
	for _, name := range []string{"host-42", "HOST-42", "nobody", "NOBODY"} {
		if n := testing.AllocsPerRun(100, func() { b.Lookup(name) }); n != 0 {
			t.Errorf("Lookup(%q): %v allocations", name, n)
		}
	}
	k := testKey(t, 1)
	x := k.ID()
	if n := testing.AllocsPerRun(100, func() { b.ByKey(k); b.ByID(x) }); n != 0 {
		t.Errorf("ByKey, ByID: %v allocations", n)
	}
}

func benchBook(t testing.TB, n int) *Book {
	entries := make([]Entry, n)
	for i := range entries {
		entries[i] = testEntry(t, fmt.Sprintf("host-%d", i), byte(i))
	}
	b, err := New(entries...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func BenchmarkLookup(b *testing.B) {
	bk := benchBook(b, 1000)
	for _, name := range []string{"host-500", "Host-500", "unknown"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := bk.Lookup(name); ok != (name != "unknown") {
					b.Fatal("lookup")
				}
			}
		})
	}
}

package book

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
)

// Book is an immutable snapshot of the address book. Its methods are safe for
// concurrent use, and a nil *Book is an empty book.
type Book struct {
	entries []Entry // sorted by name
	byName  map[string]int
	byKey   map[identity.PublicKey]int // first name (in order) of each key
	byID    map[id.ID]int
	// warnings are what Parse read but a later release will refuse.
	warnings []*Error
}

// ErrNotFound is returned (wrapped) by Without for a name the book lacks.
var ErrNotFound = errors.New("no such host")

// New returns a book of entries. Names are checked and put in lower case, and
// each ID is derived from its key. Two entries with the same name are an
// error; two names with the same key are aliases of one host and must agree on
// its options.
func New(entries ...Entry) (*Book, error) {
	b := &Book{
		entries: make([]Entry, 0, len(entries)),
		byName:  make(map[string]int, len(entries)),
		byKey:   make(map[identity.PublicKey]int, len(entries)),
		byID:    make(map[id.ID]int, len(entries)),
	}
	for _, e := range entries {
		e, err := e.check()
		if err != nil {
			return nil, err
		}
		b.entries = append(b.entries, e)
	}
	slices.SortStableFunc(b.entries, func(x, y Entry) int { return strings.Compare(x.Name, y.Name) })
	for i, e := range b.entries {
		if i > 0 && b.entries[i-1].Name == e.Name {
			return nil, fmt.Errorf("duplicate name %q", e.Name)
		}
		b.byName[e.Name] = i
		if j, ok := b.byKey[e.Key]; ok {
			if diff, ok := samePeerOptions(b.entries[j], e); !ok {
				return nil, aliasError(e.Name, b.entries[j].Name, diff)
			}
			continue
		}
		b.byKey[e.Key] = i
		b.byID[e.ID] = i
	}
	return b, nil
}

func aliasError(name, first string, diff []string) error {
	return fmt.Errorf("host %q has the same key as host %q but differs in %s: names that share a key are one host and must agree on its options",
		name, first, strings.Join(diff, ", "))
}

// Warnings returns what the file b was parsed from holds that a later release
// will refuse (keys in the old form), each naming the file, line and key; a
// person should be shown them. Books made by New, With and Without have none:
// Save writes every key in the current form.
func (b *Book) Warnings() []*Error {
	if b == nil {
		return nil
	}
	return slices.Clone(b.warnings)
}

// Len returns the number of names in b.
func (b *Book) Len() int {
	if b == nil {
		return 0
	}
	return len(b.entries)
}

// Lookup returns the entry of name, in any case, without the overlay suffix. It
// allocates nothing.
func (b *Book) Lookup(name string) (Entry, bool) {
	if b == nil {
		return Entry{}, false
	}
	if i, ok := b.byName[name]; ok {
		return b.entries[i], true
	}
	if len(name) > MaxNameLen || !hasUpper(name) {
		return Entry{}, false
	}
	var buf [MaxNameLen]byte
	n := copy(buf[:], name)
	for i, c := range buf[:n] {
		if 'A' <= c && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	i, ok := b.byName[string(buf[:n])] // the compiler does not allocate here
	if !ok {
		return Entry{}, false
	}
	return b.entries[i], true
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// ByID returns the entry whose key derives public id x. When several names
// share the key it returns the first in name order; they agree on the options.
func (b *Book) ByID(x id.ID) (Entry, bool) {
	if b == nil {
		return Entry{}, false
	}
	i, ok := b.byID[x]
	if !ok {
		return Entry{}, false
	}
	return b.entries[i], true
}

// ByKey returns the entry of key k, the first in name order if several names
// share it.
func (b *Book) ByKey(k identity.PublicKey) (Entry, bool) {
	if b == nil {
		return Entry{}, false
	}
	i, ok := b.byKey[k]
	if !ok {
		return Entry{}, false
	}
	return b.entries[i], true
}

// Names returns every name of key k, in order.
func (b *Book) Names(k identity.PublicKey) []string {
	var names []string
	for _, e := range b.Entries() {
		if e.Key == k {
			names = append(names, e.Name)
		}
	}
	return names
}

// Entries returns a copy of every entry, sorted by name.
func (b *Book) Entries() []Entry {
	if b == nil {
		return nil
	}
	return slices.Clone(b.entries)
}

// With returns a new book holding e in place of any entry of the same name.
func (b *Book) With(e Entry) (*Book, error) {
	entries := b.Entries()
	entries = slices.DeleteFunc(entries, func(x Entry) bool { return strings.EqualFold(x.Name, e.Name) })
	return New(append(entries, e)...)
}

// Without returns a new book without name (in any case); it is an error if b
// has no such name.
func (b *Book) Without(name string) (*Book, error) {
	if _, ok := b.Lookup(name); !ok {
		return nil, fmt.Errorf("%w named %q", ErrNotFound, name)
	}
	entries := slices.DeleteFunc(b.Entries(), func(x Entry) bool { return strings.EqualFold(x.Name, name) })
	return New(entries...)
}

package book

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/identity"
)

// Error is a problem at one place of an address book file.
type Error struct {
	File string // the file's name as given to Load or Parse
	Line int    // from 1; 0 if unknown
	Key  string // the TOML key as written, e.g. hosts.home.key; may be empty
	Err  error
}

// Error returns "FILE:LINE: KEY: problem".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the problem.
func (e *Error) Unwrap() error { return e.Err }

// maxErrors is how many problems of one file Parse reports.
const maxErrors = 10

// ErrNoDir is returned (wrapped in an *Error) by Load and NewWatcher for a
// book whose directory does not exist: most likely a mistyped path.
var ErrNoDir = errors.New("no such directory")

// Load reads the address book at path. A missing or empty file is an empty
// book (a host's book does not exist until its first name is added), but a
// missing directory is ErrNoDir. Every error in the text is an *Error naming
// the file, line and key; when there are several, they are joined
// (errors.Join) in line order.
func Load(path string) (*Book, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := checkDir(path); err != nil {
			return nil, err
		}
		return New()
	}
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// checkDir returns ErrNoDir, in an *Error naming path, if the directory of
// path does not exist.
func checkDir(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &Error{File: path, Err: fmt.Errorf("%w: %s (check the path of the book)", ErrNoDir, dir)}
	case err == nil && !fi.IsDir():
		return &Error{File: path, Err: fmt.Errorf("%s is not a directory (check the path of the book)", dir)}
	}
	return nil
}

// Parse reads an address book from data; file names it in errors.
func Parse(file string, data []byte) (*Book, error) {
	p := &parser{file: file, tables: map[string]map[string]toml.Primitive{}}
	md, err := toml.Decode(string(data), &p.top)
	if err != nil {
		return nil, p.syntaxError(err)
	}
	p.md = md
	hosts := p.walk()
	if len(p.errs) == 0 {
		p.check(hosts)
	}
	if len(p.errs) > 0 {
		return nil, p.joinErrors()
	}
	entries := make([]Entry, len(hosts))
	for i, h := range hosts {
		entries[i] = h.e
	}
	b, err := New(entries...)
	if err != nil { // the walk checks all New checks, with lines; this is a backstop
		return nil, &Error{File: file, Err: err}
	}
	b.warnings = p.warns
	return b, nil
}

// The keys of a host's table.
const (
	fieldKey             = "key"
	fieldID              = "id"
	fieldShortcut        = "shortcut"
	fieldPlaintext       = "plaintext"
	fieldPreserveHeaders = "preserve_headers"
	fieldBlocked         = "blocked"
	fieldComment         = "comment"
	fieldMiddlebox       = "middlebox"
	fieldAnonymous       = "anonymous"
)

var knownFields = []string{fieldKey, fieldID, fieldShortcut, fieldPlaintext, fieldPreserveHeaders, fieldBlocked, fieldMiddlebox, fieldAnonymous, fieldComment}

// parser walks the keys of a decoded file in document order. It does not
// decode into a struct: BurntSushi/toml matches struct fields regardless of
// case and visits maps in random order, and the book wants exact keys and
// errors in a stable order, each with its line.
type parser struct {
	file   string
	md     toml.MetaData
	top    map[string]toml.Primitive
	tables map[string]map[string]toml.Primitive // decoded tables, by key
	errs   []*Error
	more   int      // problems found after maxErrors*10, not even located
	warns  []*Error // things read that a later release will refuse
}

// host is one [hosts.NAME] table as the walk finds it.
type host struct {
	key      toml.Key // hosts.NAME as written
	e        Entry
	hasKey   bool // a key = "…" was given, valid or not
	bad      bool // an error was reported for this host
	wantID   id.ID
	idKey    toml.Key // where an id = "…" check was given, if any
	notTable bool
}

func (p *parser) walk() []*host {
	var (
		hosts     []*host
		byName    = map[string]*host{} // by name as written
		byLower   = map[string]*host{}
		hostsOK   = true
		topLevels = map[string]bool{}
	)
	for _, k := range p.md.Keys() {
		if k[0] != "hosts" {
			if !topLevels[k[0]] {
				topLevels[k[0]] = true
				p.errorf(k[:1], `unknown key: the file holds only [hosts.NAME] tables`)
			}
			continue
		}
		if len(k) == 1 {
			if v := p.value(k); !isTable(v) {
				p.errorf(k, "want a table of hosts ([hosts.NAME]), have %s", typeName(v))
				hostsOK = false
			}
			continue
		}
		if !hostsOK {
			continue
		}
		h := byName[k[1]]
		if h == nil {
			h = &host{key: k[:2], e: Entry{Name: strings.ToLower(k[1]), PreserveHeaders: true}}
			byName[k[1]] = h
			hosts = append(hosts, h)
			if err := CheckName(k[1]); err != nil {
				p.hostErrorf(h, h.key, "%w", err)
			} else if first := byLower[h.e.Name]; first != nil {
				p.hostErrorf(h, h.key, "duplicate name: %s (line %d) has the same name; names are case-insensitive",
					first.key, p.line(first.key))
			} else {
				byLower[h.e.Name] = h
			}
		}
		switch {
		case len(k) == 2:
			if v := p.value(k); !isTable(v) {
				p.hostErrorf(h, k, `want a table ([%s] with key = "i3pk1…"), have %s`, k, typeName(v))
				h.notTable = true
			}
		case len(k) == 3 && !h.notTable:
			p.field(h, k)
		}
	}
	return hosts
}

// field reads one key of a host's table.
func (p *parser) field(h *host, k toml.Key) {
	v := p.value(k)
	switch name := k[2]; name {
	case fieldKey:
		h.hasKey = true
		s, ok := p.str(h, k, v)
		if !ok {
			return
		}
		key, legacy, err := identity.ParseKeyText(s)
		if err != nil {
			p.hostErrorf(h, k, "%w", err)
			return
		}
		if legacy {
			p.warnf(k, "the key is in the old form without a checksum, which the next release will not read: write it as %q (any \"i3net book\" change rewrites it so)", key.String())
		}
		h.e.Key, h.e.ID = key, key.ID()
	case fieldID:
		s, ok := p.str(h, k, v)
		if !ok {
			return
		}
		x, err := id.Parse(s)
		if err != nil {
			p.hostErrorf(h, k, "%w: want the host's public id, 64 hex digits (an optional check of the key), have %q", id.ErrSyntax, s)
			return
		}
		h.wantID, h.idKey = x, k
	case fieldShortcut:
		h.e.Shortcut, _ = p.boolean(h, k, v)
	case fieldPlaintext:
		h.e.Plaintext, _ = p.boolean(h, k, v)
	case fieldPreserveHeaders:
		if b, ok := p.boolean(h, k, v); ok {
			h.e.PreserveHeaders = b
		}
	case fieldBlocked:
		h.e.Blocked, _ = p.boolean(h, k, v)
	case fieldComment:
		h.e.Comment, _ = p.str(h, k, v)
	case fieldAnonymous:
		h.e.Anonymous, _ = p.boolean(h, k, v)
	case fieldMiddlebox:
		if s, ok := p.str(h, k, v); ok {
			if err := CheckName(s); err != nil {
				p.hostErrorf(h, k, "want the book name of a middlebox: %w", err)
				return
			}
			h.e.Middlebox = strings.ToLower(s)
		}
	default:
		if isTable(v) && len(h.key) == 2 {
			dotted := h.key[1] + "." + name
			p.hostErrorf(h, k, "unknown key; if %q is one name, quote it: [hosts.%q]", dotted, dotted)
			return
		}
		p.hostErrorf(h, k, "unknown key (a host has %s)", strings.Join(knownFields, ", "))
	}
}

// check runs the checks that need a host's whole table: the key is present,
// the id matches it, and names sharing a key agree on its options.
func (p *parser) check(hosts []*host) {
	byKey := map[identity.PublicKey]*host{}
	for _, h := range hosts {
		if !h.hasKey {
			p.hostErrorf(h, h.key, `no key: every host needs key = "i3pk1…", as "i3net id" prints it on that host`)
			continue
		}
		if h.idKey != nil && h.wantID != h.e.ID {
			p.hostErrorf(h, h.idKey, "%s does not match the key, whose id is %s", h.wantID.Short(), h.e.ID.Short())
			continue
		}
		if err := h.e.anonymityClash(); err != nil {
			p.hostErrorf(h, h.key, "%v", err)
			continue
		}
		first := byKey[h.e.Key]
		if first == nil {
			byKey[h.e.Key] = h
			continue
		}
		if diff, ok := samePeerOptions(first.e, h.e); !ok {
			p.hostErrorf(h, h.key, "same key as %s (line %d) but differs in %s: names that share a key are one host and must agree on its options",
				first.key, p.line(first.key), strings.Join(diff, ", "))
		}
	}
}

func (p *parser) str(h *host, k toml.Key, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		p.hostErrorf(h, k, "want a string, have %s", typeName(v))
	}
	return s, ok
}

func (p *parser) boolean(h *host, k toml.Key, v any) (bool, bool) {
	b, ok := v.(bool)
	if !ok {
		p.hostErrorf(h, k, "want true or false, have %s", typeName(v))
	}
	return b, ok
}

func (p *parser) hostErrorf(h *host, k toml.Key, format string, args ...any) {
	h.bad = true
	p.errorf(k, format, args...)
}

func (p *parser) errorf(k toml.Key, format string, args ...any) {
	if len(p.errs) >= 10*maxErrors { // finding a line costs a pass over the text
		p.more++
		return
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: p.line(k), Key: k.String(), Err: fmt.Errorf(format, args...)})
}

// warnf records something the file may hold today but not in a later
// release; Book.Warnings returns it.
func (p *parser) warnf(k toml.Key, format string, args ...any) {
	if len(p.warns) < 10*maxErrors {
		p.warns = append(p.warns, &Error{File: p.file, Line: p.line(k), Key: k.String(), Err: fmt.Errorf(format, args...)})
	}
}

func (p *parser) joinErrors() error {
	slices.SortStableFunc(p.errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	if len(p.errs) == 1 {
		return p.errs[0]
	}
	errs := make([]error, 0, maxErrors+1)
	for i, e := range p.errs {
		if i == maxErrors {
			errs = append(errs, fmt.Errorf("%s: and %d more problems", p.file, len(p.errs)+p.more-maxErrors))
			break
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

func (p *parser) syntaxError(err error) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return &Error{File: p.file, Err: err}
	}
	return &Error{File: p.file, Line: pe.Position.Line, Key: pe.LastKey, Err: fmt.Errorf("syntax error: %s", pe.Message)}
}

// primitive returns the undecoded value at k, decoding the tables above it.
func (p *parser) primitive(k toml.Key) (toml.Primitive, bool) {
	prim, ok := p.top[k[0]]
	for i := 1; ok && i < len(k); i++ {
		parent := k[:i].String()
		t, seen := p.tables[parent]
		if !seen {
			if p.md.PrimitiveDecode(prim, &t) != nil {
				t = nil
			}
			p.tables[parent] = t
		}
		prim, ok = t[k[i]]
	}
	return prim, ok
}

// value returns the value at k as BurntSushi/toml represents it (string, bool,
// int64, float64, time.Time, []any, map[string]any, []map[string]any), or nil.
func (p *parser) value(k toml.Key) any {
	prim, ok := p.primitive(k)
	if !ok {
		return nil
	}
	var r recorder
	if p.md.PrimitiveDecode(prim, &r) != nil {
		return nil
	}
	return r.v
}

// line returns the line of key k: where it is defined or, for a table made
// implicitly by a longer key, of the first key under it.
func (p *parser) line(k toml.Key) int {
	if n := p.exactLine(k); n > 0 {
		return n
	}
	for _, kk := range p.md.Keys() {
		if len(kk) > len(k) && slices.Equal(kk[:len(k)], k) {
			if n := p.exactLine(kk); n > 0 {
				return n
			}
		}
	}
	return 0
}

// exactLine finds the line of k by decoding it into a value that fails: the
// decoder's error carries the key's position, which it keeps to itself.
func (p *parser) exactLine(k toml.Key) int {
	prim, ok := p.primitive(k)
	if !ok {
		return 0
	}
	var pe toml.ParseError
	if err := p.md.PrimitiveDecode(prim, failer{}); errors.As(err, &pe) {
		return pe.Position.Line
	}
	return 0
}

// recorder keeps the raw value it is decoded from.
type recorder struct{ v any }

// UnmarshalTOML implements toml.Unmarshaler.
func (r *recorder) UnmarshalTOML(v any) error { r.v = v; return nil }

var errWhere = errors.New("where")

// failer refuses every value, so the decoder reports where it is.
type failer struct{}

// UnmarshalTOML implements toml.Unmarshaler.
func (failer) UnmarshalTOML(any) error { return errWhere }

func isTable(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

// typeName names the TOML type of a decoded value for error messages.
func typeName(v any) string {
	switch v := v.(type) {
	case string:
		return fmt.Sprintf("a string (%q)", v)
	case bool:
		return fmt.Sprintf("a boolean (%t)", v)
	case int64:
		return fmt.Sprintf("an integer (%d)", v)
	case float64:
		return fmt.Sprintf("a float (%v)", v)
	case time.Time:
		return "a date-time"
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("a %T", v)
}

// Package tomlconf loads TOML configuration files into structs with errors a
// user can act on. Every error names the file, the line and the key as TOML
// writes it (rule[2].via), and says what the key wants in the reader's words:
// "a duration needs a unit", "want an address range "IP/BITS"", "unknown key
// "vai" (did you mean "via"?)".
//
// Before decoding, every value is checked against its field's type, at any
// depth (nested tables, arrays of tables, lists, maps): time.Duration (a
// string with a unit, never a bare number of nanoseconds), netip.Addr,
// netip.AddrPort, netip.Prefix, strings, booleans, numbers, lists of these,
// and any type with UnmarshalText. Keys match the toml tags exactly; any
// other key is an error. Only then does BurntSushi/toml decode the text.
//
// It is the one owner of configuration-file loading in i3net (the server,
// the proxy and the gateway); it knows nothing of what the keys mean. Checks
// after decoding (a value out of range) use Meta to find the key's line.
package tomlconf

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"

	"github.com/BurntSushi/toml"
)

// maxProblems is how many problems of one file an error lists.
const maxProblems = 10

// ErrUnknownKey is wrapped by the error of a key that no field has.
var ErrUnknownKey = errors.New("unknown key")

// Load reads path and decodes it into dst (a pointer to a struct with toml
// tags); a missing file is a clear error naming the path, which wraps
// fs.ErrNotExist. prefix (the caller's role, e.g. "server") starts every
// error; see Decode.
func Load(prefix, path string, dst any) (Meta, error) {
	text, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Meta{prefix: prefix, name: path}, fmt.Errorf("%sconfig file %s: %w (check the path)",
			prefixText(prefix), path, fs.ErrNotExist)
	}
	if err != nil {
		return Meta{prefix: prefix, name: path}, fmt.Errorf("%sconfig file: %w", prefixText(prefix), err)
	}
	return Decode(prefix, path, text, dst)
}

// Decode decodes text (named name in errors) into dst, a pointer to a struct
// whose fields carry toml tags; a key not in the text keeps dst's value. It
// returns every problem it finds, as *Error values in line order (joined with
// errors.Join when there are several, at most ten): a syntax error,
// a value of the wrong type or form, an unknown key. dst is written only when
// there is none.
func Decode(prefix, name string, text []byte, dst any) (Meta, error) {
	m := Meta{prefix: prefix, name: name, text: text}
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return m, m.errorAt(0, "", "", fmt.Errorf("cannot decode into %T: want a pointer to a struct", dst))
	}
	if _, err := toml.NewDecoder(bytes.NewReader(text)).Decode(&m.raw); err != nil {
		return m, m.decodeError(err)
	}
	m.lines = indexLines(text)
	if err := m.check(rv.Elem().Type()); err != nil {
		return m, err
	}
	// Decode into a copy, so that dst is untouched if the decoder still refuses.
	tmp := reflect.New(rv.Elem().Type())
	tmp.Elem().Set(rv.Elem())
	cloneMaps(tmp.Elem())
	md, err := toml.NewDecoder(bytes.NewReader(text)).Decode(tmp.Interface())
	if err != nil {
		return m, m.decodeError(err)
	}
	m.md = md
	rv.Elem().Set(tmp.Elem())
	return m, nil
}

// cloneMaps replaces each map in the fields of struct v (and of its nested
// structs) by a copy: the decoder adds a file's entries to a map it finds,
// which must not be the caller's defaults.
func cloneMaps(v reflect.Value) {
	for i := range v.NumField() {
		f := v.Field(i)
		switch {
		case !f.CanSet():
		case f.Kind() == reflect.Struct:
			cloneMaps(f)
		case f.Kind() == reflect.Map && !f.IsNil():
			m := reflect.MakeMapWithSize(f.Type(), f.Len())
			for it := f.MapRange(); it.Next(); {
				m.SetMapIndex(it.Key(), it.Value())
			}
			f.Set(m)
		}
	}
}

// Error is one problem at one place of a configuration file. Its text is
// "PREFIX: FILE:LINE: KEY = VALUE: problem", where the line, the key and the
// value are left out when unknown or not relevant.
type Error struct {
	Prefix string // the caller's role, e.g. "server"; may be empty
	File   string // the file's name as given to Load or Decode
	Line   int    // from 1; 0 if unknown
	Key    string // as TOML writes it, e.g. rule[2].via; may be empty
	Value  string // the value as TOML writes it, for a value's problem; may be empty
	Err    error  // the problem
}

// Error returns the problem with its place.
func (e *Error) Error() string {
	var b bytes.Buffer
	b.WriteString(prefixText(e.Prefix))
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		if e.Value != "" {
			b.WriteString(" = ")
			b.WriteString(e.Value)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the problem.
func (e *Error) Unwrap() error { return e.Err }

func prefixText(prefix string) string {
	if prefix == "" {
		return ""
	}
	return prefix + ": "
}

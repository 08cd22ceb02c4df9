package tomlconf

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Meta tells where keys are in a decoded file, for errors found after
// decoding (validation). A key is a path of table keys; an element of a list
// or of an array of tables ([[rule]]) is written with its index as a path
// element, from 0: ("rule", "2", "via") is via in the third [[rule]].
type Meta struct {
	prefix, name string
	text         []byte
	raw          map[string]any // the text decoded into maps, for IsDefined and key names
	lines        map[string]int // joinKey(path) → line
	md           toml.MetaData  // set once the text is decoded into the struct
}

// MetaData returns what BurntSushi/toml returned when it decoded the file
// into the struct (Keys in file order, Type, Undecoded).
func (m Meta) MetaData() toml.MetaData { return m.md }

// Name returns the file's name as given to Load or Decode.
func (m Meta) Name() string { return m.name }

// IsDefined reports whether the file sets key (or a table under it).
func (m Meta) IsDefined(key ...string) bool {
	_, ok := m.lookup(key)
	return ok && len(key) > 0
}

// Line returns the line (from 1) of key, or 0. For an array of tables
// ([[rule]]) a key inside its i-th element is written with the index as a
// path element: Line("rule", "2", "via") is the line of `via` in the third
// [[rule]] (or of that [[rule]] header when via is absent there). The same
// holds for the elements of a list (Line("serves", "1")) and for keys of
// inline tables: when a key is not in the file, the line of the nearest
// enclosing key that is.
func (m Meta) Line(key ...string) int {
	for n := len(key); n > 0; n-- {
		if line, ok := m.lines[joinKey(key[:n])]; ok {
			return line
		}
	}
	return 0
}

// Errorf returns "PREFIX: FILE:LINE: KEY: message" for key (the line from
// Line; without a line when unknown), KEY written as TOML would (rule[2].via).
// The error is an *Error; %w in format wraps as fmt.Errorf does.
func (m Meta) Errorf(key []string, format string, args ...any) error {
	return m.errorAt(m.Line(key...), m.KeyString(key...), "", fmt.Errorf(format, args...))
}

// ValueErrorf is Errorf for a value the caller refuses: "PREFIX: FILE:LINE:
// KEY = VALUE: message", value written as the caller wants it shown (e.g.
// `"nowhere"` or 40).
func (m Meta) ValueErrorf(key []string, value string, format string, args ...any) error {
	return m.errorAt(m.Line(key...), m.KeyString(key...), value, fmt.Errorf(format, args...))
}

// KeyString writes key as TOML would: dotted, quoted where needed, with list
// indices in brackets (rule[2].via).
func (m Meta) KeyString(key ...string) string {
	var b strings.Builder
	var cur any = m.raw
	for i, k := range key {
		if list, ok := asList(cur); ok {
			if n, err := strconv.Atoi(k); err == nil && n >= 0 && n < len(list) {
				fmt.Fprintf(&b, "[%d]", n)
				cur = list[n]
				continue
			}
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(toml.Key{k}.String())
		table, _ := cur.(map[string]any)
		cur = table[k]
	}
	return b.String()
}

// lookup returns the raw value at key, following list indices.
func (m Meta) lookup(key []string) (any, bool) {
	var cur any = m.raw
	for _, k := range key {
		if list, ok := asList(cur); ok {
			n, err := strconv.Atoi(k)
			if err != nil || n < 0 || n >= len(list) {
				return nil, false
			}
			cur = list[n]
			continue
		}
		table, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = table[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func (m Meta) errorAt(line int, key, value string, err error) *Error {
	return &Error{Prefix: m.prefix, File: m.name, Line: line, Key: key, Value: value, Err: err}
}

// tomlLineKey matches the decoder's type errors: "toml: line 3 (last key "x"): …".
var tomlLineKey = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// decodeError rewrites an error of BurntSushi/toml (a syntax error, or a
// value the checks let through and the decoder refused) as an *Error.
func (m Meta) decodeError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.LastKey != "" {
			msg = fmt.Sprintf("key %s: %s", pe.LastKey, msg)
		}
		return m.errorAt(pe.Position.Line, "", "", errors.New(msg))
	}
	if sub := tomlLineKey.FindStringSubmatch(err.Error()); sub != nil {
		line, _ := strconv.Atoi(sub[1])
		return m.errorAt(line, "", "", fmt.Errorf("key %s: %s", sub[2], sub[3]))
	}
	return m.errorAt(0, "", "", errors.New(strings.TrimPrefix(err.Error(), "toml: ")))
}

// joinKey makes a map key of a key path.
func joinKey(key []string) string { return strings.Join(key, "\x00") }

// asList returns v's elements if v is a TOML array or array of tables.
func asList(v any) ([]any, bool) {
	switch v := v.(type) {
	case []any:
		return v, true
	case []map[string]any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = e
		}
		return out, true
	}
	return nil, false
}

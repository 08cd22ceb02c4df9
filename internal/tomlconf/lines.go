package tomlconf

import (
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// indexLines maps every key of a TOML text (one BurntSushi/toml parsed) to
// the line that sets it, keyed by joinKey of its path. An element of an array
// of tables or of a list has its index as a path element (rule, 2, via); a
// table made by a longer key ([a.b] makes a) gets the line of that key unless
// the file opens it itself. The decoder keeps positions to itself, and keeps
// only the last element's for an array of tables, hence this scanner. It
// never fails: on text it does not understand it finds fewer keys.
func indexLines(text []byte) map[string]int {
	s := &lineScanner{
		text:     text,
		lines:    map[string]int{},
		implicit: map[string]bool{},
		arrays:   map[string]int{},
	}
	for i, c := range text {
		if c == '\n' {
			s.newlines = append(s.newlines, i)
		}
	}
	for s.pos < len(s.text) {
		s.skipBlank(true)
		if s.pos >= len(s.text) {
			break
		}
		start := s.pos
		if s.text[s.pos] == '[' {
			s.header()
		} else {
			s.keyValue()
		}
		s.skipLine()
		if s.pos <= start { // cannot happen on valid TOML; always move on
			s.pos = start + 1
		}
	}
	return s.lines
}

// lineScanner walks a TOML text statement by statement.
type lineScanner struct {
	text     []byte
	pos      int
	newlines []int           // offsets of '\n'
	lines    map[string]int  // joinKey(path) → line
	implicit map[string]bool // entries set by a longer key, which the key's own line replaces
	arrays   map[string]int  // array of tables (joinKey of its path) → elements so far
	table    []string        // the current table's path, with indices
}

// header reads [a.b] or [[a.b]] and makes it the current table.
func (s *lineScanner) header() {
	line := s.line(s.pos)
	array := s.at(s.pos+1) == '['
	s.pos++
	if array {
		s.pos++
	}
	key := s.key()
	if len(key) == 0 {
		return
	}
	if !array {
		s.table = s.resolve(key)
		s.set(s.table, line, true)
		return
	}
	full := append(s.resolve(key[:len(key)-1]), key[len(key)-1])
	n := s.arrays[joinKey(full)]
	s.arrays[joinKey(full)] = n + 1
	s.set(full, line, true)
	s.table = append(full, strconv.Itoa(n))
	s.set(s.table, line, true)
}

// resolve turns a header's key into a path, putting after each array of
// tables the index of its last element, as TOML does.
func (s *lineScanner) resolve(key []string) []string {
	var out []string
	for _, k := range key {
		out = append(out, k)
		if n := s.arrays[joinKey(out)]; n > 0 {
			out = append(out, strconv.Itoa(n-1))
		}
	}
	return out
}

// keyValue reads KEY = VALUE in the current table.
func (s *lineScanner) keyValue() {
	s.pair(s.table)
}

// pair reads KEY = VALUE under path (a table or an inline table).
func (s *lineScanner) pair(path []string) {
	line := s.line(s.pos)
	key := s.key()
	s.skipBlank(false)
	if len(key) == 0 || s.at(s.pos) != '=' {
		return
	}
	s.pos++
	full := append(append([]string(nil), path...), key...)
	s.set(full, line, true)
	s.value(full)
}

// value skips a value, noting the lines of list elements and of the keys of
// inline tables under path.
func (s *lineScanner) value(path []string) {
	s.skipBlank(false)
	switch s.at(s.pos) {
	case '"', '\'':
		s.str()
	case '[':
		s.list(path)
	case '{':
		s.inlineTable(path)
	default:
		for s.pos < len(s.text) && !strings.ContainsRune(",]}#\n", rune(s.text[s.pos])) {
			s.pos++
		}
	}
}

func (s *lineScanner) list(path []string) {
	s.pos++ // [
	for i := 0; s.pos < len(s.text); {
		s.skipBlank(true)
		switch s.at(s.pos) {
		case ']':
			s.pos++
			return
		case ',':
			s.pos++
			continue
		}
		start := s.pos
		elem := append(append([]string(nil), path...), strconv.Itoa(i))
		s.set(elem, s.line(start), true)
		s.value(elem)
		i++
		if s.pos <= start {
			s.pos = start + 1
		}
	}
}

func (s *lineScanner) inlineTable(path []string) {
	s.pos++ // {
	for s.pos < len(s.text) {
		s.skipBlank(true)
		switch s.at(s.pos) {
		case '}':
			s.pos++
			return
		case ',':
			s.pos++
			continue
		}
		start := s.pos
		s.pair(path)
		if s.pos <= start {
			s.pos = start + 1
		}
	}
}

// set notes that path is set at line, and its enclosing tables (implicitly)
// too. A key keeps its first line, but its own line replaces one noted for a
// longer key. Every key noted has its enclosing ones noted, so the walk up
// stops at the first one known (a deep list costs its depth, not its cube).
func (s *lineScanner) set(path []string, line int, explicit bool) {
	k := joinKey(path)
	if _, ok := s.lines[k]; ok && !(explicit && s.implicit[k]) {
		return
	}
	s.lines[k] = line
	s.implicit[k] = !explicit
	for p := k; ; {
		i := strings.LastIndexByte(p, 0)
		if i < 0 {
			return
		}
		p = p[:i]
		if _, ok := s.lines[p]; ok {
			return
		}
		s.lines[p] = line
		s.implicit[p] = true
	}
}

// key reads a dotted key (bare, "basic" and 'literal' parts) and returns its
// parts, stopping before '=' or ']'.
func (s *lineScanner) key() []string {
	var parts []string
	for s.pos < len(s.text) {
		s.skipBlank(false)
		var part string
		switch c := s.at(s.pos); {
		case c == '"' || c == '\'':
			start := s.pos
			s.str()
			part = unquote(string(s.text[start:s.pos]))
		case isBareKeyChar(c):
			start := s.pos
			for s.pos < len(s.text) && isBareKeyChar(s.text[s.pos]) {
				s.pos++
			}
			part = string(s.text[start:s.pos])
		default:
			return parts
		}
		parts = append(parts, part)
		s.skipBlank(false)
		if s.at(s.pos) != '.' {
			return parts
		}
		s.pos++
	}
	return parts
}

func isBareKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// str skips a string of any of TOML's four kinds.
func (s *lineScanner) str() {
	q := s.text[s.pos]
	triple := strings.Repeat(string(q), 3)
	if strings.HasPrefix(string(s.text[s.pos:min(s.pos+3, len(s.text))]), triple) {
		s.pos += 3
		for s.pos < len(s.text) {
			switch {
			case q == '"' && s.text[s.pos] == '\\':
				s.pos += 2
			case strings.HasPrefix(string(s.text[s.pos:min(s.pos+3, len(s.text))]), triple):
				s.pos += 3
				for i := 0; i < 2 && s.at(s.pos) == q; i++ { // """a"""""  ends with quotes
					s.pos++
				}
				return
			default:
				s.pos++
			}
		}
		s.pos = min(s.pos, len(s.text))
		return
	}
	s.pos++
	for s.pos < len(s.text) {
		c := s.text[s.pos]
		switch {
		case c == '\n':
			return
		case q == '"' && c == '\\':
			s.pos += 2
			continue
		}
		s.pos++
		if c == q {
			return
		}
	}
	s.pos = min(s.pos, len(s.text))
}

// skipBlank skips spaces, tabs and comments, and newlines if newlines.
func (s *lineScanner) skipBlank(newlines bool) {
	for s.pos < len(s.text) {
		switch c := s.text[s.pos]; {
		case c == ' ' || c == '\t' || c == '\r':
			s.pos++
		case c == '\n' && newlines:
			s.pos++
		case c == '#':
			for s.pos < len(s.text) && s.text[s.pos] != '\n' {
				s.pos++
			}
		default:
			return
		}
	}
}

// skipLine skips to the start of the next line.
func (s *lineScanner) skipLine() {
	for s.pos < len(s.text) && s.text[s.pos] != '\n' {
		s.pos++
	}
	s.pos++
}

func (s *lineScanner) at(i int) byte {
	if i < 0 || i >= len(s.text) {
		return 0
	}
	return s.text[i]
}

// line returns the line (from 1) of offset pos.
func (s *lineScanner) line(pos int) int {
	return sort.SearchInts(s.newlines, pos) + 1
}

// unquote returns the text of a quoted key: a 'literal' one as it is, a
// "basic" one with its escapes (\n, \uXXXX, \e, \xHH, …) replaced.
func unquote(q string) string {
	if len(q) < 2 {
		return q
	}
	body := q[1 : len(q)-1]
	if q[0] == '\'' || !strings.Contains(body, `\`) {
		return body
	}
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' || i+1 == len(body) {
			b.WriteByte(body[i])
			continue
		}
		i++
		if r, ok := simpleEscapes[body[i]]; ok {
			b.WriteRune(r)
			continue
		}
		width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[body[i]]
		if width == 0 || i+1+width > len(body) {
			b.WriteByte(body[i])
			continue
		}
		n, err := strconv.ParseUint(body[i+1:i+1+width], 16, 32)
		if err != nil || !utf8.ValidRune(rune(n)) {
			b.WriteByte(body[i])
			continue
		}
		b.WriteRune(rune(n))
		i += width
	}
	return b.String()
}

var simpleEscapes = map[byte]rune{
	'b': '\b', 't': '\t', 'n': '\n', 'f': '\f', 'r': '\r', 'e': 0x1b, '"': '"', '\\': '\\',
}

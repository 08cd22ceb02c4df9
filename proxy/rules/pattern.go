package rules

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Limits of a name in a pattern (RFC 1035 §2.3.4, without the trailing dot).
const (
	maxNameLen  = 253
	maxLabelLen = 63
)

// patternForms is what ParsePattern accepts, for its errors.
const patternForms = `want NAME (that name), "*.NAME" (the names under it), "*" (every name) or "re:EXPR" (a regular expression)`

// kind is the form of a Pattern.
type kind uint8

const (
	kindNone   kind = iota // the zero Pattern: matches nothing
	kindExact              // "corp.example"
	kindUnder              // "*.corp.example"
	kindAll                // "*"
	kindRegexp             // "re:EXPR"
)

// Pattern is a set of DNS names, parsed by ParsePattern. The zero Pattern
// matches nothing. Patterns are immutable and safe for concurrent use.
type Pattern struct {
	kind kind
	name string         // kindExact: the name; kindUnder: ".NAME" (lower case)
	re   *regexp.Regexp // kindRegexp
	expr string         // kindRegexp: EXPR as written
}

// ParsePattern parses one of:
//
//   - "corp.example": that name only;
//   - "*.corp.example": every name under it ("wiki.corp.example",
//     "a.b.corp.example"), not the name itself;
//   - "*": every name;
//   - "re:EXPR": the names that the Go regular expression EXPR matches as a
//     whole (it is anchored at both ends); it sees the name in lower case,
//     without the trailing dot, and its letters match either case.
//
// Names are case-insensitive, and one trailing dot is ignored. A name is
// labels of 1–63 letters, digits, hyphens and underscores, joined by dots, at
// most 253 characters.
func ParsePattern(s string) (Pattern, error) {
	p, err := parsePattern(s)
	if err != nil {
		return Pattern{}, fmt.Errorf("pattern %q: %w", s, err)
	}
	return p, nil
}

// parsePattern is ParsePattern; its errors do not repeat s.
func parsePattern(s string) (Pattern, error) {
	if expr, ok := strings.CutPrefix(s, "re:"); ok {
		return parseRegexp(expr)
	}
	name := strings.ToLower(strings.TrimSuffix(s, "."))
	switch {
	case name == "":
		return Pattern{}, fmt.Errorf("empty: %s", patternForms)
	case name == "*":
		return Pattern{kind: kindAll}, nil
	case strings.HasPrefix(name, "*."):
		if err := checkName(name[2:]); err != nil {
			return Pattern{}, fmt.Errorf("%v: %s", err, patternForms)
		}
		return Pattern{kind: kindUnder, name: name[1:]}, nil
	}
	if err := checkName(name); err != nil {
		return Pattern{}, fmt.Errorf("%v: %s", err, patternForms)
	}
	return Pattern{kind: kindExact, name: name}, nil
}

// parseRegexp compiles the EXPR of "re:EXPR".
func parseRegexp(expr string) (Pattern, error) {
	if expr == "" {
		return Pattern{}, errors.New(`empty regular expression: want re:EXPR, e.g. "re:(wiki|git)\.corp\.example"`)
	}
	_, err := regexp.Compile(expr) // alone first: "a)|(b" must not escape the anchors
	var re *regexp.Regexp
	if err == nil {
		re, err = regexp.Compile(`^(?i:` + expr + `)$`)
	}
	if err != nil {
		return Pattern{}, fmt.Errorf("want re: and a Go regular expression (pkg.go.dev/regexp/syntax): %v", err)
	}
	return Pattern{kind: kindRegexp, re: re, expr: expr}, nil
}

// checkName reports what is wrong with name (lower case, no trailing dot).
func checkName(name string) error {
	if len(name) > maxNameLen {
		return fmt.Errorf("name of %d characters, at most %d", len(name), maxNameLen)
	}
	for label := range strings.SplitSeq(name, ".") {
		switch {
		case label == "":
			return errors.New("empty label: dots go between labels")
		case label == "*":
			return errors.New(`"*" only as the whole first label`)
		case len(label) > maxLabelLen:
			return fmt.Errorf("label %q of %d characters, at most %d", label, len(label), maxLabelLen)
		}
		for i := 0; i < len(label); i++ {
			if !isLabelChar(label[i]) {
				return fmt.Errorf("%q is not allowed in a name: use letters, digits, hyphens and underscores", label[i:i+1])
			}
		}
	}
	return nil
}

// isLabelChar reports whether c may appear in a label of a pattern's name
// (lower case).
func isLabelChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// Match reports whether name is in p. name is a DNS name in any case, with or
// without its trailing dot ("Wiki.Corp.Example."). It allocates nothing,
// except for a regular expression and a name with upper-case letters.
func (p Pattern) Match(name string) bool {
	name = strings.TrimSuffix(name, ".")
	switch p.kind {
	case kindExact:
		return equalFoldASCII(name, p.name)
	case kindUnder:
		return len(name) > len(p.name) && equalFoldASCII(name[len(name)-len(p.name):], p.name)
	case kindAll:
		return true
	case kindRegexp:
		return p.re.MatchString(lowerASCII(name))
	}
	return false
}

// String returns p in the form ParsePattern reads ("" for the zero Pattern).
func (p Pattern) String() string {
	switch p.kind {
	case kindExact:
		return p.name
	case kindUnder:
		return "*" + p.name
	case kindAll:
		return "*"
	case kindRegexp:
		return "re:" + p.expr
	}
	return ""
}

// MatchAny reports whether name is in one of patterns.
func MatchAny(patterns []Pattern, name string) bool {
	for _, p := range patterns {
		if p.Match(name) {
			return true
		}
	}
	return false
}

// covers reports whether every name p matches is matched by the earlier
// pattern e, as far as it can tell without running regular expressions.
func (e Pattern) covers(p Pattern) bool {
	switch {
	case e.kind == kindAll:
		return true
	case e.kind == kindExact:
		return p.kind == kindExact && p.name == e.name
	case e.kind == kindUnder && (p.kind == kindExact || p.kind == kindUnder):
		return p.name == e.name || e.Match(p.name)
	}
	return false
}

// equalFoldASCII reports whether a and b are equal when ASCII letters are
// folded to lower case (DNS names compare so, RFC 4343).
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}

// lowerASCII returns s with ASCII letters in lower case; s itself when it has
// none in upper case.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerByte(b[j])
			}
			return string(b)
		}
	}
	return s
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

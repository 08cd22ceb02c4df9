package rules

import (
	"strings"
	"testing"
)

// FuzzParsePattern parses arbitrary text as a pattern and matches it against
// an arbitrary name: no panic; a pattern that parses prints as text that
// parses to the same pattern; Match ignores ASCII case and one trailing dot;
// and the name forms agree with a plain reference (lower-case the name, then
// compare or take the suffix).
func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{
		"corp.example", "*.corp.example", "*", "Wiki.Corp.Example.", `re:(wiki|git)\.corp\.example`,
		"re:", "re:a)|(b", "*.", ".", "a..b", "*.*.x", "_srv.x-y.example",
	} {
		f.Add(s, "wiki.corp.example.")
	}
	f.Add("corp.example", "CORP.EXAMPLE")
	f.Add("*.corp.example", ".corp.example")
	f.Fuzz(func(t *testing.T, s, name string) {
		p, err := ParsePattern(s)
		if err != nil {
			if p != (Pattern{}) {
				t.Fatalf("error %v with pattern %v", err, p)
			}
			return
		}
		again, err := ParsePattern(p.String())
		if err != nil || again.String() != p.String() || again.kind != p.kind {
			t.Fatalf("%q → %q → %v, %v", s, p.String(), again, err)
		}
		got := p.Match(name)
		if p.Match(strings.ToUpper(name)) != got && isASCII(name) {
			t.Fatalf("%v: %q and its upper case differ", p, name)
		}
		if !strings.HasSuffix(name, ".") && p.Match(name+".") != got {
			t.Fatalf("%v: %q and %q differ", p, name, name+".")
		}
		if want, ok := referenceMatch(p, name); ok && got != want {
			t.Fatalf("%v.Match(%q) = %v, reference says %v", p, name, got, want)
		}
	})
}

// referenceMatch says whether p matches name, for the name forms; ok is false
// for a regular expression.
func referenceMatch(p Pattern, name string) (match, ok bool) {
	name = strings.TrimSuffix(lowerASCII(name), ".")
	s := p.String()
	switch {
	case s == "*":
		return true, true
	case strings.HasPrefix(s, "re:"):
		return false, false
	case strings.HasPrefix(s, "*."):
		return strings.HasSuffix(name, s[1:]) && len(name) > len(s)-1, true
	}
	return name == s, true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

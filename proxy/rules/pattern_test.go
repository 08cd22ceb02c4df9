package rules

import (
	"strings"
	"testing"
)

func TestParsePattern(t *testing.T) {
	tests := []struct {
		in      string
		want    string // String(); "" with errPart
		errPart string
	}{
		{"corp.example", "corp.example", ""},
		{"Corp.Example.", "corp.example", ""},
		{"*.corp.example", "*.corp.example", ""},
		{"*.CORP.example.", "*.corp.example", ""},
		{"*", "*", ""},
		{"*.", "*", ""},
		{"_ldap.corp-1.example", "_ldap.corp-1.example", ""},
		{`re:(wiki|git)\.corp\.example`, `re:(wiki|git)\.corp\.example`, ""},
		{"re:.*", "re:.*", ""},
		{"", "", "empty"},
		{".", "", "empty"},
		{"corp..example", "", "empty label"},
		{".corp.example", "", "empty label"},
		{"corp.example..", "", "empty label"},
		{"*.", "*", ""},
		{"*.*.example", "", `"*" only as the whole first label`},
		{"wiki.*.example", "", `"*" only`},
		{"*corp.example", "", `"*" is not allowed`},
		{"w iki.example", "", `" " is not allowed`},
		{"wiki/example", "", `"/" is not allowed`},
		{strings.Repeat("a", 64) + ".example", "", "label"},
		{strings.Repeat("a.", 127) + "ab", "", "at most 253"},
		{"re:", "", "empty regular expression"},
		{"re:(", "", "Go regular expression"},
		{"re:a)|(b", "", "Go regular expression"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePattern(tt.in)
			if tt.errPart != "" {
				if err == nil {
					t.Fatalf("ParsePattern(%q) = %v, want an error with %q", tt.in, p, tt.errPart)
				}
				if !strings.Contains(err.Error(), tt.errPart) || !strings.Contains(err.Error(), "re:") {
					t.Fatalf("error %q: want it to contain %q and say what forms are wanted", err, tt.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.String() != tt.want {
				t.Fatalf("String() = %q, want %q", p.String(), tt.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern string
		yes, no []string
	}{
		{"corp.example", []string{"corp.example", "corp.example.", "CORP.Example."},
			[]string{"wiki.corp.example", "corp.example..", "xcorp.example", "corp.exampl", ""}},
		{"*.corp.example", []string{"wiki.corp.example.", "a.b.corp.example", "WIKI.CORP.EXAMPLE"},
			[]string{"corp.example", "corp.example.", ".corp.example", "xcorp.example", "wiki.corp.example.org", "corp.example.com", ""}},
		{"*", []string{"a", "wiki.corp.example.", "", "."}, nil},
		{`re:(wiki|git)\.corp\.example`, []string{"wiki.corp.example", "GIT.corp.example.", "Wiki.Corp.Example"},
			[]string{"xwiki.corp.example", "wiki.corp.example.org", "wiki.corp.example..", "mail.corp.example"}},
		{`re:[a-z]+\.lab`, []string{"ABC.lab"}, []string{"a1.lab"}},
		{`re:WIKI\.x`, []string{"wiki.x", "Wiki.X."}, nil},
	}
	for _, tt := range tests {
		p, err := ParsePattern(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tt.yes {
			if !p.Match(n) {
				t.Errorf("%v does not match %q", p, n)
			}
		}
		for _, n := range tt.no {
			if p.Match(n) {
				t.Errorf("%v matches %q", p, n)
			}
		}
	}
	if (Pattern{}).Match("a") || (Pattern{}).String() != "" {
		t.Error("the zero Pattern matches or prints something")
	}
}

func TestMatchAny(t *testing.T) {
	var ps []Pattern
	for _, s := range []string{"*.corp.example", "lab.example"} {
		p, err := ParsePattern(s)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for name, want := range map[string]bool{
		"wiki.corp.example.": true, "lab.example": true, "x.lab.example": false, "corp.example": false,
	} {
		if got := MatchAny(ps, name); got != want {
			t.Errorf("MatchAny(%q) = %v, want %v", name, got, want)
		}
	}
	if MatchAny(nil, "a") {
		t.Error("no patterns match a name")
	}
}

func TestMatchNameFormsAllocateNothing(t *testing.T) {
	for _, s := range []string{"corp.example", "*.corp.example", "*"} {
		p, err := ParsePattern(s)
		if err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { p.Match("Wiki.Corp.Example.") }); n != 0 {
			t.Errorf("%v: %v allocations per Match", p, n)
		}
	}
	p, _ := ParsePattern(`re:wiki\..*`)
	if n := testing.AllocsPerRun(100, func() { p.Match("wiki.corp.example.") }); n != 0 {
		t.Errorf("%v: %v allocations per Match of a lower-case name", p, n)
	}
}

func BenchmarkMatchUnder(b *testing.B) {
	p, _ := ParsePattern("*.corp.example")
	b.ReportAllocs()
	for b.Loop() {
		p.Match("wiki.corp.example.")
	}
}

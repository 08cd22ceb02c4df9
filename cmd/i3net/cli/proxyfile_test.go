package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/i3net/i3net/proxy/rules"
)

func writeProxyFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "proxy.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProxyFileRules(t *testing.T) {
	path := writeProxyFile(t, `servers = ["198.18.0.1:5610"]
[[rule]]
match = "*.corp.example"
via = "office-gw"
[[rule]]
match = "*.ads.example"
action = "refuse"
`)
	f, rs, err := loadProxyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Servers) != 1 || rs == nil || len(rs.All()) != 2 {
		t.Fatalf("file %+v, rules %v", f, rs)
	}
	if r, ok := rs.Lookup("wiki.corp.example."); !ok || r.Action != rules.Via || r.Via != "office-gw" {
		t.Fatalf("wiki.corp.example: %+v %v", r, ok)
	}
	if r, ok := rs.Lookup("x.ads.example"); !ok || r.Action != rules.Refuse {
		t.Fatalf("x.ads.example: %+v %v", r, ok)
	}
}

// A bad rule names the file, the line of its key, and what to write.
func TestProxyFileErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"[[rule]]\nmatch = \"*.corp.example\"\nvia = \"gw\"\n[[rule]]\nmatch = \"*.lab.example\"\nvia = \"lab gw\"\n", ":6: rule[1].via = lab gw"},
		{"[[rule]]\nmatch = \"*.corp.example\"\nvia = \"gw\"\nacton = \"refuse\"\n", ":4: unknown key \"rule[0].acton\" (did you mean \"action\"?)"},
		{"[[rule]]\nmatch = \"re:(\"\nvia = \"gw\"\n", ":2: rule[0].match"},
	}
	for _, tt := range tests {
		path := writeProxyFile(t, tt.text)
		_, _, err := loadProxyFile(path)
		if err == nil || !strings.Contains(err.Error(), path+tt.want) {
			t.Errorf("%q: error %v, want %q", tt.text, err, path+tt.want)
		}
	}
}

func TestProxyFileMiddlebox(t *testing.T) {
	f, _, err := loadProxyFile(writeProxyFile(t, "middlebox = \"ids-mb\"\n"))
	if err != nil || f.Middlebox != "ids-mb" {
		t.Fatalf("%+v %v", f, err)
	}
	path := writeProxyFile(t, "middlebox = \"ids mb\"\n")
	if _, _, err := loadProxyFile(path); err == nil || !strings.Contains(err.Error(), path+":1: middlebox = ids mb") {
		t.Fatalf("a bad middlebox name: %v", err)
	}
}

package tomlconf

import (
	"strconv"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzDecode: no text makes Decode panic; every error names the file; and for
// every text the decoder reads, each key it holds, at any depth (list
// elements and array-of-tables elements by index), has its own line.
func FuzzDecode(f *testing.F) {
	f.Add(goodText)
	f.Add("[[rule]]\nvia = \"a\"\n[[rule]]\nvai = 1\n")
	f.Add("a = [\n  { b = 1 },\n  { c = [1, { d = 2 }] },\n]\n")
	f.Add("\"a.b\" = 1\n'c' = \"\"\"\nx = 1\n\"\"\"\n[e.\"f\\u0041\"]\n[[g.h]]\n[[g]]\n[[g.h]]\n")
	f.Add("t = {\n  x = 1, # TOML 1.1\n}\n")
	f.Add("count = = 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		var c testConfig
		m, err := Decode("gw", "t.toml", []byte(text), &c)
		if err != nil && !strings.HasPrefix(err.Error(), "gw: t.toml") {
			t.Fatalf("error does not name the file: %v", err)
		}
		if err == nil {
			_ = m.Errorf([]string{"rule", "0", "via"}, "x")
		}
		var raw map[string]any
		if _, err := toml.Decode(text, &raw); err != nil {
			return
		}
		lines := indexLines([]byte(text))
		n := strings.Count(text, "\n") + 1
		walkKeys(raw, nil, func(key []string) {
			line, ok := lines[joinKey(key)]
			if !ok || line < 1 || line > n {
				t.Fatalf("key %q: line %d (found %v) in %q", key, line, ok, text)
			}
		})
	})
}

// walkKeys calls fn with the path of every key and list element under v.
func walkKeys(v any, path []string, fn func([]string)) {
	if list, ok := asList(v); ok {
		for i, e := range list {
			p := appendKey(path, strconv.Itoa(i))
			fn(p)
			walkKeys(e, p, fn)
		}
		return
	}
	if table, ok := v.(map[string]any); ok {
		for k, e := range table {
			p := appendKey(path, k)
			fn(p)
			walkKeys(e, p, fn)
		}
	}
}

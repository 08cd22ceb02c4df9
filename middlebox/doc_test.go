package middlebox

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// docs/middlebox.md's example file loads (with a real key), and the page
// names every key of the file and every counter of the status.
func TestDoc(t *testing.T) {
	b, err := os.ReadFile("../docs/middlebox.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	blocks := regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllStringSubmatch(doc, -1)
	if len(blocks) != 1 {
		t.Fatalf("%d TOML examples in docs/middlebox.md, want 1", len(blocks))
	}
	text := strings.ReplaceAll(blocks[0][1], "i3pk1...", newKey(t).String())
	cfg, err := LoadConfig(writeConfig(t, text))
	if err != nil || cfg.IDSTun != "i3ids0" || len(cfg.Hosts) != 1 {
		t.Fatalf("the example: %+v, %v", cfg, err)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[Config](), reflect.TypeFor[HostConfig]()} {
		for f := range typ.Fields() {
			if tag := f.Tag.Get("toml"); tag != "-" && !strings.Contains(doc, tag) {
				t.Errorf("docs/middlebox.md does not name the key %q", tag)
			}
		}
	}
	m, err := newMiddlebox(cfg, Options{Identity: newIdent(t)})
	if err != nil {
		t.Fatal(err)
	}
	for name := range m.middleboxCounters() {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/middlebox.md does not name the counter %q", name)
		}
	}
}

package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/proxy"
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

// The anonymity keys: a rule's anonymous, accept_anonymous and
// anonymous_rotate; flags win over the file.
func TestProxyFileAnonymity(t *testing.T) {
	path := writeProxyFile(t, `accept_anonymous = false
anonymous_rotate = "90s"
[[rule]]
match = "*.example"
via = "gw"
anonymous = true
`)
	f, rs, err := loadProxyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := rs.Lookup("www.example"); !ok || !r.Anonymous || !rs.Anonymous("gw") {
		t.Fatalf("www.example: %+v %v", r, ok)
	}
	a := proxyArgs{}
	a.fileAnonymity(f)
	cfg := proxy.DefaultConfig()
	a.applyAnonymity(&cfg)
	if cfg.AcceptAnonymous || cfg.AnonRotate != 90*time.Second {
		t.Fatalf("from the file: accept %v rotate %v", cfg.AcceptAnonymous, cfg.AnonRotate)
	}
	a = proxyArgs{anonRotate: time.Second}
	a.fileAnonymity(f)
	cfg = proxy.DefaultConfig()
	a.applyAnonymity(&cfg)
	if cfg.AnonRotate != time.Second {
		t.Fatalf("--anonymous-rotate 1s lost to the file: %v", cfg.AnonRotate)
	}
	a = proxyArgs{}
	a.fileAnonymity(proxyFile{})
	cfg = proxy.DefaultConfig()
	a.applyAnonymity(&cfg)
	if !cfg.AcceptAnonymous || cfg.AnonRotate != proxy.DefaultAnonRotate {
		t.Fatalf("defaults: accept %v rotate %v", cfg.AcceptAnonymous, cfg.AnonRotate)
	}
	for _, tt := range []struct{ text, want string }{
		{"[[rule]]\nmatch = \"*.example\"\nanonymous = true\n", ":3: rule[0].anonymous = true: without via"},
		{"[[rule]]\nmatch = \"*.a.example\"\nvia = \"gw\"\nanonymous = true\n[[rule]]\nmatch = \"*.b.example\"\nvia = \"gw\"\n",
			":7: rule[1].via = gw: rule[0] sends through gateway"},
		{"anonymous_rotate = \"-1s\"\n", ":1: anonymous_rotate = -1s: must be positive"},
	} {
		p := writeProxyFile(t, tt.text)
		if _, _, err := loadProxyFile(p); err == nil || !strings.Contains(err.Error(), p+tt.want) {
			t.Errorf("%q: error %v, want %q", tt.text, err, p+tt.want)
		}
	}
}

// queue_target and --queue-target: the flag wins, 0 turns the limit off, the
// interval is 20 times the target, a negative value is an error naming the
// line.
func TestProxyQueueTarget(t *testing.T) {
	cfgOf := func(a proxyArgs, f proxyFile) proxy.Config {
		a.fileQueue(f)
		cfg := proxy.DefaultConfig()
		a.applyQueue(&cfg)
		return cfg
	}
	if cfg := cfgOf(proxyArgs{}, proxyFile{}); cfg.QueueTarget != proxy.DefaultQueueTarget || cfg.QueueInterval != proxy.DefaultQueueInterval {
		t.Errorf("defaults: %v %v", cfg.QueueTarget, cfg.QueueInterval)
	}
	f, _, err := loadProxyFile(writeProxyFile(t, "queue_target = \"3ms\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg := cfgOf(proxyArgs{}, f); cfg.QueueTarget != 3*time.Millisecond || cfg.QueueInterval != 60*time.Millisecond {
		t.Errorf("from the file: %v %v", cfg.QueueTarget, cfg.QueueInterval)
	}
	var flagged proxyArgs
	if err := flagged.queueTarget.Set("0"); err != nil {
		t.Fatal(err)
	}
	if cfg := cfgOf(flagged, f); cfg.QueueTarget >= 0 {
		t.Errorf("--queue-target 0 over the file's 3ms: %v, want the limit off", cfg.QueueTarget)
	}
	if err := flagged.queueTarget.Set("-1ms"); err == nil {
		t.Error("--queue-target -1ms accepted")
	}
	path := writeProxyFile(t, "\nqueue_target = \"-2ms\"\n")
	if _, _, err := loadProxyFile(path); err == nil || !strings.Contains(err.Error(), path+":2: queue_target = -2ms: must be positive") {
		t.Errorf("a negative queue_target: %v", err)
	}
}

// split_large and --split-large: either turns splitting on; a value that is
// not a boolean is an error naming the line and the key.
func TestProxySplitLarge(t *testing.T) {
	var a proxyArgs
	a.fileLarge(proxyFile{})
	if a.splitLarge {
		t.Error("split by default")
	}
	f, _, err := loadProxyFile(writeProxyFile(t, "split_large = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	a.fileLarge(f)
	if !a.splitLarge {
		t.Error("split_large = true in the file did not turn splitting on")
	}
	path := writeProxyFile(t, "\nsplit_large = \"yes\"\n")
	if _, _, err := loadProxyFile(path); err == nil || !strings.Contains(err.Error(), path+":2") || !strings.Contains(err.Error(), "split_large") {
		t.Errorf("split_large = \"yes\": %v, want an error naming %s:2 and the key", err, path)
	}
}

package tomlconf

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testRule is an element of an array of tables, as a gateway rule might be.
type testRule struct {
	Match string           `toml:"match"`
	Via   string           `toml:"via"`
	Net   netip.Prefix     `toml:"net"`
	TTL   time.Duration    `toml:"ttl"`
	Peers []netip.AddrPort `toml:"peers"`
}

type testLimits struct {
	Rate  float64 `toml:"rate"`
	Burst int     `toml:"burst"`
	Port  uint16  `toml:"port"`
}

type testConfig struct {
	Name     string                `toml:"name"`
	Enabled  bool                  `toml:"enabled"`
	Count    int                   `toml:"count"`
	Ratio    float64               `toml:"ratio"`
	Timeout  time.Duration         `toml:"timeout"`
	Listen   netip.AddrPort        `toml:"listen"`
	Resolver netip.Addr            `toml:"resolver"`
	Pool     netip.Prefix          `toml:"pool"`
	Names    []string              `toml:"names"`
	Serves   []netip.Prefix        `toml:"serves"`
	Join     []netip.AddrPort      `toml:"join"`
	Limits   testLimits            `toml:"limits"`
	Rule     []testRule            `toml:"rule"`
	Hosts    map[string]netip.Addr `toml:"hosts"`
	Ignored  int                   `toml:"-"`
}

const goodText = `# a gateway
name = "office"
enabled = true
count = 3
ratio = 0.5
timeout = "1m30s"
listen = "198.18.0.1:5610"
resolver = "10.1.0.53"
pool = "100.64.0.0/16"
names = ["a", "b"]
serves = [
  "10.1.0.0/24",
  "fd00:1::/64",
]
join = ["198.18.0.2:5611"]
hosts = { wiki = "10.1.0.10" }

[limits]
rate = 2
burst = 4
port = 5610

[[rule]]
match = "*.corp.example"
via = "office-gw"
net = "10.1.0.0/24"

[[rule]]
match = "*.lab.example"
via = "lab-gw"
ttl = "30s"
peers = ["198.18.0.3:5611"]
`

func TestDecodeGood(t *testing.T) {
	c := testConfig{Count: 7, Ignored: 9}
	m, err := Decode("gateway", "gw.toml", []byte(goodText), &c)
	if err != nil {
		t.Fatal(err)
	}
	want := testConfig{
		Name: "office", Enabled: true, Count: 3, Ratio: 0.5, Timeout: 90 * time.Second,
		Listen: netip.MustParseAddrPort("198.18.0.1:5610"), Resolver: netip.MustParseAddr("10.1.0.53"),
		Pool: netip.MustParsePrefix("100.64.0.0/16"), Names: []string{"a", "b"},
		Serves: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("fd00:1::/64")},
		Join:   []netip.AddrPort{netip.MustParseAddrPort("198.18.0.2:5611")},
		Limits: testLimits{Rate: 2, Burst: 4, Port: 5610},
		Rule: []testRule{
			{Match: "*.corp.example", Via: "office-gw", Net: netip.MustParsePrefix("10.1.0.0/24")},
			{Match: "*.lab.example", Via: "lab-gw", TTL: 30 * time.Second, Peers: []netip.AddrPort{netip.MustParseAddrPort("198.18.0.3:5611")}},
		},
		Hosts:   map[string]netip.Addr{"wiki": netip.MustParseAddr("10.1.0.10")},
		Ignored: 9,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", c, want)
	}
	lines := []struct {
		key  []string
		line int
	}{
		{[]string{"name"}, 2},
		{[]string{"serves"}, 11},
		{[]string{"serves", "1"}, 13},
		{[]string{"hosts", "wiki"}, 16},
		{[]string{"limits"}, 18},
		{[]string{"limits", "burst"}, 20},
		{[]string{"rule"}, 23},
		{[]string{"rule", "0"}, 23},
		{[]string{"rule", "0", "via"}, 25},
		{[]string{"rule", "1"}, 28},
		{[]string{"rule", "1", "via"}, 30},
		{[]string{"rule", "1", "net"}, 28}, // absent: the element's header
		{[]string{"rule", "1", "peers", "0"}, 32},
		{[]string{"count"}, 4},
		{[]string{"missing"}, 0},
	}
	for _, l := range lines {
		if got := m.Line(l.key...); got != l.line {
			t.Errorf("Line(%q) = %d, want %d", l.key, got, l.line)
		}
	}
	if !m.IsDefined("rule", "1", "ttl") || m.IsDefined("rule", "0", "ttl") || m.IsDefined("rule", "2") || m.IsDefined() {
		t.Errorf("IsDefined wrong")
	}
	err = m.Errorf([]string{"rule", "1", "via"}, "no gateway %q in the book", "lab-gw")
	if want := `gateway: gw.toml:30: rule[1].via: no gateway "lab-gw" in the book`; err.Error() != want {
		t.Errorf("Errorf: %q, want %q", err, want)
	}
	err = m.ValueErrorf([]string{"count"}, "3", "want at least 4")
	if want := `gateway: gw.toml:4: count = 3: want at least 4`; err.Error() != want {
		t.Errorf("ValueErrorf: %q, want %q", err, want)
	}
	if err := m.Errorf([]string{"nowhere"}, "bad"); err.Error() != "gateway: gw.toml: nowhere: bad" {
		t.Errorf("Errorf without a line: %q", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string // the whole error text, after "gw: t.toml:"
	}{
		{"syntax", "name = \"a\"\ncount = = 3\n", `2: key count: expected value but found '=' instead`},
		{"unclosed string", "name = \"a\n", `1: `},
		{"duration without unit", "\ntimeout = 30\n", `2: timeout = 30: a duration needs a unit and quotes, e.g. "30s" for 30 seconds`},
		{"duration string without unit", "timeout = \"2\"\n", `1: timeout = "2": a duration needs a unit, e.g. "2s" for 2 seconds`},
		{"bad duration", "timeout = \"soon\"\n", `1: timeout = "soon": want a duration: a number and a unit (ns, us, ms, s, m, h), e.g. "30s", "1m30s" or "500ms"`},
		{"addrport", "listen = \"198.18.0.1\"\n", `1: listen = "198.18.0.1": want "IP:PORT" in quotes, e.g. "198.18.0.1:5610"`},
		{"addr", "resolver = \"dns.corp\"\n", `1: resolver = "dns.corp": want an IP address in quotes, e.g. "10.1.0.1" or "fd00::1"`},
		{"prefix", "pool = \"10.1.0.0\"\n", `1: pool = "10.1.0.0": want an address range "IP/BITS" in quotes, e.g. "10.1.0.0/24" or "fd00:1::/64"`},
		{"string", "name = 5\n", `1: name = 5: want a string in quotes`},
		{"bool", "enabled = \"yes\"\n", `1: enabled = "yes": want true or false`},
		{"int", "count = 1.5\n", `1: count = 1.5: want a whole number, without quotes`},
		{"float", "ratio = \"half\"\n", `1: ratio = "half": want a number, without quotes`},
		{"uint range", "[limits]\nport = 70000\n", `2: limits.port = 70000: want a whole number from 0 to 65535`},
		{"list of strings as string", "names = \"a\"\n", `1: names = "a": want a list of strings, e.g. ["a"]`},
		{"list of strings element", "names = [\"a\",\n  2]\n", `2: names[1] = 2: want a string in quotes`},
		{"list of prefixes element", "serves = [\n  \"10.1.0.0/24\",\n  \"10.2.0.0/33\",\n]\n", `3: serves[1] = "10.2.0.0/33": want an address range "IP/BITS" in quotes, e.g. "10.1.0.0/24" or "fd00:1::/64"`},
		{"list of prefixes as string", "serves = \"10.1.0.0/24\"\n", `1: serves = "10.1.0.0/24": want a list of address ranges ("IP/BITS"), e.g. ["10.1.0.0/24"]`},
		{"list of addrports element", "join = [\"198.18.0.1:1\", \"x\"]\n", `1: join[1] = "x": want "IP:PORT" in quotes, e.g. "198.18.0.1:5610"`},
		{"list of addrports as number", "join = 5\n", `1: join = 5: want a list of "IP:PORT" strings, e.g. ["198.18.0.1:5611", "198.18.0.2:5611"]`},
		{"unknown key", "name = \"a\"\n\nnmae = \"b\"\n", `3: unknown key "nmae" (did you mean "name"?)`},
		{"unknown key, other case", "Name = \"a\"\n", `1: unknown key "Name" (did you mean "name"?)`},
		{"unknown table", "name = \"a\"\n[limit]\nrate = 3\n", `2: unknown key "limit" (did you mean "limits"?)`},
		{"unknown key in table", "[limits]\nrate = 1\nburts = 2\n", `3: unknown key "limits.burts" (did you mean "burst"?)`},
		{"unknown key in table, no close one", "[limits]\nspeed = 1\n", `2: unknown key "limits.speed" (the keys here are rate, burst, port)`},
		{"tag - is not a key", "Ignored = 1\n", `1: unknown key "Ignored"`},
		{"table given as value", "limits = 5\n", `1: limits = 5: want a table: a [limits] section, or { key = value, … }`},
		{"map value", "[hosts]\nwiki = \"10.1.0.10\"\nmail = \"mail\"\n", `3: hosts.mail = "mail": want an IP address in quotes, e.g. "10.1.0.1" or "fd00::1"`},
		{"rule: bad key", "[[rule]]\nvia = \"a\"\n\n[[rule]]\nmatch = \"b\"\nvai = \"gw\"\n", `6: unknown key "rule[1].vai" (did you mean "via"?)`},
		{"rule: bad value", "[[rule]]\nvia = \"a\"\n[[rule]]\nvia = \"b\"\n[[rule]]\nmatch = \"*.x\"\nvia = 3\n", `7: rule[2].via = 3: want a string in quotes`},
		{"rule: bad prefix", "[[rule]]\nnet = \"10.1.0.0/24\"\n[[rule]]\nnet = \"10.1.0.0\"\n", `4: rule[1].net = "10.1.0.0": want an address range "IP/BITS" in quotes, e.g. "10.1.0.0/24" or "fd00:1::/64"`},
		{"rule: bad duration", "[[rule]]\n[[rule]]\nttl = 5\n", `3: rule[1].ttl = 5: a duration needs a unit and quotes, e.g. "5s" for 5 seconds`},
		{"rule: bad list element", "[[rule]]\npeers = [\"198.18.0.1:1\",\n \"198.18.0.1\"]\n", `3: rule[0].peers[1] = "198.18.0.1": want "IP:PORT" in quotes, e.g. "198.18.0.1:5610"`},
		{"rule: inline", "rule = [\n  { via = \"a\" },\n  { via = \"b\", vai = \"c\" },\n]\n", `3: unknown key "rule[1].vai" (did you mean "via"?)`},
		{"rule given as a table", "[rule]\nvia = \"a\"\n", `1: rule = {…}: want a list of tables: a [[rule]] section for each, or [{ key = value, … }, …]`},
		{"rule element not a table", "rule = [1]\n", `1: rule[0] = 1: want a table: a [[rule]] section, or { key = value, … }`},
		{"quoted keys", "\"name\" = \"a\"\n[limits]\n'burst' = \"x\"\n", `3: limits.burst = "x": want a whole number, without quotes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig{Name: "before"}
			_, err := Decode("gw", "t.toml", []byte(tt.text), &c)
			if err == nil {
				t.Fatalf("no error; decoded %+v", c)
			}
			want := "gw: t.toml:" + tt.want
			matches := err.Error() == want
			if strings.HasSuffix(want, ": ") { // only the place is known
				matches = strings.HasPrefix(err.Error(), want)
			}
			if !matches {
				t.Errorf("error\n%s\nwant\n%s", err, want)
			}
			if c.Name != "before" {
				t.Errorf("dst written despite the error: %+v", c)
			}
		})
	}
}

// TestDecodeErrorsInLineOrder: every problem is reported, at most
// maxProblems, in line order, each an *Error with its line and key.
func TestDecodeErrorsInLineOrder(t *testing.T) {
	text := "count = \"1\"\nnmae = 1\n[[rule]]\nvia = 1\n"
	_, err := Decode("", "t.toml", []byte(text), &testConfig{})
	want := "t.toml:1: count = \"1\": want a whole number, without quotes\n" +
		"t.toml:2: unknown key \"nmae\" (did you mean \"name\"?)\n" +
		"t.toml:4: rule[0].via = 1: want a string in quotes"
	if err == nil || err.Error() != want {
		t.Fatalf("error\n%v\nwant\n%s", err, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 1 || e.Key != "count" || e.Value != `"1"` {
		t.Errorf("first *Error: %+v", e)
	}
	if !errors.Is(err, ErrUnknownKey) {
		t.Errorf("errors.Is(ErrUnknownKey) false")
	}
	many := strings.Repeat("count = \"x\"\n", 1) + strings.Repeat("names = [1, 2, 3, 4, 5, 6]\n", 1) + "ratio = \"a\"\nname = 1\nenabled = 2\nlisten = 3\n"
	_, err = Decode("", "t.toml", []byte(many), &testConfig{})
	if err == nil || !strings.HasSuffix(err.Error(), "\nt.toml: and 1 more problems") || strings.Count(err.Error(), "\n") != maxProblems {
		t.Errorf("many problems: %v", err)
	}
}

// TestDecodeKeepsDefaults: decoding over a value whose map holds defaults
// adds to a copy, not to the caller's map.
func TestDecodeKeepsDefaults(t *testing.T) {
	defaults := map[string]netip.Addr{"dns": netip.MustParseAddr("10.1.0.53")}
	c := testConfig{Hosts: defaults}
	if _, err := Decode("", "t", []byte("[hosts]\nwiki = \"10.1.0.10\"\n"), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Hosts) != 2 || len(defaults) != 1 {
		t.Errorf("decoded %v; defaults now %v", c.Hosts, defaults)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gw.toml")
	if err := os.WriteFile(path, []byte("name = \"x\"\n\ncount = \"3\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load("gateway", path, &testConfig{})
	if want := "gateway: " + path + `:3: count = "3": want a whole number, without quotes`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	missing := filepath.Join(dir, "none.toml")
	_, err = Load("gateway", missing, &testConfig{})
	if want := "gateway: config file " + missing + ": file does not exist (check the path)"; err == nil || err.Error() != want || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want %s", err, want)
	}
	if _, err := Decode("gateway", "x", nil, testConfig{}); err == nil || !strings.Contains(err.Error(), "want a pointer to a struct") {
		t.Errorf("non-pointer: %v", err)
	}
}

func TestKeys(t *testing.T) {
	type Embedded struct {
		Inner string `toml:"inner"`
	}
	type withEmbedded struct {
		Embedded
		Outer   int `toml:"outer,omitempty"`
		Plain   bool
		private int
	}
	if got, want := Keys[withEmbedded](), []string{"inner", "outer", "Plain"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Keys = %q, want %q", got, want)
	}
	var w withEmbedded
	if _, err := Decode("", "t", []byte("inner = \"a\"\nouter = 2\nPlain = true\n"), &w); err != nil || w.Inner != "a" || w.Outer != 2 || !w.Plain {
		t.Errorf("embedded: %v, %+v", err, w)
	}
	if _, err := Decode("", "t", []byte("private = 1\n"), &w); err == nil {
		t.Errorf("unexported field taken as a key")
	}
}

func TestIndexLines(t *testing.T) {
	text := `a = 1 # comment with = and [x]
s = """
[not.a.table]
b = 2
"""
"quoted.key" = { x = 1, y = [
  2,
  3] }
t.u = 'lit'
[ p . "q" ]
r = 1
[[arr]]
[[arr.sub]]
v = 1
[[arr]]
[[arr.sub]]
[[arr.sub]]
v = "\"]"
`
	lines := indexLines([]byte(text))
	want := map[string]int{
		"a": 1, "s": 2, "quoted.key": 6, "quoted.key.x": 6, "quoted.key.y.1": 8, "t": 9, "t.u": 9,
		"p": 10, "p.q": 10, "p.q.r": 11, "arr": 12, "arr.0": 12, "arr.0.sub.0": 13, "arr.0.sub.0.v": 14,
		"arr.1": 15, "arr.1.sub": 16, "arr.1.sub.1": 17, "arr.1.sub.1.v": 18,
	}
	for k, line := range want {
		key := strings.Split(k, ".")
		if k == "quoted.key" || strings.HasPrefix(k, "quoted.key.") {
			key = append([]string{"quoted.key"}, key[2:]...)
		}
		if got := lines[joinKey(key)]; got != line {
			t.Errorf("line of %s = %d, want %d", k, got, line)
		}
	}
	for _, k := range []string{"not", "b"} {
		if _, ok := lines[k]; ok {
			t.Errorf("found %s inside a string", k)
		}
	}
}

func TestUnquote(t *testing.T) {
	for q, want := range map[string]string{
		`"a\tb"`: "a\tb", `"\u00e9"`: "é", `"\U0001F600"`: "😀", `"\x41\e"`: "A\x1b", `'a\tb'`: `a\tb`, `"\"q\""`: `"q"`, `"\u12"`: `u12`,
	} {
		if got := unquote(q); got != want {
			t.Errorf("unquote(%s) = %q, want %q", q, got, want)
		}
	}
}

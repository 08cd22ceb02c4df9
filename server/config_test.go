package server

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

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		check   func(*Config) bool // for valid text
		wantErr []string           // substrings of the error, in order
	}{
		{
			name:  "empty keeps defaults",
			text:  "",
			check: func(c *Config) bool { return reflect.DeepEqual(*c, DefaultConfig()) },
		},
		{
			name: "all kinds of values",
			text: `# a server behind a port forward
listen_addr = "0.0.0.0:5611"
public_addr = "198.18.0.1:5611"
trigger_ttl = "45s"
require_signed_public = false
insert_rate = 20
insert_burst = 40
data_rate = 0.5
max_triggers = 1000
`,
			check: func(c *Config) bool {
				return c.ListenAddr == "0.0.0.0:5611" && c.PublicAddr == netip.MustParseAddrPort("198.18.0.1:5611") &&
					c.TriggerTTL == 45*time.Second && !c.RequireSignedPublic && c.InsertRate == 20 &&
					c.InsertBurst == 40 && c.DataRate == 0.5 && c.MaxTriggers == 1000 &&
					c.SweepInterval == DefaultConfig().SweepInterval
			},
		},
		{
			// Regression (issue 9): a bare number was taken for nanoseconds.
			name:    "duration without a unit",
			text:    "# timers\ntrigger_ttl = 30\n",
			wantErr: []string{"server: test.toml:2: trigger_ttl = 30: a duration needs a unit and quotes, e.g. \"30s\" for 30 seconds"},
		},
		{
			name:    "duration string without a unit",
			text:    "\n\nsweep_interval = \"2\"\n",
			wantErr: []string{"server: test.toml:3: sweep_interval = \"2\": a duration needs a unit, e.g. \"2s\""},
		},
		{
			name:    "every duration key is checked",
			text:    "trigger_ttl = \"30s\"\nsweep_interval = \"2s\"\nsecret_rotation = \"5m\"\nsignature_skew = 300\n",
			wantErr: []string{"server: test.toml:4: signature_skew = 300: a duration needs a unit"},
		},
		{
			name:    "list given as a string",
			text:    "ring = true\njoin = \"198.18.0.1:5611\"\n",
			wantErr: []string{`server: test.toml:2: join = "198.18.0.1:5611": want a list of strings, e.g. ["198.18.0.1:5611"]`},
		},
		{
			name:    "list element of the wrong type",
			text:    "join = [\"198.18.0.1:5611\", 5]\n",
			wantErr: []string{`server: test.toml:1: join[1] = 5: want a string in quotes`},
		},
		{
			name:    "number given as a string",
			text:    "max_hops = \"8\"\n",
			wantErr: []string{`server: test.toml:1: max_hops = "8": want a whole number, without quotes`},
		},
		{
			name:    "boolean given as a number",
			text:    "\nring = 1\n",
			wantErr: []string{`server: test.toml:2: ring = 1: want true or false`},
		},
		{
			name:    "first problem in line order",
			text:    "ring = 1\ntrigger_ttl = 30\n",
			wantErr: []string{`server: test.toml:1: ring = 1: want true or false`},
		},
		{
			name:    "unknown key, with a suggestion",
			text:    "listen_addr = \"127.0.0.1:0\"\n\ntrigger_tll = \"30s\"\n",
			wantErr: []string{"server: test.toml:3:", `unknown key "trigger_tll"`, `did you mean "trigger_ttl"`},
		},
		{
			name:    "unknown table",
			text:    "trigger_ttl = \"30s\"\n[limits]\nrate = 3\n",
			wantErr: []string{"server: test.toml:2:", `unknown key "limits"`},
		},
		{
			name:    "syntax error",
			text:    "trigger_ttl = \"30s\"\nmax_hops = = 3\n",
			wantErr: []string{"server: test.toml:2:"},
		},
		{
			name:    "bad duration",
			text:    "\ntrigger_ttl = \"thirty\"\n",
			wantErr: []string{"server: test.toml:2:", "trigger_ttl"},
		},
		{
			name:    "wrong type",
			text:    "max_hops = \"eight\"\n",
			wantErr: []string{"server: test.toml:1:", "max_hops"},
		},
		{
			name:    "bad address",
			text:    "public_addr = \"nowhere\"\n",
			wantErr: []string{"server: test.toml:1:", "public_addr"},
		},
		{
			name:    "value New refuses",
			text:    "# limits\n\nmax_hops = 40\n",
			wantErr: []string{"server: test.toml:3:", "max_hops = 40", "want 1..16"},
		},
		{
			name:    "negative rate",
			text:    "insert_rate = -1.0\n",
			wantErr: []string{"server: test.toml:1:", "insert_rate"},
		},
		{
			name:    "burst needed",
			text:    "reply_rate = 10.0\nreply_burst = 0\n",
			wantErr: []string{"server: test.toml:2:", "reply_burst = 0"},
		},
		{
			name:    "listen address",
			text:    "listen_addr = \"localhost:5610\"\n",
			wantErr: []string{"server: test.toml:1:", "listen_addr", "want IP:PORT"},
		},
		{
			name:    "clock is not a key",
			text:    "Clock = 1\n",
			wantErr: []string{"server: test.toml:1:", `unknown key "Clock"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig("test.toml", []byte(tt.text), DefaultConfig())
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("error: %v", err)
				}
				if !tt.check(&c) {
					t.Fatalf("config %+v", c)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tt.wantErr {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q: want %q (in order)", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.toml")
	if err := os.WriteFile(path, []byte("trigger_ttl = \"20s\"\nbatch_size = 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path, DefaultConfig())
	if err == nil || !strings.Contains(err.Error(), path+":2: batch_size = 0") {
		t.Fatalf("error %v", err)
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.toml"), DefaultConfig()); err == nil ||
		!strings.HasPrefix(err.Error(), "server: config file ") || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// TestConfigKeysDocumented: every Config field but Clock and Logger is a
// configuration key, and defaults and test defaults are valid.
func TestConfigKeysDocumented(t *testing.T) {
	keys := ConfigKeys()
	if n := reflect.TypeFor[Config]().NumField() - 2; len(keys) != n {
		t.Errorf("%d keys for %d fields: %v", len(keys), n, keys)
	}
	for _, c := range []Config{DefaultConfig(), TestConfig()} {
		if err := c.validate(); err != nil {
			t.Errorf("%v", err)
		}
	}
}

// TestEveryDurationNeedsUnit: each duration key of Config refuses a bare
// number, naming the line and the key.
func TestEveryDurationNeedsUnit(t *testing.T) {
	n := 0
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type != reflect.TypeFor[time.Duration]() {
			continue
		}
		n++
		key := f.Tag.Get("toml")
		_, err := ParseConfig("t.toml", []byte("\n"+key+" = 30\n"), DefaultConfig())
		if want := "server: t.toml:2: " + key + " = 30: a duration needs a unit"; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s = 30: %v, want %s…", key, err, want)
		}
	}
	if n < 4 {
		t.Fatalf("found %d duration keys, want at least 4", n)
	}
}

// TestConfigErrorsInUserWords: no error of a configuration file shows the
// decoder's or the standard library's wording.
func TestConfigErrorsInUserWords(t *testing.T) {
	texts := []string{
		"trigger_ttl = \"30\"\n", "trigger_ttl = \"thirty\"\n", "join = \"a:1\"\n", "join = [1, 2]\n",
		"public_addr = \"nowhere\"\n", "public_addr = 5\n", "gossip_advertise = \"x\"\n", "max_hops = \"eight\"\n",
		"max_hops = 1.5\n", "data_rate = \"x\"\n", "ring = 1\n", "listen_addr = 5610\n", "trigger_ttl = true\n",
	}
	for _, text := range texts {
		_, err := ParseConfig("t.toml", []byte(text), DefaultConfig())
		if err == nil {
			t.Errorf("%q: no error", text)
			continue
		}
		msg := err.Error()
		for _, bad := range []string{"TOML value", "destination", "incompatible", "time:", "Parse", "int64", "float64", "slice"} {
			if strings.Contains(msg, bad) {
				t.Errorf("%q: %q shows %q", text, msg, bad)
			}
		}
		if !strings.HasPrefix(msg, "server: t.toml:1: ") {
			t.Errorf("%q: %q does not name file and line", text, msg)
		}
	}
}

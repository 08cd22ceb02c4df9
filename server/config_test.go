package server

import (
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
			name:  "duration as integer nanoseconds",
			text:  "trigger_ttl = 1000000000\n",
			check: func(c *Config) bool { return c.TriggerTTL == time.Second },
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
		!strings.HasPrefix(err.Error(), "server: config: ") {
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

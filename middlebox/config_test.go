package middlebox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/identity"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "middlebox.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newKey(t testing.TB) identity.PublicKey {
	t.Helper()
	x, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return x.Public()
}

func TestLoadConfig(t *testing.T) {
	home, laptop := newKey(t), newKey(t)
	path := writeConfig(t, fmt.Sprintf(`servers  = ["198.18.0.1:5610"]
ids_tun  = "i3ids0"
eve_json = "/var/log/suricata/eve.json"
anycast  = "mb-a"
[[host]]
name = "Home"
key  = %q
[[host]]
name = "laptop"
key  = %q
`, home, laptop))
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Hosts) != 2 || cfg.Hosts[0].Key != home || cfg.Hosts[1].Key != laptop || cfg.Hosts[0].Name != "home" ||
		cfg.IDSTun != "i3ids0" || cfg.Anycast != "mb-a" || cfg.IDSMTU != DefaultIDSMTU || cfg.EvePoll != 200*time.Millisecond ||
		cfg.EveJSON != "/var/log/suricata/eve.json" || len(cfg.Servers) != 1 {
		t.Fatalf("config %+v", cfg)
	}
}

// Every mistake names the file, its line and the key, and says what to write.
func TestConfigErrors(t *testing.T) {
	k1, k2 := newKey(t).String(), newKey(t).String()
	host := func(name, key string) string { return fmt.Sprintf("[[host]]\nname = %q\nkey = %q\n", name, key) }
	tests := []struct{ text, want string }{
		{"ids_tun = \"i3ids0\"\n", "host: the middlebox serves no host"},
		{"[[host]]\nkey = \"" + k1 + "\"\n", ":1: host[0].name: missing"},
		{"[[host]]\nname = \"home\"\n", ":1: host[0].key: missing"},
		{host("ho me", k1), ":2: host[0].name = \"ho me\": bad name"},
		{host("home", "i3pk1nonsense"), ":3: host[0].key = \"i3pk1nonsense\""},
		{host("home", k1) + host("HOME", k2), ":5: host[1].name = \"home\": the name of host[0] (line 2) too"},
		{host("home", k1) + host("work", k1), ":6: host[1].key = \"" + k1 + "\": the key of host[0] (home) too"},
		{"ids_tun = \"a/b\"\n" + host("home", k1), ":1: ids_tun = \"a/b\": not an interface name"},
		{"ids_tun = \"much-too-long-name\"\n" + host("home", k1), ":1: ids_tun = \"much-too-long-name\": an interface name has at most 15 bytes"},
		{"ids_mtu = 100\n" + host("home", k1), ":1: ids_mtu: 100 is out of range"},
		{"eve_poll = \"0s\"\n" + host("home", k1), ":1: eve_poll: 0s: want a positive duration"},
		{"eve_poll = 2\n" + host("home", k1), ":1: eve_poll = 2: a duration needs a unit"},
		{"anycats = \"a\"\n" + host("home", k1), ":1: unknown key \"anycats\" (did you mean \"anycast\"?)"},
		{"servers = [\"nowhere\"]\n" + host("home", k1), ":1: servers"},
		{host("home", k1) + "keys = \"x\"\n", ":4: unknown key"},
	}
	for _, tt := range tests {
		path := writeConfig(t, tt.text)
		_, err := LoadConfig(path)
		if err == nil || !strings.Contains(err.Error(), "middlebox: "+path) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want it to name %s and say %q", tt.text, err, path, tt.want)
		}
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "none.toml")); err == nil || !strings.Contains(err.Error(), "none.toml") {
		t.Errorf("a missing file: %v", err)
	}
}

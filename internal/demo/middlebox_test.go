package demo

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/middlebox"
)

// TestMiddleboxConf: the middlebox.toml the demo writes for ids is one
// "i3net middlebox" accepts, serving home, with the IDS's device, and
// Suricata's eve.json only when Suricata runs.
func TestMiddleboxConf(t *testing.T) {
	home, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, suricata := range []bool{true, false} {
		var out bytes.Buffer
		d := &labDemo{
			n:    &narrator{w: &out, start: time.Now()},
			dir:  t.TempDir(),
			ring: &demoRing{servers: []demoServer{{name: "srv1", data: netip.MustParseAddrPort("198.18.0.1:5610")}}},
			keys: map[string]string{"home": home.Public().String()},
			mb:   idsBox{suricata: suricata},
		}
		path, err := d.writeMiddleboxConf()
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := middlebox.LoadConfig(path)
		if err != nil {
			t.Fatalf("suricata %v: the demo's middlebox.toml does not load: %v\n%s", suricata, err, out.String())
		}
		if len(cfg.Hosts) != 1 || cfg.Hosts[0].Name != "home" || cfg.Hosts[0].Key != home.Public() {
			t.Errorf("suricata %v: hosts %+v, want home with its key", suricata, cfg.Hosts)
		}
		if cfg.IDSTun != idsTun || (cfg.EveJSON != "") != suricata || cfg.EveJSON != d.mb.eve {
			t.Errorf("suricata %v: ids_tun %q, eve_json %q; want %q and Suricata's eve.json only when it runs", suricata, cfg.IDSTun, cfg.EveJSON, idsTun)
		}
		if !strings.Contains(out.String(), `name = "home"`) {
			t.Errorf("suricata %v: the narration does not show the file:\n%s", suricata, out.String())
		}
	}
}

// TestIDSRule: Suricata's one rule is the paper's eggdrop upload, looked at
// packet by packet (no_stream), as the e2e tests found necessary.
func TestIDSRule(t *testing.T) {
	for _, want := range []string{"alert ftp", `content:"STOR"`, `content:"eggdrop"`, "no_stream", "sid:"} {
		if !strings.Contains(idsRules, want) {
			t.Errorf("idsRules lacks %s: %s", want, idsRules)
		}
	}
	if strings.Count(strings.TrimSpace(idsRules), "\n") != 0 {
		t.Errorf("idsRules holds more than one rule: %s", idsRules)
	}
}

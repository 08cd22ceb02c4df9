package ingress

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodConfig = `
servers = ["192.0.2.1:4433"]
zone = "I3.Example.NET."
waypoints = ["198.51.100.10", "198.51.100.11"]
heuristic_window = "2s"
[[nameserver]]
name = "ns1.i3.example.net"
addresses = ["198.51.100.2"]
`

func loadText(t *testing.T, text string) (Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ingress.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return LoadConfig(path)
}

func TestLoadConfigDefaultsAndNormalises(t *testing.T) {
	c, err := loadText(t, goodConfig)
	if err != nil {
		t.Fatal(err)
	}
	if c.Zone != "i3.example.net" || c.HeuristicWindow != 2*time.Second || c.BindingTimeout != 10*time.Minute {
		t.Fatalf("zone %q window %v binding %v", c.Zone, c.HeuristicWindow, c.BindingTimeout)
	}
	if len(c.DNSListen) != 1 || c.DNSListen[0].String() != "198.51.100.2:53" {
		t.Fatalf("dns_listen defaulted to %v, want the nameserver's address, port 53", c.DNSListen)
	}
	if len(c.HTTPPorts) != 1 || c.HTTPPorts[0] != 80 || c.TLSPorts[0] != 443 {
		t.Fatalf("ports %v %v", c.HTTPPorts, c.TLSPorts)
	}
}

func TestLoadConfigErrorsNameLineAndKey(t *testing.T) {
	for _, tc := range []struct{ edit, want string }{
		{`zone = "nodot"`, `zone = "nodot"`},
		{`waypoints = []`, "waypoints: no waypoint"},
		{`client_rate = 0.0`, "client_rate: must be positive"},
		{`heuristic_window = "-1s"`, "heuristic_window: must be positive"},
		{`waypoint = ["1.2.3.4"]`, `did you mean "waypoints"`},
		{"[[nameserver]]\nname = \"ns2.i3.example.net\"", "is inside the zone: give its addresses"},
	} {
		text := goodConfig + "\n"
		key := strings.SplitN(tc.edit, " ", 2)[0]
		if strings.HasPrefix(tc.edit, "[[") {
			text += tc.edit + "\n"
		} else {
			text = strings.Replace(text, "\n[[nameserver]]", "\n"+tc.edit+"\n[[nameserver]]", 1)
			text = removeFirstKey(text, key)
		}
		_, err := loadText(t, text)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "ingress.toml:") {
			t.Errorf("%s: err = %v, want file:line and %q", tc.edit, err, tc.want)
		}
	}
}

// removeFirstKey drops the first line setting key when the text sets it
// twice (so the edit wins without a duplicate-key error).
func removeFirstKey(text, key string) string {
	lines := strings.Split(text, "\n")
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, key+" =") {
			n++
		}
	}
	if n < 2 {
		return text
	}
	for i, l := range lines {
		if strings.HasPrefix(l, key+" =") {
			return strings.Join(append(lines[:i:i], lines[i+1:]...), "\n")
		}
	}
	return text
}

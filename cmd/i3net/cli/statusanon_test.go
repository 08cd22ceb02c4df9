package cli

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/proxy"
)

func TestAnonLine(t *testing.T) {
	if line := anonLine(proxy.PeerStatus{Name: "home", Anonymous: true}); line != "" {
		t.Errorf("a peer that reached this host anonymously got %q", line)
	}
	p := proxy.PeerStatus{Name: "home", Anonymous: true, AnonKey: "i3pk1eph", Relay: netip.MustParseAddrPort("10.0.0.2:4433"),
		SessionAge: 90 * time.Second, NextRotation: time.Now().Add(time.Hour), AnonAddr4: netip.MustParseAddr("100.64.1.2")}
	line := anonLine(p)
	for _, want := range []string{"# home: anonymous session: relay 10.0.0.2:4433, 1m30s old, next rotation in ", "seen as 100.64.1.2, key i3pk1eph"} {
		if !strings.Contains(line, want) {
			t.Errorf("%q lacks %q", line, want)
		}
	}
}

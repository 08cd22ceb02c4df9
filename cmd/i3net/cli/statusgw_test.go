package cli

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/proxy"
)

// The human status shows each rule with its gateway's state and flows, the
// hosts reached through the gateway, and a gateway's own section.
func TestStatusShowsRulesAndGateway(t *testing.T) {
	var out bytes.Buffer
	captureOutput(t, &out)
	st := proxy.Status{
		Peers: []proxy.PeerStatus{{Name: "office-gw", State: "active", Targets: []proxy.TargetStatus{{
			Name: "wiki.corp.example.", Addr: netip.MustParseAddr("100.80.1.2"), Real: netip.MustParseAddr("10.1.0.10"),
			LastUse: time.Now(), TxPackets: 3, RxPackets: 4}}}},
		Rules: []proxy.RuleStatus{
			{Match: "*.corp.example", Action: "via", Via: "office-gw", State: "active", Flows: 1},
			{Match: "*.ads.example", Action: "refuse"},
		},
	}
	printRules(st)
	printGateway(&proxy.GatewayStatus{ServeNames: []string{"*.corp.example"}, ServeCIDRs: []string{"10.1.0.0/24"},
		Resolvers: []string{"10.1.0.53:53"}, Anycast: "gw-a", Counters: map[string]uint64{"nat_refused": 2}})
	for _, want := range []string{
		"*.corp.example  via     office-gw  active  1",
		"*.ads.example   refuse  -          -       0",
		"# through office-gw:",
		"wiki.corp.example.  100.80.1.2  → 10.1.0.10  3 pkts out  4 pkts in",
		"# gateway: serves names *.corp.example, addresses 10.1.0.0/24; resolvers 10.1.0.53:53; anycast member \"gw-a\"",
		"# nat_refused 2",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
}

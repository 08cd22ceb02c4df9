package cli

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/proxy"
)

func TestOverlayLine(t *testing.T) {
	a, b := netip.MustParseAddrPort("198.18.0.1:5610"), netip.MustParseAddrPort("198.18.0.2:5610")
	st := proxy.Status{
		FirstHop: a,
		Known: []client.ServerInfo{
			{Addr: a, RTT: 151 * time.Microsecond, FirstHop: true},
			{Addr: b, Down: true},
		},
		NAT: client.NATInfo{Known: true, Behind: true, Observed: netip.MustParseAddrPort("198.18.0.8:40001")},
	}
	want := "# overlay: first hop 198.18.0.1:5610 (rtt 151µs), 2 servers known (1 down), behind a NAT: seen as 198.18.0.8:40001"
	if got := overlayLine(st); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	st.NAT.Behind = false
	st.Known = st.Known[:1]
	want = "# overlay: first hop 198.18.0.1:5610 (rtt 151µs), 1 server known, no NAT"
	if got := overlayLine(st); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if got := overlayLine(proxy.Status{}); got != "" {
		t.Errorf("without a first hop: %q", got)
	}
}

// TestStatusNoProxy: with no proxy, status exits 1 and says what to do, without
// the HTTP client's wording (issue 9).
func TestStatusNoProxy(t *testing.T) {
	dir := testState(t)
	code, _, errOut := runCmd(t, "status")
	want := "i3net status: no proxy runs with state directory " + dir + " (no " + controlPath(dir) + "): start one with i3net proxy"
	if code != 1 || !strings.HasPrefix(errOut, want) || strings.Contains(errOut, "dial unix") {
		t.Fatalf("exit %d, %q, want %q…", code, errOut, want)
	}
}

func TestTriggerLine(t *testing.T) {
	srv := netip.MustParseAddrPort("198.18.0.1:5610")
	for _, c := range []struct {
		t    proxy.TriggerStatus
		want string
	}{
		{proxy.TriggerStatus{Kind: "public", ID: "0a1b2c3d…", Server: srv}, "# trigger public 0a1b2c3d… held by 198.18.0.1:5610"},
		{proxy.TriggerStatus{Kind: "private", Peer: "home", ID: "4e5f6a7b…", Server: srv, Lapsed: true},
			"# trigger for home 4e5f6a7b… held by 198.18.0.1:5610 (lapsed: no ack within the trigger TTL)"},
		{proxy.TriggerStatus{Kind: "private", Peer: "home", ID: "4e5f6a7b…", Error: "no answer"},
			"# trigger for home 4e5f6a7b… not acked yet; last refresh: no answer"},
	} {
		if got := triggerLine(c.t); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

package netlab

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// These tests need no root.

func TestHasPort(t *testing.T) {
	const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0200A8C0:0016 0100A8C0:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
`
	tests := []struct {
		name   string
		port   uint16
		listen bool
		want   bool
	}{
		{"listening", 8080, true, true},
		{"established only", 22, true, false},
		{"any state", 22, false, true},
		{"absent", 9999, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hasPort([]byte(tcp), tt.port, tt.listen); got != tt.want {
				t.Errorf("hasPort(%d, %v) = %v, want %v", tt.port, tt.listen, got, tt.want)
			}
		})
	}
}

func TestAlloc(t *testing.T) {
	p := netip.MustParsePrefix("192.168.1.0/30")
	n := &Net{used: make(map[netip.Addr]bool)}
	gw := netip.MustParseAddr("192.168.1.1")
	a, err := n.alloc(p, gw)
	if err != nil || a != netip.MustParseAddr("192.168.1.2") {
		t.Fatalf("first = %v, %v; want 192.168.1.2", a, err)
	}
	n.mark(a, true)
	if a, err := n.alloc(p, gw); err == nil {
		t.Fatalf("got %v from a full /30 (.3 is broadcast)", a)
	}
	n.mark(a, false)
	if a, err := n.alloc(netip.Prefix{}, netip.Addr{}); err != nil || a.IsValid() {
		t.Fatalf("missing family: %v, %v", a, err)
	}
	p6 := netip.MustParsePrefix("2001:db8:1::/64")
	if a, err := n.alloc(p6, netip.Addr{}); err != nil || a != netip.MustParseAddr("2001:db8:1::1") {
		t.Fatalf("IPv6 first = %v, %v", a, err)
	}
}

func TestUsable(t *testing.T) {
	p := netip.MustParsePrefix("10.1.0.0/24")
	for a, want := range map[string]bool{
		"10.1.0.0": false, "10.1.0.1": true, "10.1.0.254": true, "10.1.0.255": false, "10.1.1.1": false,
	} {
		if got := usable(p, netip.MustParseAddr(a)); got != want {
			t.Errorf("usable(%v, %s) = %v, want %v", p, a, got, want)
		}
	}
}

func TestNATRuleset(t *testing.T) {
	cone, sym := natRuleset(NATCone), natRuleset(NATSymmetric)
	if !strings.Contains(cone, `oifname "eth0" masquerade`+"\n") || strings.Contains(cone, "random") {
		t.Errorf("cone ruleset:\n%s", cone)
	}
	if !strings.Contains(sym, "masquerade fully-random") {
		t.Errorf("symmetric ruleset:\n%s", sym)
	}
	for k, want := range map[NATKind]string{NATCone: "cone", NATSymmetric: "symmetric", NATNone: "none", 0: "NATKind(0)"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(k), k.String(), want)
		}
	}
}

func TestPollBounded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start, calls := time.Now(), 0
	errNo := errors.New("not yet")
	err := Poll(ctx, 20*time.Millisecond, func() error { calls++; return errNo })
	if !errors.Is(err, errNo) {
		t.Errorf("Poll = %v, want the last error", err)
	}
	if d := time.Since(start); d > time.Second || calls > 13 {
		t.Errorf("Poll took %v and %d calls for a 200ms bound", d, calls)
	}
	calls = 0
	if err := Poll(context.Background(), time.Millisecond, func() error {
		if calls++; calls < 3 {
			return errNo
		}
		return nil
	}); err != nil || calls != 3 {
		t.Errorf("Poll = %v after %d calls, want nil after 3", err, calls)
	}
}

func TestSolicitedNode(t *testing.T) {
	const igmp6 = `1    lo              ff020000000000000000000000000001     1 0000000C 0
3    eth0            ff0200000000000000000001ff000099     1 00000004 0
3    eth0            ff0200000000000000000001ff124261     1 00000004 0
`
	a := netip.MustParseAddr("2001:db8:1::99")
	g := solicitedNode(a)
	if want := netip.MustParseAddr("ff02::1:ff00:99"); g != want {
		t.Fatalf("solicitedNode(%v) = %v, want %v", a, g, want)
	}
	if !hasGroup([]byte(igmp6), "eth0", g) {
		t.Error("eth0's group not found")
	}
	if hasGroup([]byte(igmp6), "brlan", g) || hasGroup([]byte(igmp6), "eth0", solicitedNode(netip.MustParseAddr("2001:db8::2"))) {
		t.Error("found a group that is not there")
	}
}

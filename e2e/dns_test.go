package e2e

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/e2e/netns"
	"github.com/i3net/i3net/proxy/vaddr"
)

// silentDNSPort is the port of web's upstream that reads queries and never
// answers (home's proxy is pointed at it).
const silentDNSPort = 5353

// TestProxyDNSTransports runs dig against the proxies' DNS: over TCP on
// laptop (bug 4: `dig +tcp home.i3` timed out), overlay names and a name
// forwarded to web's upstream, several queries on one connection; and on
// home, whose only upstream never answers, SERVFAIL before the stub
// resolver's time-out (bug 5: no answer at all).
func TestProxyDNSTransports(t *testing.T) {
	t.Parallel()
	needProgram(t, "dig")
	w := newWorld(t, topoOptions{homeProxyArgsFn: func(w *world) []string {
		return []string{"--upstream", silentUpstream(t, w.web).String()}
	}})
	t.Run("tcp", func(t *testing.T) { t.Parallel(); testDNSOverTCP(t, w) })
	t.Run("unreachable-upstream", func(t *testing.T) { t.Parallel(); testDNSUnreachableUpstream(t, w) })
}

// silentUpstream is a UDP socket in h that reads DNS queries and never
// answers, until the test ends.
func silentUpstream(t *testing.T, h *netns.Host) netip.AddrPort {
	t.Helper()
	at := netip.AddrPortFrom(h.Addr4(), silentDNSPort)
	pc, err := h.ListenPacket("udp4", at)
	if err != nil {
		t.Fatalf("silent upstream in %s: %v", h.Name(), err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return at
}

// testDNSOverTCP: dig +tcp on laptop, on both service addresses; one dig
// with +keepopen sends three queries over one TCP connection.
func testDNSOverTCP(t *testing.T, w *world) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	at4 := "@" + w.laptop.self.DNS.String()
	at6 := "@" + vaddr.ServiceAddr(vaddr.DefaultPool6).String()
	tests := []struct {
		args []string
		want []string // "TYPE RDATA" of each answer, in order
	}{
		{[]string{at4, "home.i3", "A"}, []string{"A " + w.home.self.Addr4.String()}},
		{[]string{at6, "home.i3", "AAAA"}, []string{"AAAA " + w.home.self.Addr6.String()}},
		{[]string{at4, upstreamName, "A"}, []string{"A " + upstreamA.String()}},
		{[]string{at4, "+keepopen", "home.i3", "A", "home.i3", "AAAA", upstreamName, "A"},
			[]string{"A " + w.home.self.Addr4.String(), "AAAA " + w.home.self.Addr6.String(), "A " + upstreamA.String()}},
	}
	for _, tt := range tests {
		args := append([]string{"+tcp"}, tt.args...)
		ans, out := dig(t, ctx, w, args...)
		var got []string
		for _, a := range ans {
			got = append(got, a.typ+" "+a.rdata)
		}
		if strings.Join(got, ", ") != strings.Join(tt.want, ", ") {
			t.Errorf("dig %s: got %v, want %v:\n%s", strings.Join(args, " "), got, tt.want, out)
			continue
		}
		t.Logf("dig %s: %v", strings.Join(args, " "), got)
	}
}

// testDNSUnreachableUpstream: home's proxy forwards to an upstream that never
// answers; dig (one try, 8 s) gets SERVFAIL after the proxy's upstream
// timeout (2 s), well before glibc's 5 s; over TCP too.
func testDNSUnreachableUpstream(t *testing.T, w *world) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	at := "@" + w.home.self.DNS.String()
	for _, transport := range []string{"+notcp", "+tcp"} {
		start := time.Now()
		out, err := run(t, ctx, w.home.Host, "dig", "+tries=1", "+time=8", transport, at, "www.example.net", "A")
		took := time.Since(start)
		if s := digStatus(string(out)); err != nil || s != "SERVFAIL" {
			t.Errorf("dig %s www.example.net with a silent upstream: status %q (%v), want SERVFAIL:\n%s", transport, s, err, out)
			continue
		}
		if took > 4*time.Second {
			t.Errorf("dig %s: SERVFAIL after %v, want it within about the 2 s upstream timeout", transport, took)
		}
		t.Logf("dig %s www.example.net, silent upstream: SERVFAIL in %v", transport, took.Round(time.Millisecond))
	}
}

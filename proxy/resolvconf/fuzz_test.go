package resolvconf

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
)

// FuzzParseResolvConf checks that Parse never panics, that what it reports is
// sane (no empty words, only parsable addresses), and that the file Install
// would write from it parses back to the same kept lines and search list, with
// the proxy as the only nameserver. Seeds: testdata/fuzz/FuzzParseResolvConf
// (files as Debian, NetworkManager, systemd-resolved and Docker write them).
func FuzzParseResolvConf(f *testing.F) {
	f.Add([]byte(debianConf))
	proxy := netip.MustParseAddr("100.127.255.254")
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Parse(data)
		for _, a := range c.Nameservers {
			if !a.IsValid() {
				t.Fatalf("invalid nameserver in %+v", c)
			}
		}
		for _, w := range append(append([]string(nil), c.Search...), c.Options...) {
			if w == "" || bytes.ContainsAny([]byte(w), " \t\n") {
				t.Fatalf("bad word %q", w)
			}
		}
		out := Render(c, proxy, "i3", "/var/lib/i3net/resolv.conf.orig")
		if !bytes.HasPrefix(out, []byte(Marker)) {
			t.Fatal("rendered file lacks the marker")
		}
		back := Parse(out)
		if !reflect.DeepEqual(back.Nameservers, []netip.Addr{proxy}) {
			t.Fatalf("rendered file has nameservers %v", back.Nameservers)
		}
		if !reflect.DeepEqual(back.Kept, c.Kept) || !reflect.DeepEqual(back.Search, c.Search) ||
			!reflect.DeepEqual(back.Options, c.Options) {
			t.Fatalf("round trip changed the kept lines:\n%q\n%q", c.Kept, back.Kept)
		}
		ups, skipped := ParseUpstreams(data)
		if len(ups)+len(skipped) != len(c.Nameservers) {
			t.Fatalf("upstreams %v and skipped %v do not add up to %v", ups, skipped, c.Nameservers)
		}
	})
}

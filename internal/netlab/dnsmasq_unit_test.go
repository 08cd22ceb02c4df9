package netlab

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// TestDNSMasqArgs: StartDNS's command line holds one host record per name
// (lower case, without a final dot), the records' domains as local (so other
// names in them are NXDOMAIN), and the same records give the same line. It
// needs no root.
func TestDNSMasqArgs(t *testing.T) {
	wiki, dns6 := netip.MustParseAddr("10.1.0.10"), netip.MustParseAddr("fd00::53")
	records := map[string]netip.Addr{"Wiki.Corp.Example.": wiki, "ns.corp.example": dns6, "mail.other.example": wiki}
	args, err := dnsmasqArgs(netip.MustParseAddr("10.1.0.53"), "/tmp/x.pid", records)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"--no-daemon", "--no-resolv", "--no-hosts", "--listen-address=10.1.0.53", "--bind-interfaces",
		"--pid-file=/tmp/x.pid", "--host-record=wiki.corp.example,10.1.0.10",
		"--host-record=ns.corp.example,fd00::53", "--host-record=mail.other.example,10.1.0.10",
		"--local=/corp.example/", "--local=/other.example/",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("dnsmasq's arguments lack %q: %v", want, args)
		}
	}
	if n := strings.Count(strings.Join(args, " "), "--local=/corp.example/"); n != 1 {
		t.Errorf("--local=/corp.example/ appears %d times, want once: %v", n, args)
	}
	again, _ := dnsmasqArgs(netip.MustParseAddr("10.1.0.53"), "/tmp/x.pid", records)
	if !slices.Equal(args, again) {
		t.Errorf("the same records gave two command lines:\n%v\n%v", args, again)
	}
}

// TestDNSMasqArgsBad: bad records are refused with what to write instead,
// before any dnsmasq starts.
func TestDNSMasqArgsBad(t *testing.T) {
	a := netip.MustParseAddr("10.1.0.10")
	for _, tt := range []struct {
		records map[string]netip.Addr
		want    string
	}{
		{nil, "at least one name"},
		{map[string]netip.Addr{"wiki.corp.example": {}}, "no address"},
		{map[string]netip.Addr{"wiki,corp.example": a}, "character ','"},
		{map[string]netip.Addr{"wiki/x": a}, "character '/'"},
		{map[string]netip.Addr{"a..b": a}, "empty or over-long label"},
		{map[string]netip.Addr{"": a}, "1 to 253 characters"},
		{map[string]netip.Addr{strings.Repeat("a", 64) + ".example": a}, "empty or over-long label"},
	} {
		_, err := dnsmasqArgs(a, "/tmp/x.pid", tt.records)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("dnsmasqArgs(%v) = %v, want an error saying %q", tt.records, err, tt.want)
		}
	}
}

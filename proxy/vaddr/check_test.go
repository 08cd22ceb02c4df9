package vaddr

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckPools(t *testing.T) {
	p := netip.MustParsePrefix
	def := []netip.Prefix{DefaultPool4, DefaultPool6}
	tests := []struct {
		name   string
		pools  []netip.Prefix
		routes []netip.Prefix
		want   []string // substrings of the error, none: no error
	}{
		{"no routes", def, nil, nil},
		{"typical host", def, []netip.Prefix{p("0.0.0.0/0"), p("192.168.1.0/24"), p("::/0"), p("fe80::/64"), p("2001:db8::/64")}, nil},
		{"route inside pool4", def, []netip.Prefix{p("100.64.5.0/24")},
			[]string{"vaddr: pool 100.64.0.0/10 overlaps route 100.64.5.0/24 on this host; choose another with --pool4"}},
		{"route around pool4", def, []netip.Prefix{p("100.0.0.0/8")}, []string{"route 100.0.0.0/8", "--pool4"}},
		{"host route", def, []netip.Prefix{p("100.100.100.100/32")}, []string{"route 100.100.100.100/32"}},
		{"site ULA", def, []netip.Prefix{p("fd69:3369:3300:1::/64")}, []string{"pool fd69:3369:3300::/48 overlaps", "--pool6"}},
		{"both", def, []netip.Prefix{p("100.64.0.0/16"), p("fd00::/8")}, []string{"--pool4", "--pool6"}},
		{"paper pool on a 10/8 LAN", []netip.Prefix{p("10.0.0.0/8")}, []netip.Prefix{p("10.1.0.0/24")}, []string{"pool 10.0.0.0/8 overlaps route 10.1.0.0/24"}},
		{"family off", []netip.Prefix{{}, DefaultPool6}, []netip.Prefix{p("100.64.0.0/16")}, nil},
		{"bad pool", []netip.Prefix{p("100.64.0.0/31")}, nil, []string{"fewer than 2 host bits"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPools(tc.pools, tc.routes)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("CheckPools: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("CheckPools accepted a clash")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "overlaps") && !errors.Is(err, ErrOverlap) {
				t.Errorf("error %q is not ErrOverlap", err)
			}
		})
	}
}

package nat

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// TestPrefixMatch checks the expressions that match an address against a
// prefix: the family first (an inet table sees both), then the address
// field of that family, masked.
func TestPrefixMatch(t *testing.T) {
	tests := []struct {
		prefix     string
		src        bool
		family     byte
		offset     uint32 // of the address in the network header
		mask, addr []byte // mask nil: no bitwise expression
	}{
		{"10.1.0.0/24", false, unix.NFPROTO_IPV4, 16, []byte{255, 255, 255, 0}, []byte{10, 1, 0, 0}},
		{"100.64.0.0/10", true, unix.NFPROTO_IPV4, 12, []byte{255, 192, 0, 0}, []byte{100, 64, 0, 0}},
		{"10.1.0.2/32", false, unix.NFPROTO_IPV4, 16, nil, []byte{10, 1, 0, 2}},
		{"fd7a:115c:a1e0::/64", true, unix.NFPROTO_IPV6, 8,
			[]byte{255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0},
			netip.MustParseAddr("fd7a:115c:a1e0::").AsSlice()},
		{"fd00:10::2/128", false, unix.NFPROTO_IPV6, 24, nil, netip.MustParseAddr("fd00:10::2").AsSlice()},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			exprs := prefix(netip.MustParsePrefix(tt.prefix), tt.src)
			if cmp := exprs[1].(*expr.Cmp); !bytes.Equal(cmp.Data, []byte{tt.family}) {
				t.Errorf("family match %v, want %d", cmp.Data, tt.family)
			}
			load := exprs[2].(*expr.Payload)
			if load.Base != expr.PayloadBaseNetworkHeader || load.Offset != tt.offset || int(load.Len) != len(tt.addr) {
				t.Errorf("payload load %+v, want offset %d length %d", load, tt.offset, len(tt.addr))
			}
			last := exprs[len(exprs)-1].(*expr.Cmp)
			if !bytes.Equal(last.Data, tt.addr) {
				t.Errorf("compared with %v, want %v", last.Data, tt.addr)
			}
			if tt.mask == nil {
				if len(exprs) != 4 {
					t.Errorf("want no mask for a host prefix, got %d expressions", len(exprs))
				}
				return
			}
			if bw := exprs[3].(*expr.Bitwise); !bytes.Equal(bw.Mask, tt.mask) {
				t.Errorf("mask %v, want %v", bw.Mask, tt.mask)
			}
		})
	}
	if n := len(prefix(netip.MustParsePrefix("0.0.0.0/0"), false)); n != 2 {
		t.Errorf("0.0.0.0/0 should match the family only, got %d expressions", n)
	}
}

// TestForwardRulesOrder checks that the clamps come first and that every
// served prefix is accepted before the refusal that ends the from-tun rules.
func TestForwardRulesOrder(t *testing.T) {
	cfg := Config{Tun: "i3gw0", Serve: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("fd00:10::/64")}}
	rules := forwardRules(cfg)
	if len(rules) != 2+len(cfg.Serve)+3 {
		t.Fatalf("%d rules, want %d", len(rules), 2+len(cfg.Serve)+3)
	}
	ends := []string{"clamp", "clamp", "served", "served", "refused", "accept", "unsolicited"}
	for i, want := range ends {
		if got := describeEnd(rules[i]); got != want {
			t.Errorf("rule %d ends with %s, want %s", i, got, want)
		}
	}
	if name := rules[0][1].(*expr.Cmp).Data; len(name) != unix.IFNAMSIZ || string(bytes.TrimRight(name, "\x00")) != "i3gw0" {
		t.Errorf("interface name compared as %q, want i3gw0 zero-padded to %d bytes", name, unix.IFNAMSIZ)
	}
}

// describeEnd names what a forward rule does.
func describeEnd(rule []expr.Any) string {
	switch e := rule[len(rule)-1].(type) {
	case *expr.Exthdr:
		return "clamp"
	case *expr.Verdict:
		if ref, ok := rule[len(rule)-2].(*expr.Objref); ok {
			return ref.Name
		}
		if e.Kind == expr.VerdictAccept {
			return "accept"
		}
	}
	return "?"
}

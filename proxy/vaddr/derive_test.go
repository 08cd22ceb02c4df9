package vaddr

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/i3net/i3net/id"
)

func testIDs(n int) []id.ID {
	ids := make([]id.ID, n)
	for i := range ids {
		ids[i] = id.FromName(fmt.Sprintf("host-%d", i))
	}
	return ids
}

func TestDeriveDeterministicInPoolNeverReserved(t *testing.T) {
	pools := []string{"100.64.0.0/10", "10.0.0.0/8", "192.168.7.0/24", "100.64.0.0/29", "100.64.0.0/30",
		"fd69:3369:3300::/48", "fd00::/8", "fd00::/64", "fd00::/125", "fd00::/126"}
	ids := testIDs(3000)
	for _, ps := range pools {
		pool := netip.MustParsePrefix(ps)
		t.Run(ps, func(t *testing.T) {
			svc := ServiceAddr(pool)
			if !pool.Contains(svc) {
				t.Fatalf("service address %v not in pool", svc)
			}
			for _, x := range ids {
				a := Derive(pool, x)
				if a != Derive(pool, x) {
					t.Fatalf("Derive(%v, %s) not deterministic", pool, x.Short())
				}
				if !pool.Contains(a) {
					t.Fatalf("Derive(%v, %s) = %v, not in pool", pool, x.Short(), a)
				}
				if a == svc || a == pool.Addr() || a == lastAddr(pool) {
					t.Fatalf("Derive(%v, %s) = %v, a reserved address", pool, x.Short(), a)
				}
			}
		})
	}
}

// TestDeriveVectors pins the function: every i3net host must compute the same
// addresses, across versions, or headers are no longer preserved. The values
// were computed independently (Python, hashlib) from the formula in Derive's doc.
func TestDeriveVectors(t *testing.T) {
	tests := []struct {
		pool, name, want string
	}{
		{"100.64.0.0/10", "alice", "100.123.16.188"},
		{"100.64.0.0/10", "bob", "100.109.16.83"},
		{"10.0.0.0/8", "alice", "10.123.16.188"},
		{"fd69:3369:3300::/48", "alice", "fd69:3369:3300:6dc8:c3ca:66af:95c9:79be"},
		{"100.64.0.0/30", "alice", "100.64.0.1"}, // the only non-reserved address
	}
	for _, tc := range tests {
		got := Derive(netip.MustParsePrefix(tc.pool), id.FromName(tc.name))
		if got.String() != tc.want {
			t.Errorf("Derive(%s, %s) = %v, want %s", tc.pool, tc.name, got, tc.want)
		}
	}
}

func TestDeriveUnmaskedPool(t *testing.T) {
	x := id.FromName("alice")
	if a, b := Derive(netip.MustParsePrefix("100.70.1.2/10"), x), Derive(DefaultPool4, x); a != b {
		t.Fatalf("unmasked pool gives %v, masked %v", a, b)
	}
}

func TestServiceAddr(t *testing.T) {
	tests := []struct{ pool, want string }{
		{"100.64.0.0/10", "100.127.255.254"},
		{"10.0.0.0/8", "10.255.255.254"},
		{"100.64.0.0/30", "100.64.0.2"},
		{"fd69:3369:3300::/48", "fd69:3369:3300:ffff:ffff:ffff:ffff:fffe"},
		{"100.64.0.0/31", "invalid IP"},
		{"::ffff:10.0.0.0/104", "invalid IP"},
	}
	for _, tc := range tests {
		if got := ServiceAddr(netip.MustParsePrefix(tc.pool)); got.String() != tc.want {
			t.Errorf("ServiceAddr(%s) = %v, want %s", tc.pool, got, tc.want)
		}
	}
}

func TestValidatePool(t *testing.T) {
	tests := []struct {
		pool string
		ok   bool
	}{
		{"100.64.0.0/10", true},
		{"100.64.0.0/30", true},
		{"100.64.0.0/31", false},
		{"100.64.0.1/32", false},
		{"fd00::/126", true},
		{"fd00::/127", false},
		{"::ffff:10.0.0.0/104", false},
	}
	for _, tc := range tests {
		err := ValidatePool(netip.MustParsePrefix(tc.pool))
		if (err == nil) != tc.ok {
			t.Errorf("ValidatePool(%s) = %v, want ok=%v", tc.pool, err, tc.ok)
		}
	}
	if ValidatePool(netip.Prefix{}) == nil {
		t.Error("ValidatePool(zero) = nil")
	}
	if a := Derive(netip.Prefix{}, id.FromName("x")); a.IsValid() {
		t.Errorf("Derive(zero pool) = %v, want the zero Addr", a)
	}
}

func TestDeriveAllocates(t *testing.T) {
	x := id.FromName("alice")
	if n := testing.AllocsPerRun(100, func() { Derive(DefaultPool6, x) }); n != 0 {
		t.Fatalf("Derive allocates %v times", n)
	}
}

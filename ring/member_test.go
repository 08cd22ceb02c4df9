package ring

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/i3net/i3net/id"
)

func TestMetaRoundTrip(t *testing.T) {
	for _, a := range []string{"198.18.0.1:5610", "[2001:db8::1]:5610", "127.0.0.1:1"} {
		data := netip.MustParseAddrPort(a)
		pos := DefaultPosition(data)
		b := appendMeta(nil, data, pos, 1234567)
		if len(b) > metaMaxLen {
			t.Fatalf("%s: %d bytes of metadata", a, len(b))
		}
		gotData, gotPos, epoch, err := parseMeta(b)
		if err != nil || gotData != data || gotPos != pos || epoch != 1234567 {
			t.Errorf("%s: round trip gave %v %x %d %v", a, gotData, gotPos, epoch, err)
		}
		// A later version-1 writer may append fields: they are ignored.
		if gotData, _, _, err := parseMeta(append(b, 0xde, 0xad)); err != nil || gotData != data {
			t.Errorf("%s: with trailing bytes: %v %v", a, gotData, err)
		}
		// An older writer has no epoch: zero.
		if _, _, epoch, err := parseMeta(b[:len(b)-8]); err != nil || epoch != 0 {
			t.Errorf("%s: without an epoch: %d %v", a, epoch, err)
		}
	}
}

func TestMetaErrors(t *testing.T) {
	good := appendMeta(nil, netip.MustParseAddrPort("198.18.0.1:5610"), id.Key128{1}, 7)
	patch := func(i int, v byte) []byte { b := bytes.Clone(good); b[i] = v; return b }
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"another version", patch(0, 2), "version 2"},
		{"truncated header", good[:10], "10 bytes"},
		{"bad address length", patch(19, 5), "address of 5 bytes"},
		{"truncated address", good[:22], "address of 4 bytes"},
		{"port 0", patch(18, 0), "data address"},
		{"unspecified address", append(bytes.Clone(good[:20]), 0, 0, 0, 0), "data address"},
	}
	// Port 5610 is 0x15ea: zero both bytes for "port 0".
	tests[5].b[17] = 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := parseMeta(tt.b)
			if !errors.Is(err, errMeta) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want errMeta mentioning %q", err, tt.want)
			}
		})
	}
}

// FuzzMeta: no metadata panics the parser, and what parses re-encodes to its
// own first bytes.
func FuzzMeta(f *testing.F) {
	f.Add(appendMeta(nil, netip.MustParseAddrPort("198.18.0.1:5610"), id.Key128{1}, 1))
	f.Add(appendMeta(nil, netip.MustParseAddrPort("[2001:db8::1]:5610"), id.Key128{2}, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		data, pos, epoch, err := parseMeta(b)
		if err != nil {
			return
		}
		enc := appendMeta(nil, data, pos, epoch)
		if d2, p2, e2, err := parseMeta(enc); err != nil || d2 != data || p2 != pos || e2 != epoch {
			t.Fatalf("re-encoded metadata %x: %v %x %d %v", enc, d2, p2, e2, err)
		}
	})
}

func TestPositions(t *testing.T) {
	a := netip.MustParseAddrPort("198.18.0.1:5610")
	b := netip.MustParseAddrPort("198.18.0.2:5610")
	if DefaultPosition(a) != DefaultPosition(a) || DefaultPosition(a) == DefaultPosition(b) {
		t.Error("default positions are not a function of the address")
	}
	p := DefaultPosition(a)
	for _, s := range []string{FormatPosition(p), "0x" + FormatPosition(p), " " + strings.ToUpper(FormatPosition(p)) + " "} {
		if got, err := ParsePosition(s); err != nil || got != p {
			t.Errorf("ParsePosition(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "12", FormatPosition(p) + "00", strings.Repeat("zz", 16)} {
		if _, err := ParsePosition(s); err == nil || !strings.HasPrefix(err.Error(), "ring: position") {
			t.Errorf("ParsePosition(%q): error %v", s, err)
		}
	}
}

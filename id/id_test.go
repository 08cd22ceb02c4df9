package id

import (
	"crypto/ed25519"
	"testing"
)

func TestParseRoundTrip(t *testing.T) {
	x := Random()
	for _, s := range []string{x.String(), "0x" + x.String()} {
		y, err := Parse(s)
		if err != nil || y != x {
			t.Fatalf("Parse(%q) = %v, %v; want %v", s, y, err, x)
		}
	}
	var z ID
	if err := z.UnmarshalText([]byte(x.String())); err != nil || z != x {
		t.Fatalf("UnmarshalText: %v %v", z, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{"", "abc", Random().String() + "00", Random().String()[:62] + "zz"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q): no error", s)
		}
	}
}

func TestCommonPrefixLen(t *testing.T) {
	var a, b ID
	if n := CommonPrefixLen(a, b); n != 256 {
		t.Fatalf("equal ids: %d", n)
	}
	tests := []struct {
		byteIdx int
		bit     byte
		want    int
	}{
		{0, 0x80, 0}, {0, 0x01, 7}, {15, 0x01, 127}, {16, 0x80, 128}, {31, 0x01, 255},
	}
	for _, tt := range tests {
		b := a
		b[tt.byteIdx] ^= tt.bit
		if got := CommonPrefixLen(a, b); got != tt.want {
			t.Errorf("flip byte %d bit %#x: %d, want %d", tt.byteIdx, tt.bit, got, tt.want)
		}
	}
}

func TestMatches(t *testing.T) {
	trig := Random()
	tests := []struct {
		name      string
		flipByte  int
		prefixLen int
		want      bool
	}{
		{"equal", -1, 128, true},
		{"differs in suffix, 128-bit trigger", 20, 128, true},
		{"differs in first 128 bits", 15, 128, false},
		{"differs before trigger's 256-bit prefix", 31, 256, false},
		{"differs after trigger's 200-bit prefix", 30, 200, true},
		{"short prefix_len still needs 128", 10, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkt := trig
			if tt.flipByte >= 0 {
				pkt[tt.flipByte] ^= 0x01
			}
			if _, got := Matches(pkt, trig, tt.prefixLen); got != tt.want {
				t.Fatalf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPublicBitAndKeys(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := FromPublicKey(pub), FromPublicKey(pub)
	if a != b || !a.IsPublic() {
		t.Fatalf("FromPublicKey not stable or not public: %v %v", a, b)
	}
	if Random().IsPublic() {
		t.Fatal("Random id is public")
	}
	if a.WithPublic(false).IsPublic() || !a.WithPublic(false).WithPublic(true).IsPublic() {
		t.Fatal("WithPublic")
	}
	if a.Key() == (Key128{}) {
		t.Fatal("Key is zero")
	}
}

func TestRandomWithPrefix(t *testing.T) {
	p := Random()
	for _, n := range []int{0, 5, 64, 128, 131, 200, 256} {
		r := RandomWithPrefix(p, n)
		if got := CommonPrefixLen(p, r); got < n {
			t.Errorf("n=%d: shares %d bits", n, got)
		}
	}
}

func BenchmarkCommonPrefixLen(b *testing.B) {
	x, y := Random(), Random()
	y[20] = x[20] ^ 1
	copy(y[:20], x[:20])
	b.ReportAllocs()
	for b.Loop() {
		CommonPrefixLen(x, y)
	}
}

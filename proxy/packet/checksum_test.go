package packet

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

// naiveChecksum is RFC 1071 as written: 16-bit words, end-around carry at
// each step. It is the independent reference for sum and fold.
func naiveChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i < len(b); i += 2 {
		w := uint32(b[i]) << 8
		if i+1 < len(b) {
			w |= uint32(b[i+1])
		}
		s += w
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

func TestSumMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		b := make([]byte, r.IntN(200))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if i%7 == 0 { // runs of 0xff stress the carries
			for j := range b {
				b[j] = 0xff
			}
		}
		if got, want := ^fold(sum(0, b)), naiveChecksum(b); got != want {
			t.Fatalf("checksum of %x = %#04x, want %#04x", b, got, want)
		}
	}
}

// TestIPv4HeaderVector checks a published header: the example of the
// Wikipedia article "Internet checksum" (192.168.0.1 > 192.168.0.199, UDP).
func TestIPv4HeaderVector(t *testing.T) {
	h, _ := hex.DecodeString("450000730000400040110000c0a80001c0a800c7")
	if got := ^fold(sum(0, h)); got != 0xb861 {
		t.Errorf("checksum %#04x, want 0xb861", got)
	}
}

func TestUpdate(t *testing.T) {
	tests := []struct {
		name           string
		c              uint16
		old, new, want []byte
	}{
		// RFC 1624 §4: eqn. 3 gives 0x0000 where eqn. 2 gave 0xFFFF.
		{"rfc1624", 0xdd2f, []byte{0x55, 0x55}, []byte{0x32, 0x85}, []byte{0x00, 0x00}},
		{"no-change", 0x1234, []byte{1, 2, 3, 4}, []byte{1, 2, 3, 4}, []byte{0x12, 0x34}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := update(tt.c, tt.old, tt.new)
			if want := uint16(tt.want[0])<<8 | uint16(tt.want[1]); got != want {
				t.Errorf("update = %#04x, want %#04x", got, want)
			}
		})
	}
}

// TestUpdateMatchesFull replaces random aligned words of random data and
// compares the incremental checksum with the full one.
func TestUpdateMatchesFull(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		b := make([]byte, 2*(4+r.IntN(40)))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		n := 2 * (1 + r.IntN(8)) // 2..16 bytes, like an address
		if n > len(b) {
			n = len(b)
		}
		off := 2 * r.IntN((len(b)-n)/2+1)
		newb := make([]byte, n)
		for j := range newb {
			newb[j] = byte(r.Uint32())
		}
		c := naiveChecksum(b)
		old := bytes.Clone(b[off : off+n])
		copy(b[off:], newb)
		if got, want := update(c, old, newb), naiveChecksum(b); got != want {
			t.Fatalf("update %#04x, full %#04x (data %x)", got, want, b)
		}
	}
}

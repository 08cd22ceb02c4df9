package wire

import (
	"bytes"
	"testing"

	"github.com/i3net/i3net/wire/wiretest"
)

// loadVectors reads testdata/original-vectors.txt.
func loadVectors(t testing.TB) []wiretest.Vector {
	t.Helper()
	return wiretest.LoadVectors(t, "testdata/original-vectors.txt")
}

// normalize clears the bits WIRE.md calls undefined: the upper nibble of stack
// count bytes. (The junk nonce and key of CACHE_ADDR triggers are kept by our
// decoder, so they need no masking.)
func normalize(b []byte) []byte {
	c := bytes.Clone(b)
	if len(c) > 2 {
		c[2] &= 0x0f
	}
	return c
}

func TestOriginalVectorsRoundTrip(t *testing.T) {
	var p Packet
	kinds := map[OptType]int{}
	for _, v := range loadVectors(t) {
		if err := p.Decode(v.B); err != nil {
			t.Errorf("line %d: decode: %v", v.Line, err)
			continue
		}
		for _, o := range p.Options {
			kinds[o.Type]++
		}
		got := p.AppendTo(nil)
		if want := normalize(v.B); !bytes.Equal(normalize(got), want) {
			t.Errorf("line %d: re-encode differs\n got %x\nwant %x", v.Line, got, want)
		}
		if p.HeaderLen()+len(p.Payload) != len(got) {
			t.Errorf("line %d: HeaderLen %d + payload %d != %d", v.Line, p.HeaderLen(), len(p.Payload), len(got))
		}
	}
	for _, k := range []OptType{OptSender, OptTriggerInsert, OptTriggerChallenge, OptTriggerAck, OptCacheAddr, OptRequestForCache} {
		if kinds[k] == 0 {
			t.Errorf("no vector exercised %v", k)
		}
	}
}

func TestOriginalVectorsDecodeZeroAlloc(t *testing.T) {
	vs := loadVectors(t)
	var p Packet
	for _, v := range vs { // warm the option slice
		_ = p.Decode(v.B)
	}
	allocs := testing.AllocsPerRun(20, func() {
		for _, v := range vs {
			_ = p.Decode(v.B)
		}
	})
	if allocs != 0 {
		t.Fatalf("Decode allocates %.1f times per run of all vectors", allocs)
	}
}

package wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
)

// vector is one datagram captured from the original Berkeley i3 programs.
type vector struct {
	line     int
	src, dst int // UDP ports; 5610 is the server
	b        []byte
}

// loadVectors reads testdata/original-vectors.txt (a copy of
// shared/i3-wire/original-vectors.txt).
func loadVectors(t testing.TB) []vector {
	t.Helper()
	f, err := os.Open("testdata/original-vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ports, hx, ok := strings.Cut(line, " ")
		s, d, ok2 := strings.Cut(ports, "->")
		if !ok || !ok2 {
			t.Fatalf("line %d: bad vector line %q", n, line)
		}
		b, err := hex.DecodeString(hx)
		if err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		si, _ := strconv.Atoi(s)
		di, _ := strconv.Atoi(d)
		vs = append(vs, vector{line: n, src: si, dst: di, b: b})
	}
	if len(vs) != 70 {
		t.Fatalf("read %d vectors, want 70", len(vs))
	}
	return vs
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
		if err := p.Decode(v.b); err != nil {
			t.Errorf("line %d: decode: %v", v.line, err)
			continue
		}
		for _, o := range p.Options {
			kinds[o.Type]++
		}
		got := p.AppendTo(nil)
		if want := normalize(v.b); !bytes.Equal(normalize(got), want) {
			t.Errorf("line %d: re-encode differs\n got %x\nwant %x", v.line, got, want)
		}
		if p.HeaderLen()+len(p.Payload) != len(got) {
			t.Errorf("line %d: HeaderLen %d + payload %d != %d", v.line, p.HeaderLen(), len(p.Payload), len(got))
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
		_ = p.Decode(v.b)
	}
	allocs := testing.AllocsPerRun(20, func() {
		for _, v := range vs {
			_ = p.Decode(v.b)
		}
	})
	if allocs != 0 {
		t.Fatalf("Decode allocates %.1f times per run of all vectors", allocs)
	}
}

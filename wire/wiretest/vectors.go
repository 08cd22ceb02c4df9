// Package wiretest reads, for tests, the datagrams captured from the
// original Berkeley i3 programs (wire/testdata/original-vectors.txt, a copy
// of shared/i3-wire/original-vectors.txt). The wire package's tests and the
// server's conversation tests use it.
package wiretest

import (
	"bufio"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
)

// VectorCount is how many datagrams the vectors file holds.
const VectorCount = 70

// Vector is one datagram captured from the original Berkeley i3 programs.
type Vector struct {
	Line     int // line of the file it is on
	Src, Dst int // UDP ports; 5610 is the server
	B        []byte
}

// LoadVectors reads the vectors file at path: a line "SRC->DST HEX" a
// datagram; blank lines and lines starting with # are skipped. The test
// fails on a malformed line or unless the file holds VectorCount vectors.
func LoadVectors(t testing.TB, path string) []Vector {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []Vector
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
			t.Fatalf("%s:%d: bad vector line %q", path, n, line)
		}
		b, err := hex.DecodeString(hx)
		if err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		si, _ := strconv.Atoi(s)
		di, _ := strconv.Atoi(d)
		vs = append(vs, Vector{Line: n, Src: si, Dst: di, B: b})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(vs) != VectorCount {
		t.Fatalf("%s: %d vectors, want %d", path, len(vs), VectorCount)
	}
	return vs
}

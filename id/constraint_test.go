package id

import (
	"bufio"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// TestConstraintVectors: HashL, HashR, HashIDL and HashIDR give what the
// original's own code printed (testdata/constraint-vectors.txt).
func TestConstraintVectors(t *testing.T) {
	f, err := os.Open("testdata/constraint-vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 3 {
			t.Fatalf("line %d: %q: want name input output", line, text)
		}
		in, err1 := hex.DecodeString(fields[1])
		want, err2 := hex.DecodeString(fields[2])
		if err1 != nil || err2 != nil || len(want) != ConstraintKeyLen {
			t.Fatalf("line %d: %q: bad hex", line, text)
		}
		var got ConstraintKey
		switch {
		case fields[0] == "h_l" && len(in) == ConstraintKeyLen:
			got = HashL(ConstraintKey(in))
		case fields[0] == "h_r" && len(in) == ConstraintKeyLen:
			got = HashR(ConstraintKey(in))
		case fields[0] == "H_l" && len(in) == Len:
			got = HashIDL(ID(in))
		case fields[0] == "H_r" && len(in) == Len:
			got = HashIDR(ID(in))
		default:
			t.Fatalf("line %d: %q: unknown function or input size", line, text)
		}
		if string(got[:]) != string(want) {
			t.Errorf("line %d: %s(%s) = %x, want %s", line, fields[0], fields[1], got, fields[2])
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 16 {
		t.Errorf("%d vectors, want 16", n)
	}
}

// TestConstraintChecks: the checks accept what the original accepts (the
// l-constraint for any id, the r-constraint for private ids only) and refuse
// a zero key.
func TestConstraintChecks(t *testing.T) {
	priv := Random().WithPublic(false)
	pub := Random().WithPublic(true)
	var zero ConstraintKey
	if !SatisfiesConstraintIP(priv, HashIDR(priv)) {
		t.Error("private id, key H_r(id): refused")
	}
	if SatisfiesConstraintIP(pub, HashIDR(pub)) {
		t.Error("public id, key H_r(id): accepted; the r-constraint is for private ids")
	}
	if SatisfiesConstraintIP(priv, zero) {
		t.Error("private id, zero key: accepted")
	}
	key := ConstraintKey{1, 2, 3}
	for _, x := range []ID{priv, pub} {
		if l := x.WithConstraintKey(HashL(key)); !SatisfiesConstraintIP(l, key) || l.IsPublic() != x.IsPublic() {
			t.Errorf("id %s with key H_l(key): refused", l.Short())
		}
	}
	first := Random()
	if !SatisfiesConstraintStack(pub.WithConstraintKey(HashIDL(first)), first) {
		t.Error("stack target, id key H_l(first): refused")
	}
	if !SatisfiesConstraintStack(priv, first.WithConstraintKey(HashIDR(priv))) {
		t.Error("stack target, first's key H_r(private id): refused")
	}
	if SatisfiesConstraintStack(pub, first.WithConstraintKey(HashIDR(pub))) {
		t.Error("stack target, first's key H_r(public id): accepted")
	}
}

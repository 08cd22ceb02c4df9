package session

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpora in testdata/fuzz")

// fixture is a reproducible set of sessions and real frames: the fuzz targets
// rebuild it, so the seeds in testdata/fuzz (made from the same fixture)
// are frames these very sessions accept.
type fixture struct {
	enc, pt pair // an encrypted and a plaintext session, identities 1 → 2
	seeds   map[string][][]byte
}

func newFixture(tb testing.TB) *fixture {
	a, b := testIdentity(tb, 1), testIdentity(tb, 2)
	x := &fixture{enc: handshake(tb, a, b, FlagShortcut, 0), pt: handshake(tb, a, b, FlagPlaintext, FlagShortcut)}
	ipv4 := []byte("\x45\x00\x00\x1c\x00\x01\x00\x00\x40\x11\x00\x00\x64\x40\x00\x01\x64\x40\x00\x02\x30\x39\x00\x35\x00\x08\x00\x00")
	var data, clear [][]byte
	for i := range 3 {
		data = append(data, mustSeal(tb, x.enc.sa, ipv4[:len(ipv4)-i]))
		clear = append(clear, mustSeal(tb, x.pt.sa, ipv4[:len(ipv4)-i]))
	}
	data = append(data, mustSeal(tb, x.enc.sa, nil))
	keep, _ := x.enc.sa.Keepalive(nil)
	keepPt, _ := x.pt.sa.Keepalive(nil)
	reset := AppendReset(nil, a, x.enc.sb.PeerPrivateID(), x.enc.sb.LocalPrivateID(), t0.Add(time.Minute))
	otherB, _ := NewInitiator(a, testIdentity(tb, 3).Public(), testPrivID(0xa9), Options{Rand: testRand(9)}, t0)
	all := slices.Concat([][]byte{x.enc.ia.Message1(), x.enc.acc.Message2, keep, keepPt, reset}, data, clear)
	x.seeds = map[string][][]byte{
		"FuzzParseFrame": all,
		"FuzzOpen":       all,
		"FuzzHandleMsg1": {x.enc.ia.Message1(), x.pt.ia.Message1(), otherB.Message1()},
		"FuzzFinish":     {x.enc.acc.Message2, x.pt.acc.Message2},
	}
	return x
}

// seed adds the fixture's seeds of the running fuzz target (the same bytes
// as its testdata/fuzz files, which go test also reads).
func (x *fixture) seed(f *testing.F) {
	for _, b := range x.seeds[f.Name()] {
		f.Add(b)
	}
}

// FuzzParseFrame: no input panics ParseFrame, every rejection is ErrLength or
// ErrType, and whatever parses re-encodes to the same bytes.
func FuzzParseFrame(f *testing.F) {
	newFixture(f).seed(f)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseFrame(b)
		if err != nil {
			if err != ErrLength && err != ErrType {
				t.Fatalf("error %v is not a sentinel", err)
			}
			return
		}
		if got := fr.AppendTo(nil); !bytes.Equal(got, b) {
			t.Fatalf("round trip:\n%x\n%x", b, got)
		}
		_ = fr.Type.String()
	})
}

// FuzzOpen feeds arbitrary frames to an encrypted and a plaintext session
// (and to CheckReset): no panic, bare sentinel errors, and a frame that
// opens does not open twice.
func FuzzOpen(f *testing.F) {
	x := newFixture(f)
	x.seed(f)
	open := []error{ErrLength, ErrType, ErrMode, ErrAuth, ErrReplay, ErrTooOld, ErrExhausted}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, s := range []*Session{x.enc.sb, x.pt.sb} {
			resetWindow(s)
			dst := []byte("dst")
			out, err := s.Open(dst, b)
			if err != nil {
				if !slices.Contains(open, err) {
					t.Fatalf("error %v is not a bare sentinel", err)
				}
				if string(out) != "dst" {
					t.Fatalf("dst changed on error: %q", out)
				}
				continue
			}
			if !bytes.HasPrefix(out, dst) || len(out) != len(dst)+len(b)-Overhead {
				t.Fatalf("opened %d bytes from a %d-byte frame", len(out)-len(dst), len(b))
			}
			if _, err := s.Open(nil, b); err != ErrReplay {
				t.Fatalf("frame opened twice: %v", err)
			}
		}
		if err := x.enc.sb.CheckReset(b); err != nil && !isSentinel(err) {
			t.Fatalf("reset error %v is not a sentinel", err)
		}
	})
}

// FuzzHandleMsg1 feeds arbitrary message 1s to a fresh responder: no panic,
// sentinel errors, and an accepted one is answered again as a duplicate with
// the same message 2.
func FuzzHandleMsg1(f *testing.F) {
	x := newFixture(f)
	x.seed(f)
	b := x.enc.b
	f.Fuzz(func(t *testing.T, msg []byte) {
		r, err := NewResponder(b, Options{Rand: testRand(2)})
		if err != nil {
			t.Fatal(err)
		}
		acc, err := r.Handle(msg, acceptWith(testPrivID(0xb1), 0, nil), t0)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error %v is not a sentinel", err)
			}
			if r.Len() != 0 {
				t.Fatal("a refused message 1 left state")
			}
			return
		}
		if f, err := ParseFrame(acc.Message2); err != nil || f.Type != TypeHandshake2 {
			t.Fatalf("message 2 does not parse: %v", err)
		}
		again, err := r.Handle(msg, acceptWith(testPrivID(0xb2), 0, nil), t0)
		if err != nil || !again.Duplicate || !bytes.Equal(again.Message2, acc.Message2) || again.Session != acc.Session {
			t.Fatalf("the same message 1 again: %v", err)
		}
	})
}

// FuzzFinish feeds arbitrary message 2s to a fresh initiator: no panic,
// sentinel errors, and after a bad one the real message 2 still finishes.
func FuzzFinish(f *testing.F) {
	x := newFixture(f)
	x.seed(f)
	a, b := x.enc.a, x.enc.b
	real := x.enc.acc.Message2
	f.Fuzz(func(t *testing.T, msg []byte) {
		i, err := NewInitiator(a, b.Public(), testPrivID(0xa1), Options{Flags: FlagShortcut, Rand: testRand(1)}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := i.Finish(msg); err != nil {
			if !isSentinel(err) {
				t.Fatalf("error %v is not a sentinel", err)
			}
			if _, err := i.Finish(real); err != nil {
				t.Fatalf("real message 2 after a bad one: %v", err)
			}
			return
		}
		if _, err := i.Finish(real); !errors.Is(err, ErrFinished) {
			t.Fatalf("second message 2: %v, want ErrFinished", err)
		}
	})
}

// TestFuzzCorpus checks that testdata/fuzz holds the fixture's frames, so
// that the seed corpora stay real frames if the protocol changes; run with
// -update-corpus to rewrite them. Files other than seedNN (crashers kept as
// regression seeds) are left alone.
func TestFuzzCorpus(t *testing.T) {
	x := newFixture(t)
	for target, seeds := range x.seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		if *updateCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		for i, b := range seeds {
			path := filepath.Join(dir, fmt.Sprintf("seed%02d", i))
			want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if *updateCorpus {
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != want {
				t.Errorf("%s is missing or stale (run go test -run TestFuzzCorpus -update-corpus): %v", path, err)
			}
		}
	}
}

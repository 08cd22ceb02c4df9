package session

import (
	"bytes"
	"testing"
	"time"
)

func TestParseFrame(t *testing.T) {
	p := handshake(t, testIdentity(t, 1), testIdentity(t, 2), 0, 0)
	pt := handshake(t, testIdentity(t, 1), testIdentity(t, 2), FlagPlaintext, 0)
	data := mustSeal(t, p.sa, []byte("packet"))
	clear := mustSeal(t, pt.sa, []byte("packet"))
	keep, _ := p.sa.Keepalive(nil)
	reset := AppendReset(nil, p.b, p.sa.PeerPrivateID(), p.sa.LocalPrivateID(), t0.Add(time.Minute))
	tests := []struct {
		name    string
		in      []byte
		typ     Type
		counter uint64
		body    []byte
		err     error
	}{
		{"handshake1", p.ia.Message1(), TypeHandshake1, 0, p.ia.Message1()[1:], nil},
		{"handshake2", p.acc.Message2, TypeHandshake2, 0, p.acc.Message2[1:], nil},
		{"data", data, TypeData, 0, data[HeaderLen:], nil},
		{"plaintext", clear, TypePlaintext, 0, []byte("packet"), nil},
		{"keepalive", keep, TypeKeepalive, 1, []byte{}, nil},
		{"reset", reset, TypeReset, 0, reset[1:], nil},
		{"empty", nil, 0, 0, nil, ErrLength},
		{"type only", []byte{byte(TypeData)}, 0, 0, nil, ErrLength},
		{"unknown type", []byte{0x00, 1, 2, 3}, 0, 0, nil, ErrType},
		{"IPv4 packet", []byte{0x45, 0, 0, 20}, 0, 0, nil, ErrType},
		{"short handshake1", p.ia.Message1()[:100], 0, 0, nil, ErrLength},
		{"long handshake2", append(bytes.Clone(p.acc.Message2), 0), 0, 0, nil, ErrLength},
		{"short data", data[:Overhead-1], 0, 0, nil, ErrLength},
		{"short plaintext", clear[:Overhead-1], 0, 0, nil, ErrLength},
		{"long keepalive", append(bytes.Clone(keep), 0), 0, 0, nil, ErrLength},
		{"short reset", reset[:ResetLen-1], 0, 0, nil, ErrLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFrame(tt.in)
			if err != tt.err {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if f.Type != tt.typ || f.Counter != tt.counter || !bytes.Equal(f.Body, tt.body) {
				t.Fatalf("got %v counter %d body %x", f.Type, f.Counter, f.Body)
			}
			if got := f.AppendTo(nil); !bytes.Equal(got, tt.in) {
				t.Fatalf("AppendTo does not give the input back:\n%x\n%x", got, tt.in)
			}
			if TypeOf(tt.in) != f.Type {
				t.Fatalf("TypeOf = %v", TypeOf(tt.in))
			}
		})
	}
	if TypeOf(nil) != 0 || Type(0x42).String() != "type(66)" || TypeKeepalive.String() != "keepalive" {
		t.Fatal("TypeOf or String")
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseFrame(data) }); n != 0 {
		t.Fatalf("ParseFrame allocates %v times", n)
	}
}

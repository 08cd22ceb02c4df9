package packet

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestVerifyChecksums(t *testing.T) {
	edit := func(name string, f func(b []byte)) []byte {
		b := bytes.Clone(sampleNamed(t, name))
		f(b)
		return b
	}
	flip := func(off int) func([]byte) { return func(b []byte) { b[off] ^= 0x01 } }
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"valid", sampleNamed(t, "tcp4-data"), nil},
		{"malformed", []byte{0x45}, ErrTooShort},
		{"ipv4-header", edit("tcp4-data", flip(8)), ErrHeaderChecksum},
		{"tcp4-payload", edit("tcp4-data", flip(45)), ErrTransportChecksum},
		{"udp4-address", edit("udp4", func(b []byte) {
			b[ipv4SrcOff] ^= 1 // and a valid header checksum again:
			binary.BigEndian.PutUint16(b[ipv4CsumOff:], 0)
			binary.BigEndian.PutUint16(b[ipv4CsumOff:], ^fold(sum(0, b[:ipv4HeaderLen])))
		}), ErrTransportChecksum},
		{"icmp4", edit("icmp4-echo", flip(30)), ErrTransportChecksum},
		{"tcp6", edit("tcp6-syn", flip(ipv6DstOff)), ErrTransportChecksum},
		{"icmp6", edit("icmp6-echo", flip(50)), ErrTransportChecksum},
		{"udp4-none", sampleNamed(t, "udp4-nocsum"), nil},
		{"udp6-none", edit("udp6", func(b []byte) { binary.BigEndian.PutUint16(b[46:], 0) }), ErrTransportChecksum},
		// What cannot be checked from one packet is not.
		{"fragment-payload", edit("udp4-frag-first", flip(100)), nil},
		{"routed-payload", edit("udp6-routed", flip(78)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := VerifyChecksums(tt.b); err != tt.want {
				t.Errorf("VerifyChecksums = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSourceRouted4(t *testing.T) {
	tests := []struct {
		name string
		opts []byte
		want bool
	}{
		{"none", nil, false},
		{"nops", []byte{1, 1, 1, 1}, false},
		{"lsrr", []byte{ipv4OptLSRR, 7, 4, 1, 2, 3, 4, 0}, true},
		{"ssrr-after-nop", []byte{1, ipv4OptSSRR, 7, 4, 1, 2, 3, 4}, true},
		{"lsrr-exhausted", []byte{ipv4OptLSRR, 7, 8, 1, 2, 3, 4, 0}, false},
		{"record-route", []byte{7, 7, 4, 0, 0, 0, 0, 0}, false},
		{"after-end", []byte{0, ipv4OptLSRR, 7, 4, 1, 2, 3, 4}, false},
		{"no-length", []byte{1, 1, 1, ipv4OptLSRR}, false},
		{"length-1", []byte{ipv4OptLSRR, 1, 4, 0}, false},
		{"length-beyond", []byte{ipv4OptLSRR, 11, 4, 1, 2, 3, 4, 0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sourceRouted4(tt.opts); got != tt.want {
				t.Errorf("sourceRouted4(%x) = %v, want %v", tt.opts, got, tt.want)
			}
		})
	}
}

func TestPayloadShortBuffer(t *testing.T) {
	b := sampleNamed(t, "udp4")
	p := mustDecode(t, b)
	if got := p.Payload(b[:len(b)-1]); got != nil {
		t.Errorf("Payload of a short buffer = %q", got)
	}
	var zero Parsed
	if got := zero.Payload(b); got != nil {
		t.Errorf("Payload of an undecoded view = %q", got)
	}
}

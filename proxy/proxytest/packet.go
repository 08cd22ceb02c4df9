package proxytest

import (
	"testing"

	"github.com/i3net/i3net/proxy/packet"
)

// Decode parses b, a packet a proxy wrote into a tun device, and checks its
// checksums; the test fails if either is wrong.
func Decode(t testing.TB, b []byte) packet.Parsed {
	t.Helper()
	var pp packet.Parsed
	if err := pp.Decode(b); err != nil {
		t.Fatalf("the tun device got %x: %v", b, err)
	}
	if err := packet.VerifyChecksums(b); err != nil {
		t.Fatalf("the tun device got a packet with bad checksums: %v", err)
	}
	return pp
}

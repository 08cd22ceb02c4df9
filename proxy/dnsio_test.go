package proxy

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/i3net/i3net/proxy/packet"
)

// TestAppendUDP: the answers' packets are the ones packet.Build makes, after
// whatever b held, for both families and payloads of odd and even length.
func TestAppendUDP(t *testing.T) {
	for _, c := range []struct{ from, to string }{
		{"100.127.255.254:53", "100.64.0.1:40000"},
		{"[fd69:3369:3300::1]:53", "[fd69:3369:3300:ffff::2]:65535"},
	} {
		from, to := netip.MustParseAddrPort(c.from), netip.MustParseAddrPort(c.to)
		for _, n := range []int{0, 1, 55, 512, 4096} {
			payload := bytes.Repeat([]byte{0xa5, 0x5a, 0xff}, n)[:n]
			want, err := packet.Build(packet.Header{Src: from, Dst: to, Proto: packet.ProtoUDP}, payload)
			if err != nil {
				t.Fatal(err)
			}
			got := appendUDP([]byte("head"), from, to, payload)
			if string(got[:4]) != "head" || !bytes.Equal(got[4:], want) {
				t.Errorf("%s → %s, %d bytes:\n got %x\nwant %x", from, to, n, got[4:], want)
			}
			if err := packet.VerifyChecksums(got[4:]); err != nil {
				t.Error(err)
			}
		}
	}
}

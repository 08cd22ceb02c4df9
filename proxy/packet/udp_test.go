package packet

import (
	"bytes"
	"net/netip"
	"testing"
)

// TestAppendUDP: the packets are the ones Build makes, after whatever b held,
// for both families and payloads of odd and even length; mixed families and
// oversized payloads are refused.
func TestAppendUDP(t *testing.T) {
	for _, c := range []struct{ from, to string }{
		{"100.127.255.254:53", "100.64.0.1:40000"},
		{"[fd69:3369:3300::1]:53", "[fd69:3369:3300:ffff::2]:65535"},
	} {
		from, to := netip.MustParseAddrPort(c.from), netip.MustParseAddrPort(c.to)
		for _, n := range []int{0, 1, 55, 512, 4096} {
			payload := bytes.Repeat([]byte{0xa5, 0x5a, 0xff}, n)[:n]
			want, err := Build(Header{Src: from, Dst: to, Proto: ProtoUDP}, payload)
			if err != nil {
				t.Fatal(err)
			}
			got, err := AppendUDP([]byte("head"), from, to, payload)
			if err != nil {
				t.Fatal(err)
			}
			if string(got[:4]) != "head" || !bytes.Equal(got[4:], want) {
				t.Errorf("%s → %s, %d bytes:\n got %x\nwant %x", from, to, n, got[4:], want)
			}
			if err := VerifyChecksums(got[4:]); err != nil {
				t.Error(err)
			}
		}
	}
	v4, v6 := netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("[fd00::1]:1")
	if _, err := AppendUDP(nil, v4, v6, nil); err == nil {
		t.Error("mixed families accepted")
	}
	if _, err := AppendUDP(nil, v4, v4, make([]byte, MaxUDPPayload+1)); err == nil {
		t.Error("an oversized payload accepted")
	}
}

func TestAppendUDPAllocs(t *testing.T) {
	from, to := netip.MustParseAddrPort("100.127.255.254:53"), netip.MustParseAddrPort("100.64.0.1:40000")
	buf, payload := make([]byte, 0, 2048), make([]byte, 100)
	if n := testing.AllocsPerRun(100, func() { _, _ = AppendUDP(buf, from, to, payload) }); n != 0 {
		t.Errorf("%v allocations per packet", n)
	}
}

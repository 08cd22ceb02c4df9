package packet

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

func TestMarkCE(t *testing.T) {
	tcp4 := Header{Src: netip.MustParseAddrPort("10.0.0.1:1"), Dst: netip.MustParseAddrPort("10.0.0.2:2"), Proto: ProtoTCP}
	tcp6 := Header{Src: netip.MustParseAddrPort("[fd00::1]:1"), Dst: netip.MustParseAddrPort("[fd00::2]:2"), Proto: ProtoTCP}
	for _, tc := range []struct {
		name   string
		h      Header
		ecn    byte // the ECN bits the sender set
		marked bool
	}{
		{"ipv4 not-ECT", tcp4, 0, false},
		{"ipv4 ECT(0)", tcp4, 2, true},
		{"ipv4 ECT(1)", tcp4, 1, true},
		{"ipv4 CE", tcp4, 3, true},
		{"ipv6 not-ECT", tcp6, 0, false},
		{"ipv6 ECT(0)", tcp6, 2, true},
		{"ipv6 CE", tcp6, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Build(tc.h, []byte("data"))
			if err != nil {
				t.Fatal(err)
			}
			setECN(b, tc.ecn)
			if got := MarkCE(b); got != tc.marked {
				t.Fatalf("MarkCE = %v, want %v", got, tc.marked)
			}
			want := tc.ecn
			if tc.marked {
				want = ecnCE
			}
			if got := ecnOf(b); got != want {
				t.Errorf("ECN bits %02b, want %02b", got, want)
			}
			if err := VerifyChecksums(b); err != nil {
				t.Errorf("after MarkCE: %v", err)
			}
		})
	}
	if MarkCE(nil) || MarkCE([]byte{0x45}) || MarkCE([]byte{0x45, 0x02}) {
		t.Error("MarkCE marked a truncated packet")
	}
}

// setECN sets b's ECN bits with a correct IPv4 header checksum.
func setECN(b []byte, ecn byte) {
	if b[0]>>4 == 6 {
		b[1] = b[1]&^0x30 | ecn<<4
		return
	}
	b[1] = b[1]&^ecnMask | ecn
	binary.BigEndian.PutUint16(b[10:], 0)
	binary.BigEndian.PutUint16(b[10:], ^fold(sum(0, b[:ipv4HeaderLen])))
}

func ecnOf(b []byte) byte {
	if b[0]>>4 == 6 {
		return b[1] >> 4 & ecnMask
	}
	return b[1] & ecnMask
}

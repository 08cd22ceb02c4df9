package packet

import (
	"encoding/binary"
	"errors"
	"net/netip"
)

// MaxUDPPayload is the largest payload AppendUDP takes.
const MaxUDPPayload = 0xffff - udpHeaderLen - ipv6HeaderLen

// AppendUDP appends to b the packet Build makes for a UDP datagram from → to
// (one family) carrying payload, with TTL 64 and correct checksums, without
// allocating when b has the room: the hot path's Build (DNS answers).
func AppendUDP(b []byte, from, to netip.AddrPort, payload []byte) ([]byte, error) {
	if from.Addr().Is4() != to.Addr().Is4() || len(payload) > MaxUDPPayload {
		return b, errors.New("packet: a UDP packet needs addresses of one family and a payload that fits")
	}
	start := len(b)
	udpLen := udpHeaderLen + len(payload)
	var pseudo uint64
	if from.Addr().Is4() {
		s, d := from.Addr().As4(), to.Addr().As4()
		total := ipv4HeaderLen + udpLen
		b = append(b, 0x45, 0, byte(total>>8), byte(total), 0, 0, 0, 0, 64, byte(ProtoUDP), 0, 0)
		b = append(append(b, s[:]...), d[:]...)
		binary.BigEndian.PutUint16(b[start+10:], ^fold(sum(0, b[start:])))
		pseudo = sum(sum(0, s[:]), d[:])
	} else {
		s, d := from.Addr().As16(), to.Addr().As16()
		b = append(b, 0x60, 0, 0, 0, byte(udpLen>>8), byte(udpLen), byte(ProtoUDP), 64)
		b = append(append(b, s[:]...), d[:]...)
		pseudo = sum(sum(0, s[:]), d[:])
	}
	u := len(b)
	b = binary.BigEndian.AppendUint16(b, from.Port())
	b = binary.BigEndian.AppendUint16(b, to.Port())
	b = binary.BigEndian.AppendUint16(b, uint16(udpLen))
	b = append(b, 0, 0)
	b = append(b, payload...)
	binary.BigEndian.PutUint16(b[u+6:], transportChecksum(pseudo+uint64(ProtoUDP)+uint64(udpLen), b[u:], true))
	return b, nil
}

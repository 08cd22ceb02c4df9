package udpgso

import (
	"errors"
	"net"
	"testing"

	"golang.org/x/net/ipv4"
)

// refusingBatch fails every send the way x/net's WriteBatch does on Linux
// when sendmmsg sends nothing: -1 and an error.
type refusingBatch struct{}

func (refusingBatch) ReadBatch([]ipv4.Message, int) (int, error) { return 0, errors.New("no") }
func (refusingBatch) WriteBatch([]ipv4.Message, int) (int, error) {
	return -1, errors.New("sendmmsg: network is unreachable")
}

// TestWriteBatchRefused: a batch the kernel refuses whole is reported as 0
// sent and the error, coalesced or not, never as -1 (which made callers
// panic slicing by it).
func TestWriteBatchRefused(t *testing.T) {
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	for _, gso := range []bool{false, true} {
		c := &Conn{b: refusingBatch{}}
		c.maxSeg.Store(maxCoalesced)
		c.writes.New = func() any { return new(writeScratch) }
		c.gso.Store(gso)
		ms := make([]ipv4.Message, 4)
		for i := range ms {
			ms[i] = ipv4.Message{Buffers: datagram(i, 1000), Addr: to}
		}
		if n, err := c.WriteBatch(ms, 0); n != 0 || err == nil {
			t.Errorf("gso %v: sent %d, error %v; want 0 and the error", gso, n, err)
		}
	}
}

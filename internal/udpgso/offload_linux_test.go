package udpgso

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"testing"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/i3net/i3net/internal/cmsg"
)

// TestRefusedFallsBack: a kernel that refuses a coalesced send gets the run
// one datagram at a time, nothing lost, and what it refused is not tried
// again (EIO: no coalescing; EINVAL: not segments that large).
func TestRefusedFallsBack(t *testing.T) {
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	for _, tt := range []struct {
		err     error
		wantGSO bool
		wantMax int64
	}{
		{unix.EIO, false, maxCoalesced},
		{unix.EINVAL, true, 999},
		{unix.EMSGSIZE, true, 999},
	} {
		t.Run(fmt.Sprint(tt.err), func(t *testing.T) {
			f := &fakeBatch{err: tt.err}
			c := &Conn{b: f}
			c.maxSeg.Store(maxCoalesced)
			c.writes.New = func() any { return new(writeScratch) }
			c.gso.Store(true)
			var ms []ipv4.Message
			for i := range 5 {
				ms = append(ms, ipv4.Message{Buffers: datagram(i, 1000), Addr: to})
			}
			n, err := c.WriteBatch(ms, 0)
			if n != 5 || err != nil || len(f.sent) != 5 {
				t.Fatalf("sent %d (%d reached the socket), %v", n, len(f.sent), err)
			}
			for i, b := range f.sent {
				if binary.BigEndian.Uint32(b) != uint32(i) || len(b) != 1000 {
					t.Errorf("datagram %d: %x, %d bytes", i, head(b), len(b))
				}
			}
			if c.gso.Load() != tt.wantGSO || c.maxSeg.Load() != tt.wantMax {
				t.Errorf("gso %v max %d, want %v %d", c.gso.Load(), c.maxSeg.Load(), tt.wantGSO, tt.wantMax)
			}
		})
	}
	// Another error is the caller's, at the first datagram of the run.
	f := &fakeBatch{err: unix.ECONNREFUSED}
	c := &Conn{b: f}
	c.maxSeg.Store(maxCoalesced)
	c.writes.New = func() any { return new(writeScratch) }
	c.gso.Store(true)
	ms := []ipv4.Message{
		{Buffers: datagram(0, 10), Addr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 9}},
		{Buffers: datagram(1, 10), Addr: to}, {Buffers: datagram(2, 10), Addr: to},
	}
	if n, err := c.WriteBatch(ms, 0); n != 1 || !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("got %d, %v; want 1, ECONNREFUSED", n, err)
	}
}

// TestGROSize parses control messages as the kernel writes them.
func TestGROSize(t *testing.T) {
	b := make([]byte, 2*cmsgSegmentSpace+16)
	seg := putSegmentSize(b[:cmsgSegmentSpace], 1300)
	if groSize(seg) != 0 {
		t.Error("UDP_SEGMENT read as UDP_GRO")
	}
	// A UDP_GRO message (an int) after another control message.
	var d [4]byte
	binary.NativeEndian.PutUint32(d[:], 1300)
	gro := cmsg.Put(b[len(seg):], unix.IPPROTO_UDP, unix.UDP_GRO, d[:])
	if got := groSize(b[:len(seg)+len(gro)]); got != 1300 {
		t.Errorf("groSize %d, want 1300", got)
	}
	for _, bad := range [][]byte{nil, make([]byte, 3), {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if groSize(bad) != 0 {
			t.Errorf("groSize(%x) != 0", bad)
		}
	}
}

package mmsg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/i3net/i3net/internal/racebuild"
	"github.com/i3net/i3net/internal/testwait"
)

var _ Batch = (*Conn)(nil)

func TestMain(m *testing.M) { testwait.Main(m) }

// listen binds network on ip, port 0, with a large receive buffer.
func listen(t testing.TB, network, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		if network == "udp6" {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadBuffer(4 << 20)
	return c
}

func conn(t testing.TB, c *net.UDPConn) *Conn {
	t.Helper()
	m, ok := New(c).(*Conn)
	if !ok {
		t.Fatalf("New returned %T", New(c))
	}
	return m
}

// datagram is n bytes numbered seq, in two iovecs as the client sends them
// (header, payload).
func datagram(seq, n int) [][]byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seq*7 + i)
	}
	binary.BigEndian.PutUint32(b, uint32(seq))
	return [][]byte{b[:4], b[4:]}
}

// readSlots returns n messages with a buffer of size bytes each.
func readSlots(n, size int) []ipv4.Message {
	ms := make([]ipv4.Message, n)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, size)}
	}
	return ms
}

// readN reads until want datagrams have come (failing after testwait.Timeout)
// and returns copies of them with their sources.
func readN(t testing.TB, c *net.UDPConn, m *Conn, ms []ipv4.Message, want int) ([][]byte, []netip.AddrPort) {
	t.Helper()
	var got [][]byte
	var from []netip.AddrPort
	_ = c.SetReadDeadline(time.Now().Add(testwait.Timeout))
	defer c.SetReadDeadline(time.Time{})
	for len(got) < want {
		n, err := m.ReadBatch(ms, 0)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(got), want, err)
		}
		for i := range n {
			got = append(got, bytes.Clone(ms[i].Buffers[0][:ms[i].N]))
			ua, ok := ms[i].Addr.(*net.UDPAddr)
			if !ok {
				t.Fatalf("Addr %T", ms[i].Addr)
			}
			from = append(from, ua.AddrPort())
		}
	}
	return got, from
}

// TestBatches: batches of datagrams of several sizes, in two iovecs each,
// arrive whole and in order with their source, over IPv4 and IPv6.
func TestBatches(t *testing.T) {
	for _, tt := range []struct{ network, ip string }{{"udp4", "127.0.0.1"}, {"udp6", "::1"}} {
		t.Run(tt.network, func(t *testing.T) {
			txc, rxc := listen(t, tt.network, tt.ip), listen(t, tt.network, tt.ip)
			tx, rx := conn(t, txc), conn(t, rxc)
			to := rxc.LocalAddr().(*net.UDPAddr)
			const count = 40
			var sent [][]byte
			ms := make([]ipv4.Message, 0, count)
			for i := range count {
				d := datagram(i, 4+i*37)
				sent = append(sent, bytes.Join(d, nil))
				ms = append(ms, ipv4.Message{Buffers: d, Addr: to})
			}
			for off := 0; off < count; {
				n, err := tx.WriteBatch(ms[off:], 0)
				if err != nil {
					t.Fatal(err)
				}
				for i := off; i < off+n; i++ {
					if ms[i].N != len(sent[i]) {
						t.Errorf("message %d: N %d, want %d", i, ms[i].N, len(sent[i]))
					}
				}
				off += n
			}
			got, from := readN(t, rxc, rx, readSlots(16, 2048), count)
			want := txc.LocalAddr().(*net.UDPAddr).AddrPort()
			for i := range got {
				if !bytes.Equal(got[i], sent[i]) {
					t.Errorf("datagram %d: %d bytes %x…, want %d bytes %x…", i, len(got[i]), head(got[i]), len(sent[i]), head(sent[i]))
				}
				if from[i] != want {
					t.Errorf("datagram %d from %v, want %v", i, from[i], want)
				}
			}
		})
	}
}

func head(b []byte) []byte { return b[:min(len(b), 8)] }

// TestDualStack: on a dual-stack IPv6 socket, an IPv4 peer's address reads
// IPv4-mapped, and an IPv4 destination is written as sockaddr_in, as x/net
// does.
func TestDualStack(t *testing.T) {
	v6, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6unspecified})
	if err != nil {
		t.Skipf("no dual-stack socket: %v", err)
	}
	t.Cleanup(func() { v6.Close() })
	v4 := listen(t, "udp4", "127.0.0.1")
	m6, m4 := conn(t, v6), conn(t, v4)
	port := v6.LocalAddr().(*net.UDPAddr).Port
	if _, err := m4.WriteBatch([]ipv4.Message{{Buffers: datagram(1, 10), Addr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}}}, 0); err != nil {
		t.Fatal(err)
	}
	_, from := readN(t, v6, m6, readSlots(4, 64), 1)
	want := v4.LocalAddr().(*net.UDPAddr).AddrPort()
	if !from[0].Addr().Is4In6() || netip.AddrPortFrom(from[0].Addr().Unmap(), from[0].Port()) != want {
		t.Errorf("from %v, want %v IPv4-mapped", from[0], want)
	}
	if _, err := m6.WriteBatch([]ipv4.Message{{Buffers: datagram(2, 10), Addr: net.UDPAddrFromAddrPort(want)}}, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := readN(t, v4, m4, readSlots(4, 64), 1); binary.BigEndian.Uint32(got[0]) != 2 {
		t.Errorf("got %x", got[0])
	}
}

// TestTruncated: a datagram larger than its buffer is cut, with MSG_TRUNC in
// Flags; the next one is whole.
func TestTruncated(t *testing.T) {
	txc, rxc := listen(t, "udp4", "127.0.0.1"), listen(t, "udp4", "127.0.0.1")
	tx, rx := conn(t, txc), conn(t, rxc)
	to := rxc.LocalAddr().(*net.UDPAddr)
	if _, err := tx.WriteBatch([]ipv4.Message{{Buffers: datagram(1, 100), Addr: to}}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.WriteBatch([]ipv4.Message{{Buffers: datagram(2, 10), Addr: to}}, 0); err != nil {
		t.Fatal(err)
	}
	ms := readSlots(1, 16)
	for i, want := range []struct{ n, flags int }{{16, unix.MSG_TRUNC}, {10, 0}} {
		readN(t, rxc, rx, ms, 1)
		if ms[0].N != want.n || ms[0].Flags&unix.MSG_TRUNC != want.flags {
			t.Errorf("datagram %d: N %d flags %#x, want %d %#x", i, ms[0].N, ms[0].Flags, want.n, want.flags)
		}
	}
}

// TestPktinfo: the control messages the socket asked for (IP_PKTINFO,
// IPV6_PKTINFO) land in OOB, NN long, as x/net parses them.
func TestPktinfo(t *testing.T) {
	t.Run("udp4", func(t *testing.T) {
		txc, rxc := listen(t, "udp4", "127.0.0.1"), listen(t, "udp4", "0.0.0.0")
		if err := ipv4.NewPacketConn(rxc).SetControlMessage(ipv4.FlagDst, true); err != nil {
			t.Fatal(err)
		}
		to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 3), Port: rxc.LocalAddr().(*net.UDPAddr).Port}
		ms := pktinfoRead(t, txc, rxc, to, len(ipv4.NewControlMessage(ipv4.FlagDst)))
		var cm ipv4.ControlMessage
		if err := cm.Parse(ms[0].OOB[:ms[0].NN]); err != nil || !cm.Dst.Equal(to.IP) {
			t.Errorf("control message %+v (%v), want Dst %v", cm, err, to.IP)
		}
	})
	t.Run("udp6", func(t *testing.T) {
		txc, rxc := listen(t, "udp6", "::1"), listen(t, "udp6", "::")
		if err := ipv6.NewPacketConn(rxc).SetControlMessage(ipv6.FlagDst, true); err != nil {
			t.Fatal(err)
		}
		to := &net.UDPAddr{IP: net.IPv6loopback, Port: rxc.LocalAddr().(*net.UDPAddr).Port}
		ms := pktinfoRead(t, txc, rxc, to, len(ipv6.NewControlMessage(ipv6.FlagDst)))
		var cm ipv6.ControlMessage
		if err := cm.Parse(ms[0].OOB[:ms[0].NN]); err != nil || !cm.Dst.Equal(to.IP) {
			t.Errorf("control message %+v (%v), want Dst %v", cm, err, to.IP)
		}
	})
}

// pktinfoRead sends one datagram from txc to to and reads it on rxc with
// oobLen bytes of control space.
func pktinfoRead(t *testing.T, txc, rxc *net.UDPConn, to *net.UDPAddr, oobLen int) []ipv4.Message {
	t.Helper()
	if _, err := conn(t, txc).WriteBatch([]ipv4.Message{{Buffers: datagram(1, 20), Addr: to}}, 0); err != nil {
		t.Fatal(err)
	}
	ms := readSlots(2, 64)
	for i := range ms {
		ms[i].OOB = make([]byte, oobLen)
	}
	readN(t, rxc, conn(t, rxc), ms, 1)
	if ms[0].NN == 0 {
		t.Fatal("no control message")
	}
	return ms
}

// TestConcurrentWrites: several goroutines write batches at once, as
// udpgso.Conn allows; every datagram arrives whole. Writers keep at most a
// window of datagrams in flight, so that none is lost to a full buffer.
func TestConcurrentWrites(t *testing.T) {
	txc, rxc := listen(t, "udp4", "127.0.0.1"), listen(t, "udp4", "127.0.0.1")
	tx, rx := conn(t, txc), conn(t, rxc)
	to := rxc.LocalAddr().(*net.UDPAddr)
	const writers, batches, batch, window = 4, 50, 8, 256
	tokens := make(chan struct{}, window)
	for range window {
		tokens <- struct{}{}
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			ms := make([]ipv4.Message, batch)
			for b := range batches {
				for i := range ms {
					<-tokens
					ms[i] = ipv4.Message{Buffers: datagram((w*batches+b)*batch+i, 64+w), Addr: to}
				}
				for off := 0; off < batch; {
					n, err := tx.WriteBatch(ms[off:], 0)
					if err != nil {
						errs <- err
						return
					}
					off += n
				}
			}
		})
	}
	seen := make(map[uint32]bool)
	ms := readSlots(16, 2048)
	_ = rxc.SetReadDeadline(time.Now().Add(testwait.Timeout))
	for len(seen) < writers*batches*batch {
		n, err := rx.ReadBatch(ms, 0)
		if err != nil {
			t.Fatalf("%d datagrams of %d: %v", len(seen), writers*batches*batch, err)
		}
		for i := range n {
			b := ms[i].Buffers[0][:ms[i].N]
			seq := binary.BigEndian.Uint32(b)
			if want := bytes.Join(datagram(int(seq), 64+int(seq)/(batches*batch)), nil); !bytes.Equal(b, want) || seen[seq] {
				t.Fatalf("datagram %d: %x… (seen before: %v)", seq, head(b), seen[seq])
			}
			seen[seq] = true
			tokens <- struct{}{}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestErrors: a send the kernel refuses reports 0 and the error (never -1);
// a read past its deadline reports a timeout and one after Close
// net.ErrClosed, as x/net's do.
func TestErrors(t *testing.T) {
	c := listen(t, "udp4", "127.0.0.1")
	m := conn(t, c)
	v6 := &net.UDPAddr{IP: net.IPv6loopback, Port: 9}
	if n, err := m.WriteBatch([]ipv4.Message{{Buffers: datagram(1, 10), Addr: v6}}, 0); n != 0 || err == nil {
		t.Errorf("send to %v on an IPv4 socket: %d, %v; want 0 and an error", v6, n, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(-time.Second))
	var ne net.Error
	if n, err := m.ReadBatch(readSlots(1, 10), 0); n != 0 || !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read past the deadline: %d, %v", n, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	if n, err := m.ReadBatch(readSlots(1, 10), unix.MSG_DONTWAIT); n != 0 || !errors.Is(err, unix.EAGAIN) {
		t.Errorf("MSG_DONTWAIT read of an empty socket: %d, %v; want EAGAIN", n, err)
	}
	c.Close()
	if n, err := m.ReadBatch(readSlots(1, 10), 0); n != 0 || !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %d, %v", n, err)
	}
}

// TestConnected: on a connected socket, a message without Addr goes to the
// peer.
func TestConnected(t *testing.T) {
	rxc := listen(t, "udp4", "127.0.0.1")
	txc, err := net.DialUDP("udp4", nil, rxc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { txc.Close() })
	if _, err := conn(t, txc).WriteBatch([]ipv4.Message{{Buffers: datagram(5, 30)}}, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := readN(t, rxc, conn(t, rxc), readSlots(2, 64), 1); binary.BigEndian.Uint32(got[0]) != 5 {
		t.Errorf("got %x", got[0])
	}
}

// TestZeroAllocs: in steady state, neither a batch write nor a batch read
// allocates, over IPv4 and IPv6.
func TestZeroAllocs(t *testing.T) {
	if racebuild.Enabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	for _, tt := range []struct{ network, ip string }{{"udp4", "127.0.0.1"}, {"udp6", "::1"}} {
		t.Run(tt.network, func(t *testing.T) {
			txc, rxc := listen(t, tt.network, tt.ip), listen(t, tt.network, tt.ip)
			tx, rx := conn(t, txc), conn(t, rxc)
			to := rxc.LocalAddr().(*net.UDPAddr)
			const batch = 8
			ms := make([]ipv4.Message, batch)
			for i := range ms {
				ms[i] = ipv4.Message{Buffers: datagram(i, 100), Addr: to}
			}
			rms := readSlots(batch, 2048)
			var failed error
			allocs := testing.AllocsPerRun(200, func() {
				for off := 0; off < batch && failed == nil; {
					n, err := tx.WriteBatch(ms[off:], 0)
					off, failed = off+n, err
				}
				for got := 0; got < batch && failed == nil; {
					n, err := rx.ReadBatch(rms, 0)
					got, failed = got+n, err
				}
			})
			if failed != nil {
				t.Fatal(failed)
			}
			if allocs != 0 {
				t.Errorf("%.1f allocations per batch written and read", allocs)
			}
		})
	}
}

// TestSourceSet: an address the kernel did not write (namelen 0, short) or of
// another family is no source; a scope id names its zone.
func TestSourceSet(t *testing.T) {
	var s source
	sa := unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: [16]byte{0xfe, 0x80, 15: 1}, Scope_id: 1}
	putPort(&sa.Port, 4000)
	for _, n := range []uint32{0, unix.SizeofSockaddrInet4} {
		if s.set(&sa, n) {
			t.Errorf("sockaddr_in6 of %d bytes taken", n)
		}
	}
	if !s.set(&sa, unix.SizeofSockaddrInet6) || s.ua.Port != 4000 || !s.ua.IP.Equal(net.ParseIP("fe80::1")) || s.ua.Zone == "" {
		t.Errorf("got %v", &s.ua)
	}
	s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa))
	*s4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: [4]byte{192, 0, 2, 1}}
	putPort(&s4.Port, 53)
	if !s.set(&sa, unix.SizeofSockaddrInet4) || s.ua.String() != "192.0.2.1:53" {
		t.Errorf("got %v", &s.ua)
	}
	sa.Family = unix.AF_UNIX
	if s.set(&sa, unix.SizeofSockaddrInet6) {
		t.Error("AF_UNIX taken")
	}
}

// TestRawSends: a batch of up to rawSendMax bytes is sent as a raw system
// call, a larger one as an ordinary one, reads never raw; each arrives whole.
func TestRawSends(t *testing.T) {
	txc, rxc := listen(t, "udp4", "127.0.0.1"), listen(t, "udp4", "127.0.0.1")
	tx, rx := conn(t, txc), conn(t, rxc)
	to := rxc.LocalAddr().(*net.UDPAddr)
	for _, tt := range []struct {
		count, size int
		raw         bool
	}{{1, 100, true}, {11, 1400, true}, {12, 1400, false}, {40, 1400, false}} {
		var sent [][]byte
		ms := make([]ipv4.Message, tt.count)
		for i := range ms {
			d := datagram(i, tt.size)
			sent = append(sent, bytes.Join(d, nil))
			ms[i] = ipv4.Message{Buffers: d, Addr: to}
		}
		h := newHeaders()
		h.pack(ms, true)
		if raw := h.rawCall(unix.SYS_SENDMMSG); raw != tt.raw || h.rawCall(unix.SYS_RECVMMSG) {
			t.Errorf("%d × %d bytes: raw send %v, want %v (raw reads %v)", tt.count, tt.size, raw, tt.raw, h.rawCall(unix.SYS_RECVMMSG))
		}
		for off := 0; off < len(ms); {
			n, err := tx.WriteBatch(ms[off:], 0)
			if err != nil {
				t.Fatal(err)
			}
			off += n
		}
		got, _ := readN(t, rxc, rx, readSlots(16, 2048), tt.count)
		for i := range got {
			if !bytes.Equal(got[i], sent[i]) {
				t.Errorf("%d × %d bytes: datagram %d differs", tt.count, tt.size, i)
			}
		}
	}
}

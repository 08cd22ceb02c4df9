package udpgso

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/i3net/i3net/internal/mmsg"
	"github.com/i3net/i3net/internal/racebuild"
)

// pair binds two loopback sockets and wraps both.
func pair(t *testing.T) (tx, rx *Conn, to *net.UDPAddr, txc, rxc *net.UDPConn) {
	t.Helper()
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetReadBuffer(4 << 20)
		return c
	}
	txc, rxc = listen(), listen()
	// The batch calls the client and the server use (internal/mmsg).
	tx = New(txc, mmsg.New(txc))
	rx = New(rxc, mmsg.New(rxc))
	return tx, rx, rxc.LocalAddr().(*net.UDPAddr), txc, rxc
}

// datagram makes a datagram of n bytes numbered seq, in two iovecs as the
// client sends them (header, payload).
func datagram(seq, n int) [][]byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seq + i)
	}
	binary.BigEndian.PutUint32(b, uint32(seq))
	return [][]byte{b[:8], b[8:]}
}

// TestLoopback sends runs of equal datagrams with a shorter one at the end of
// some, to one address and interleaved with another, and receives every
// datagram whole, in order, through small reads.
func TestLoopback(t *testing.T) {
	tx, rx, to, _, _ := pair(t)
	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var ms []ipv4.Message
	var want [][]byte
	add := func(seq, n int, addr *net.UDPAddr) {
		d := datagram(seq, n)
		ms = append(ms, ipv4.Message{Buffers: d, Addr: addr})
		if addr == to {
			want = append(want, bytes.Join(d, nil))
		}
	}
	seq := 0
	for range 40 {
		add(seq, 1200, to)
		seq++
	}
	add(seq, 500, to) // ends the run
	seq++
	for range 30 {
		add(seq, 800, to)
		seq++
	}
	add(seq, 800, other.LocalAddr().(*net.UDPAddr)) // another address breaks the run
	seq++
	for range 70 { // more than one send's 64 segments
		add(seq, 100, to)
		seq++
	}
	n, err := tx.WriteBatch(ms, 0)
	if err != nil || n != len(ms) {
		t.Fatalf("WriteBatch: %d of %d, %v", n, len(ms), err)
	}
	gso, gro := tx.Offloads()
	t.Logf("offloads: gso %v gro %v; sender %+v", gso, gro, tx.Stats())
	if gso {
		if st := tx.Stats(); st.Coalesced < 100 || st.Sends < 3 {
			t.Errorf("sender stats %+v: runs not coalesced", st)
		}
	}

	got := readAll(t, rx, len(want))
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("datagram %d: %d bytes %x…, want %d bytes %x…", i, len(got[i]), head(got[i]), len(want[i]), head(want[i]))
		}
	}
	if _, gro := rx.Offloads(); gro && gso && rx.Stats().Split == 0 {
		t.Errorf("receiver stats %+v: nothing arrived coalesced", rx.Stats())
	}
	t.Logf("receiver %+v", rx.Stats())
}

func head(b []byte) []byte { return b[:min(len(b), 8)] }

// readAll reads want datagrams in reads of 7, within 5 s.
func readAll(t *testing.T, rx *Conn, want int) [][]byte {
	t.Helper()
	var got [][]byte
	ms := make([]ipv4.Message, 7)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 2048)}
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		k, err := rx.ReadBatch(ms, 0)
		if err != nil {
			t.Fatalf("ReadBatch after %d: %v", len(got), err)
		}
		for _, m := range ms[:k] {
			if m.Flags&unix.MSG_TRUNC != 0 {
				t.Fatalf("datagram %d truncated", len(got))
			}
			got = append(got, bytes.Clone(m.Buffers[0][:m.N]))
		}
	}
	if len(got) != want {
		t.Fatalf("received %d datagrams, want %d", len(got), want)
	}
	return got
}

// TestTruncated: a segment longer than the caller's buffer is cut and flagged,
// and the next one is whole.
func TestTruncated(t *testing.T) {
	tx, rx, to, _, _ := pair(t)
	var ms []ipv4.Message
	for i := range 4 {
		ms = append(ms, ipv4.Message{Buffers: datagram(i, 1000), Addr: to})
	}
	if n, err := tx.WriteBatch(ms, 0); n != 4 || err != nil {
		t.Fatal(n, err)
	}
	small := []ipv4.Message{{Buffers: [][]byte{make([]byte, 600)}}}
	if k, err := rx.ReadBatch(small, 0); k != 1 || err != nil {
		t.Fatal(k, err)
	}
	if small[0].N != 600 || small[0].Flags&unix.MSG_TRUNC == 0 {
		t.Errorf("N %d flags %#x, want 600 and MSG_TRUNC", small[0].N, small[0].Flags)
	}
	rest := readAll(t, rx, 3)
	if binary.BigEndian.Uint32(rest[0]) != 1 || len(rest[0]) != 1000 {
		t.Errorf("next datagram %x, %d bytes", head(rest[0]), len(rest[0]))
	}
}

// fakeBatch records sends and refuses coalesced ones with err.
type fakeBatch struct {
	err   error
	calls int
	sent  [][]byte
	count bool // count datagrams instead of keeping them
	n     int
}

func (f *fakeBatch) ReadBatch([]ipv4.Message, int) (int, error) { return 0, errors.New("no") }

func (f *fakeBatch) WriteBatch(ms []ipv4.Message, _ int) (int, error) {
	f.calls++
	for i, m := range ms {
		if len(m.OOB) > 0 && f.err != nil {
			return i, f.err
		}
		if f.count {
			f.n++
			continue
		}
		f.sent = append(f.sent, bytes.Join(m.Buffers, nil))
	}
	return len(ms), nil
}

// TestRuns checks where runs start and end.
func TestRuns(t *testing.T) {
	a := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	b := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2}
	msg := func(n int, to *net.UDPAddr, oob bool) ipv4.Message {
		m := ipv4.Message{Buffers: [][]byte{make([]byte, n)}, Addr: to}
		if oob {
			m.OOB = make([]byte, 8)
		}
		return m
	}
	many := func(k, n int) []ipv4.Message {
		var ms []ipv4.Message
		for range k {
			ms = append(ms, msg(n, a, false))
		}
		return ms
	}
	for _, tt := range []struct {
		name   string
		ms     []ipv4.Message
		maxSeg int
		want   int
	}{
		{"equal", many(5, 100), maxCoalesced, 5},
		{"longer second", []ipv4.Message{msg(100, a, false), msg(101, a, false)}, maxCoalesced, 1},
		{"shorter ends", []ipv4.Message{msg(100, a, false), msg(50, a, false), msg(100, a, false)}, maxCoalesced, 2},
		{"other address", []ipv4.Message{msg(100, a, false), msg(100, b, false)}, maxCoalesced, 1},
		{"control data", []ipv4.Message{msg(100, a, false), msg(100, a, true)}, maxCoalesced, 1},
		{"first has control data", []ipv4.Message{msg(100, a, true), msg(100, a, false)}, maxCoalesced, 1},
		{"empty", []ipv4.Message{msg(0, a, false), msg(0, a, false)}, maxCoalesced, 1},
		{"segment cap", many(100, 10), maxCoalesced, maxSegments},
		{"byte cap", many(60, 1400), maxCoalesced, maxCoalesced / 1400},
		{"too large a segment", many(3, 1400), 1399, 1},
	} {
		if n, _ := run(tt.ms, tt.maxSeg); n != tt.want {
			t.Errorf("%s: run of %d, want %d", tt.name, n, tt.want)
		}
	}
}

// TestWriteAllocs: a coalesced send allocates nothing in steady state.
func TestWriteAllocs(t *testing.T) {
	f := &fakeBatch{}
	c := &Conn{b: f}
	c.maxSeg.Store(maxCoalesced)
	c.writes.New = func() any { return new(writeScratch) }
	c.gso.Store(true)
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}
	ms := make([]ipv4.Message, 32)
	for i := range ms {
		ms[i] = ipv4.Message{Buffers: datagram(i, 1000), Addr: to}
	}
	if racebuild.Enabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	f.count = true
	c.WriteBatch(ms, 0)
	allocs := testing.AllocsPerRun(100, func() { c.WriteBatch(ms, 0) })
	if allocs > 0 {
		t.Errorf("%.1f allocations per coalesced WriteBatch", allocs)
	}
}

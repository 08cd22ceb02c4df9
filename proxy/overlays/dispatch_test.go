package overlays

import (
	"errors"
	"net/netip"
	"os"
	"testing"

	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/proxytest"
)

func TestMain(m *testing.M) { testwait.Main(m) }

var (
	routeI3  = Route{Pool4: netip.MustParsePrefix("100.64.0.0/12"), Pool6: netip.MustParsePrefix("fd7a:115c:a1e0::/64")}
	routeLab = Route{Pool4: netip.MustParsePrefix("100.96.0.0/12")}
)

// udpTo builds a UDP packet to dst.
func udpTo(t testing.TB, dst string) []byte {
	t.Helper()
	d := netip.MustParseAddr(dst)
	src := netip.MustParseAddr("100.64.0.1")
	if d.Is6() {
		src = netip.MustParseAddr("fd7a:115c:a1e0::1")
	}
	b, err := packet.Build(packet.Header{Src: netip.AddrPortFrom(src, 1000), Dst: netip.AddrPortFrom(d, 53), Proto: packet.ProtoUDP}, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readOne reads one packet from p.
func readOne(t *testing.T, p *Port) []byte {
	t.Helper()
	bufs, sizes := [][]byte{make([]byte, 2000)}, []int{0}
	n, err := p.Read(bufs, sizes, 16)
	if err != nil || n != 1 {
		t.Fatalf("port read: n=%d err=%v", n, err)
	}
	return bufs[0][16 : 16+sizes[0]]
}

func dstOf(t *testing.T, pkt []byte) netip.Addr {
	t.Helper()
	a, ok := destination(pkt)
	if !ok {
		t.Fatalf("no destination in %x", pkt)
	}
	return a
}

func TestDispatchRoutesByPool(t *testing.T) {
	d := NewDispatcher(proxytest.NewTun(), 1360, []Route{routeI3, routeLab}, 8)
	i3, lab := d.Ports()[0], d.Ports()[1]
	cases := []struct {
		dst  string
		port *Port
	}{
		{"100.64.0.53", i3}, {"100.79.255.1", i3}, {"fd7a:115c:a1e0::53", i3},
		{"100.96.0.53", lab}, {"100.100.1.2", lab},
	}
	for _, c := range cases {
		d.dispatch(udpTo(t, c.dst))
		if got := dstOf(t, readOne(t, c.port)); got.String() != c.dst {
			t.Errorf("%s: read %v from its port", c.dst, got)
		}
	}
	for _, dst := range []string{"100.112.0.1", "10.0.0.1", "fd00::1"} {
		d.dispatch(udpTo(t, dst))
	}
	d.dispatch([]byte{0x45, 0})
	st := d.Stats()
	if st.NoRoute != 3 || st.Malformed != 1 {
		t.Errorf("stats %+v: want 3 without a route, 1 malformed", st)
	}
	for i, p := range d.Ports() {
		if len(p.queue) != 0 {
			t.Errorf("port %d holds %d packets routed nowhere", i, len(p.queue))
		}
	}
}

func TestDispatchFullQueueDropsOnlyThatOverlay(t *testing.T) {
	d := NewDispatcher(proxytest.NewTun(), 1360, []Route{routeI3, routeLab}, 4)
	i3, lab := d.Ports()[0], d.Ports()[1]
	for range 10 {
		d.dispatch(udpTo(t, "100.64.0.9"))
	}
	d.dispatch(udpTo(t, "100.96.0.9"))
	if st := d.Stats(); st.QueueFull[0] != 6 || st.QueueFull[1] != 0 {
		t.Errorf("queue-full drops %v: want [6 0]", st.QueueFull)
	}
	if got := dstOf(t, readOne(t, lab)); got != netip.MustParseAddr("100.96.0.9") {
		t.Errorf("lab read %v", got)
	}
	bufs, sizes := make([][]byte, 8), make([]int, 8)
	for i := range bufs {
		bufs[i] = make([]byte, 2000)
	}
	if n, err := i3.Read(bufs, sizes, 0); n != 4 || err != nil {
		t.Errorf("i3 read a batch of %d (%v), want the 4 queued", n, err)
	}
	d.dispatch(udpTo(t, "100.64.0.9")) // the buffers came back
	if got := dstOf(t, readOne(t, i3)); got != netip.MustParseAddr("100.64.0.9") {
		t.Errorf("i3 read %v after draining", got)
	}
}

func TestRunDeliversAndWritesThrough(t *testing.T) {
	dev := proxytest.NewTun()
	d := NewDispatcher(dev, 1360, []Route{routeI3, routeLab}, 8)
	go d.Run()
	dev.Send(udpTo(t, "100.96.0.7"))
	lab := d.Ports()[1]
	pkt := readOne(t, lab)
	out := append(make([]byte, 16), pkt...)
	if n, err := lab.Write([][]byte{out}, 16); n != 1 || err != nil {
		t.Fatalf("write through the port: %d %v", n, err)
	}
	if got := dstOf(t, dev.Next(t)); got != netip.MustParseAddr("100.96.0.7") {
		t.Errorf("device got a packet to %v", got)
	}
	if name, _ := lab.Name(); name != "mem0" {
		t.Errorf("port name %q, want the device's", name)
	}
	dev.Close()
	<-d.done
	if _, err := lab.Read([][]byte{make([]byte, 2000)}, []int{0}, 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("read after the device closed: %v, want os.ErrClosed", err)
	}
}

func TestPortCloseClosesOnlyThePort(t *testing.T) {
	dev := proxytest.NewTun()
	d := NewDispatcher(dev, 1360, []Route{routeI3, routeLab}, 8)
	go d.Run()
	defer dev.Close()
	i3, lab := d.Ports()[0], d.Ports()[1]
	done := make(chan error, 1)
	go func() {
		_, err := i3.Read([][]byte{make([]byte, 2000)}, []int{0}, 0)
		done <- err
	}()
	i3.Close()
	if err := <-done; !errors.Is(err, os.ErrClosed) {
		t.Errorf("a blocked read on a closed port: %v, want os.ErrClosed", err)
	}
	if _, err := i3.Write([][]byte{make([]byte, 40)}, 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write on a closed port: %v", err)
	}
	if dev.IsClosed() {
		t.Fatal("closing a port closed the device")
	}
	dev.Send(udpTo(t, "100.96.0.7"))
	if got := dstOf(t, readOne(t, lab)); got != netip.MustParseAddr("100.96.0.7") {
		t.Errorf("lab read %v after i3's port closed", got)
	}
}

func TestDispatchAllocatesNothing(t *testing.T) {
	d := NewDispatcher(proxytest.NewTun(), 1360, []Route{routeI3, routeLab}, 8)
	pkt := udpTo(t, "100.96.0.7")
	bufs, sizes := [][]byte{make([]byte, 2000)}, []int{0}
	lab := d.Ports()[1]
	if a := testing.AllocsPerRun(100, func() {
		d.dispatch(pkt)
		lab.Read(bufs, sizes, 16)
	}); a != 0 {
		t.Errorf("dispatch and read: %v allocations per packet, want 0", a)
	}
}

// BenchmarkDispatch routes one packet to the second overlay and reads it
// back from its port: the per-packet path.
func BenchmarkDispatch(b *testing.B) {
	d := NewDispatcher(proxytest.NewTun(), 1360, []Route{routeI3, routeLab}, 8)
	pkt := udpTo(b, "100.96.0.7")
	bufs, sizes := [][]byte{make([]byte, 2000)}, []int{0}
	lab := d.Ports()[1]
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		d.dispatch(pkt)
		lab.Read(bufs, sizes, 16)
	}
}

package middlebox

import (
	"errors"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/middlebox/pass"
	"github.com/i3net/i3net/proxy/proxytest"
	"github.com/i3net/i3net/proxy/session"
)

// bareMiddlebox returns a middlebox serving one host, with an IDS batch and
// nothing opened (no client: forward only fills the batches).
func bareMiddlebox(t testing.TB) (*Middlebox, id.ID) {
	t.Helper()
	a := newIdent(t)
	cfg := DefaultConfig()
	cfg.Servers = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:1")}
	cfg.Hosts = []HostConfig{{Name: "a", Key: a.Public()}}
	m, err := newMiddlebox(cfg, Options{Identity: newIdent(t), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	m.fwd.needIDSBufs()
	return m, pass.HostTrigger(m.self, a.Public(), 5)
}

// forwardOne runs forward on a plaintext frame and empties the batches as a
// flush would.
func forwardOne(m *Middlebox, d client.Delivery) {
	m.forward(d)
	m.fwd.msgs = m.fwd.msgs[:0]
	m.fwd.idsOut = m.fwd.idsOut[:0]
}

// The forward path allocates nothing per frame: tag, batch slot, IDS copy,
// flow noted.
func TestForwardAllocs(t *testing.T) {
	m, trig := bareMiddlebox(t)
	frame, _ := plaintextFrame(t, addrA, addrB, 1)
	d := client.Delivery{ID: trig, Rest: []id.ID{id.Random()}, Payload: frame}
	forwardOne(m, d)
	if n := testing.AllocsPerRun(100, func() { forwardOne(m, d) }); n != 0 {
		t.Fatalf("forward allocates %v times per frame", n)
	}
	if m.fwd.lastHost == nil || m.flows.size() != 1 {
		t.Fatal("the flow was not noted")
	}
}

func BenchmarkForward(b *testing.B) {
	m, trig := bareMiddlebox(b)
	frame, _ := plaintextFrame(b, addrA, addrB, 1)
	frame = append(frame[:len(frame)-16], make([]byte, 1300)...) // a full-sized packet's frame
	d := client.Delivery{ID: trig, Rest: []id.ID{id.Random()}, Payload: frame}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		forwardOne(m, d)
	}
}

// failingTun is an IDS device whose writes fail.
type failingTun struct{ *proxytest.Tun }

func (failingTun) Write([][]byte, int) (int, error) { return 0, errors.New("no buffer space") }

// A failed write into the IDS device is counted and forwarding goes on.
func TestIDSWriteFails(t *testing.T) {
	m, trig := bareMiddlebox(t)
	m.ids = failingTun{proxytest.NewTun()}
	frame, _ := plaintextFrame(t, addrA, addrB, 1)
	m.forward(client.Delivery{ID: trig, Rest: []id.ID{id.Random()}, Payload: frame})
	m.writeIDS()
	if m.stats.idsWriteErrors.Load() != 1 || m.stats.toIDS.Load() != 0 || len(m.fwd.msgs) != 1 || len(m.fwd.idsOut) != 0 {
		t.Fatalf("errors %d, to_ids %d, frames queued %d, packets left %d: want 1, 0, 1, 0",
			m.stats.idsWriteErrors.Load(), m.stats.toIDS.Load(), len(m.fwd.msgs), len(m.fwd.idsOut))
	}
}

// The flow table keeps at most its size, forgetting the pair noted first,
// and finds a pair either way round.
func TestFlowTable(t *testing.T) {
	ft := newFlowTable(3)
	h1, h2 := &host{}, &host{}
	addr := func(i byte) netip.Addr { return netip.AddrFrom4([4]byte{100, 64, 0, i}) }
	for i := byte(1); i <= 4; i++ {
		ft.note(addr(0), addr(i), h1)
	}
	ft.note(addr(2), addr(0), h2) // seen again, now another host's: updated in place
	if ft.size() != 3 || ft.lookup(addr(0), addr(1)) != nil || ft.lookup(addr(4), addr(0)) != h1 || ft.lookup(addr(0), addr(2)) != h2 {
		t.Fatalf("size %d; pair 1 %v, pair 4 %v, pair 2 %v", ft.size(), ft.lookup(addr(0), addr(1)), ft.lookup(addr(4), addr(0)), ft.lookup(addr(0), addr(2)))
	}
}

// A plaintext frame whose body is not an IP packet is forwarded but not
// written into the IDS device (the write failed with EINVAL, counted as an
// IDS write error); the hosts' control messages (probes, name queries) are
// not counted as malformed either.
func TestNonPacketsSkipTheIDS(t *testing.T) {
	m, trig := bareMiddlebox(t)
	for _, body := range [][]byte{{0x12, 0, 0, 0, 0}, {0x70, 1, 2, 3, 4}} {
		f := session.Frame{Type: session.TypePlaintext, Counter: 1, Body: body, Tag: make([]byte, 16)}
		m.forward(client.Delivery{ID: trig, Rest: []id.ID{id.Random()}, Payload: f.AppendTo(nil)})
	}
	if len(m.fwd.msgs) != 2 || len(m.fwd.idsOut) != 0 || m.stats.idsMalformed.Load() != 1 {
		t.Fatalf("frames forwarded %d, packets for the IDS %d, malformed %d: want 2, 0, 1",
			len(m.fwd.msgs), len(m.fwd.idsOut), m.stats.idsMalformed.Load())
	}
}

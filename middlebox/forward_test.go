package middlebox

import (
	"log/slog"
	"net/netip"
	"testing"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/middlebox/pass"
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

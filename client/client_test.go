package client

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/server"
	"github.com/i3net/i3net/server/servertest"
	"github.com/i3net/i3net/wire"
)

// The tests run real UDP on 127.0.0.1 against the real server package, one
// server per test, and check that no goroutine of either package outlives the
// test. They wait with bounded retries, never fixed sleeps.

const waitLong = testwait.Timeout // the most any test waits for one thing

// inbox collects what a test client receives.
type inbox struct {
	data   chan Delivery // copies
	events chan Event
}

func newInbox() *inbox {
	return &inbox{data: make(chan Delivery, 1024), events: make(chan Event, 1024)}
}

func (in *inbox) handler(d Delivery) {
	d.Rest = append([]id.ID(nil), d.Rest...)
	d.Payload = bytes.Clone(d.Payload)
	select {
	case in.data <- d:
	default:
	}
}

func (in *inbox) onEvent(e Event) {
	select {
	case in.events <- e:
	default:
	}
}

// next returns the next delivery, failing the test after waitLong.
func (in *inbox) next(t *testing.T, what string) Delivery {
	t.Helper()
	select {
	case d := <-in.data:
		return d
	case <-time.After(waitLong):
		t.Fatalf("%s: nothing delivered within %v", what, waitLong)
		return Delivery{}
	}
}

// nextEvent returns the next event of kind k, skipping others.
func (in *inbox) nextEvent(t *testing.T, k EventKind, what string) Event {
	t.Helper()
	deadline := time.After(waitLong)
	for {
		select {
		case e := <-in.events:
			if e.Kind == k {
				return e
			}
		case <-deadline:
			t.Fatalf("%s: no %v event within %v", what, k, waitLong)
			return Event{}
		}
	}
}

// empty fails if anything was delivered.
func (in *inbox) empty(t *testing.T, what string) {
	t.Helper()
	select {
	case d := <-in.data:
		t.Fatalf("%s: unexpected delivery of %q to %s", what, d.Payload, d.ID.Short())
	default:
	}
}

// recvWire returns the next datagram at c, decoded, and its source; who names
// c for the failure message.
func recvWire(t *testing.T, c *net.UDPConn, who string) (*wire.Packet, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, wire.MaxPacket)
	c.SetReadDeadline(time.Now().Add(waitLong))
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("%s got nothing: %v", who, err)
	}
	var p wire.Packet
	if err := p.Decode(buf[:n]); err != nil {
		t.Fatalf("%s got %x: %v", who, buf[:n], err)
	}
	return &p, from
}

// listenLoopback opens a UDP socket on 127.0.0.1 (an ephemeral port),
// closed at the end of the test if not before.
func listenLoopback(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// addrOf is the address of c.
func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// newClient starts a client of srv with TestConfig, changed by mod, whose
// deliveries and events go to the returned inbox; it is closed at the end of
// the test.
func newClient(t *testing.T, srv netip.AddrPort, mod func(*Config)) (*Client, *inbox) {
	t.Helper()
	in := newInbox()
	cfg := TestConfig()
	cfg.Servers = []netip.AddrPort{srv}
	cfg.Handler = in.handler
	cfg.OnEvent = in.onEvent
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, in
}

func insert(t testing.TB, c *Client, tr Trigger) *Handle {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	h, err := c.Insert(ctx, tr)
	if err != nil {
		t.Fatalf("Insert %s: %v", tr.ID.Short(), err)
	}
	return h
}

// checkLeaks fails the test if goroutines of the client or server packages
// are still running when it ends (after the other cleanups, which run first).
func checkLeaks(t *testing.T) {
	t.Cleanup(func() {
		var stacks string
		buf := make([]byte, 1<<20)
		if !testwait.Poll(testwait.Timeout, func() bool {
			stacks = string(buf[:runtime.Stack(buf, true)])
			return !leaked(stacks)
		}) {
			t.Fatalf("goroutines leaked:\n%s", stacks)
		}
	})
}

func leaked(stacks string) bool {
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "testing.tRunner") {
			continue // a test's own goroutine, maybe this one
		}
		if strings.Contains(g, "i3net/i3net/client.(*") || strings.Contains(g, "i3net/i3net/server.") {
			return true
		}
	}
	return false
}

func payload(s string) []byte { return []byte(s) }

// TestUnicast: insert → ACK → send → delivery, with the delivery's fields and
// the handle's state.
func TestUnicast(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	recv, in := newClient(t, srv.Addr(), nil)
	send, _ := newClient(t, srv.Addr(), nil)

	x := id.Random()
	h := insert(t, recv, Trigger{ID: x})
	st := h.State()
	if st.Acked.IsZero() || st.Server != srv.Addr() || st.Err != nil || st.Lapsed {
		t.Fatalf("state after insert: %+v", st)
	}
	if err := send.SendTo(x, payload("hello")); err != nil {
		t.Fatal(err)
	}
	d := in.next(t, "unicast")
	if d.ID != x || string(d.Payload) != "hello" || len(d.Rest) != 0 || d.From != srv.Addr() {
		t.Fatalf("delivery %+v", d)
	}
	if s := recv.Stats(); s.Acks == 0 || s.Delivered != 1 {
		t.Errorf("receiver stats %+v", s)
	}
}

// TestMulticast: three clients insert the same id; one packet reaches all.
func TestMulticast(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	x := id.Random()
	var ins []*inbox
	for range 3 {
		c, in := newClient(t, srv.Addr(), nil)
		insert(t, c, Trigger{ID: x})
		ins = append(ins, in)
	}
	send, _ := newClient(t, srv.Addr(), nil)
	if err := send.SendTo(x, payload("to all")); err != nil {
		t.Fatal(err)
	}
	for i, in := range ins {
		if d := in.next(t, "member"); d.ID != x || string(d.Payload) != "to all" {
			t.Fatalf("member %d got %+v", i, d)
		}
	}
}

// TestAnycast: two clients whose ids share the 128-bit prefix; a packet goes
// to the trigger with the longest match only.
func TestAnycast(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	group := id.Random()
	a := id.RandomWithPrefix(group, 128)
	b := id.RandomWithPrefix(group, 128)
	a[16] = 0x00 // a and b differ at bit 128 at the latest
	b[16] = 0xff
	ca, ina := newClient(t, srv.Addr(), nil)
	cb, inb := newClient(t, srv.Addr(), nil)
	insert(t, ca, Trigger{ID: a, PrefixLen: 128})
	insert(t, cb, Trigger{ID: b, PrefixLen: 128})
	send, _ := newClient(t, srv.Addr(), nil)

	nearA := id.RandomWithPrefix(a, 200) // shares 200 bits with a, 128 with b
	nearB := id.RandomWithPrefix(b, 140)
	if err := send.SendTo(nearA, payload("for a")); err != nil {
		t.Fatal(err)
	}
	if d := ina.next(t, "near a"); string(d.Payload) != "for a" || d.ID != a {
		t.Fatalf("a got %+v", d)
	}
	if err := send.SendTo(nearB, payload("for b")); err != nil {
		t.Fatal(err)
	}
	// Same server, same sockets, loopback: had b received "for a", it would
	// be queued before "for b".
	if d := inb.next(t, "near b"); string(d.Payload) != "for b" || d.ID != b {
		t.Fatalf("b got %+v, want only \"for b\"", d)
	}
	ina.empty(t, "a after the packet for b")
}

// TestStack: a packet to [idB, idC] goes through client B, whose handler
// forwards the rest of the stack, to client C (service composition, §2.1); and
// a trigger whose target is a stack forwards to it.
func TestStack(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	idB, idC := id.Random(), id.Random()
	var b *Client
	seenAtB := make(chan []id.ID, 1)
	b, _ = newClient(t, srv.Addr(), func(cfg *Config) {
		cfg.Handler = func(d Delivery) {
			select {
			case seenAtB <- append([]id.ID{d.ID}, d.Rest...):
			default:
			}
			if len(d.Rest) > 0 {
				if err := b.Send(d.Rest, d.Payload); err != nil {
					t.Errorf("forward: %v", err)
				}
			}
		}
	})
	c, inc := newClient(t, srv.Addr(), nil)
	insert(t, b, Trigger{ID: idB})
	insert(t, c, Trigger{ID: idC})
	a, _ := newClient(t, srv.Addr(), nil)

	if err := a.Send([]id.ID{idB, idC}, payload("via b")); err != nil {
		t.Fatal(err)
	}
	d := inc.next(t, "stack [b c]")
	if d.ID != idC || string(d.Payload) != "via b" || len(d.Rest) != 0 {
		t.Fatalf("c got %+v", d)
	}
	if got := <-seenAtB; len(got) != 2 || got[0] != idB || got[1] != idC {
		t.Fatalf("b saw stack %v, want [%s %s]", got, idB.Short(), idC.Short())
	}

	// A trigger idT → [idC], inserted by a: the challenge goes to a's SENDER.
	idT := id.Random()
	insert(t, a, Trigger{ID: idT, Target: []id.ID{idC}})
	if err := a.SendTo(idT, payload("via trigger")); err != nil {
		t.Fatal(err)
	}
	if d := inc.next(t, "trigger to a stack"); d.ID != idC || string(d.Payload) != "via trigger" {
		t.Fatalf("c got %+v", d)
	}
}

// TestSendBatch: one SendBatch to several ids, more than a batch, arrives.
func TestSendBatch(t *testing.T) {
	checkLeaks(t)
	srv := servertest.Start(t, nil)
	recv, in := newClient(t, srv.Addr(), nil)
	x, y := id.Random(), id.Random()
	insert(t, recv, Trigger{ID: x})
	insert(t, recv, Trigger{ID: y})
	send, _ := newClient(t, srv.Addr(), nil)
	stackX, stackY := []id.ID{x}, []id.ID{y}
	var ms []Message
	for i := range 20 { // BatchSize is 8 in TestConfig: three sendmmsg
		// Runs of three to one id (which reuse the route and header of the
		// message before), across the sendmmsg boundaries.
		s := stackX
		if i/3%2 == 1 {
			s = stackY
		}
		ms = append(ms, Message{Stack: s, Payload: []byte{byte(i)}})
	}
	n, err := send.SendBatch(ms)
	if n != len(ms) || err != nil {
		t.Fatalf("SendBatch: %d, %v", n, err)
	}
	got := make(map[byte]id.ID)
	for range ms {
		d := in.next(t, "batch")
		got[d.Payload[0]] = d.ID
	}
	for i := range ms {
		if want := ms[i].Stack[0]; got[byte(i)] != want {
			t.Errorf("packet %d arrived at %s, want %s", i, got[byte(i)].Short(), want.Short())
		}
	}
	// A bad message stops the batch there.
	bad := []Message{{Stack: stackX, Payload: []byte{1}}, {Stack: nil}}
	if n, err := send.SendBatch(bad); n != 1 || err == nil || !strings.Contains(err.Error(), "stack of 0 ids") {
		t.Fatalf("SendBatch with an empty stack: %d, %v", n, err)
	}
}

func TestConfigCheck(t *testing.T) {
	srv := netip.MustParseAddrPort("127.0.0.1:5610")
	tests := []struct {
		name string
		mod  func(*Config)
		want string // substring of the error; "" for none
	}{
		{"default", func(*Config) {}, ""},
		{"no servers", func(c *Config) { c.Servers = nil }, "no Servers"},
		{"mixed families", func(c *Config) { c.Servers = append(c.Servers, netip.MustParseAddrPort("[::1]:5610")) }, "different IP families"},
		{"zero port", func(c *Config) { c.Servers = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")} }, "not a server address"},
		{"refresh too slow", func(c *Config) { c.RefreshMax = 29 * time.Second }, "must be less than TriggerTTL"},
		{"refresh reversed", func(c *Config) { c.RefreshMin = 20 * time.Second }, "RefreshMin ≤ RefreshMax"},
		{"batch", func(c *Config) { c.BatchSize = 0 }, "BatchSize 0"},
		{"identity", func(c *Config) { c.Identity = make([]byte, 10) }, "Identity is 10 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Servers = []netip.AddrPort{srv}
			tt.mod(&cfg)
			err := cfg.check()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			case err != nil && !strings.HasPrefix(err.Error(), "client: "):
				t.Fatalf("error %q lacks the client: prefix", err)
			}
		})
	}
}

// TestIPv6: the same over IPv6 loopback: the client binds udp6, states an
// IPv6 SENDER and target, and packets arrive.
func TestIPv6(t *testing.T) {
	checkLeaks(t)
	scfg := server.TestConfig()
	scfg.ListenAddr = "[::1]:0"
	s, err := server.New(scfg)
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	s.Close()
	srv := servertest.Start(t, func(c *server.Config) { c.ListenAddr = scfg.ListenAddr })
	recv, in := newClient(t, srv.Addr(), nil)
	send, _ := newClient(t, srv.Addr(), nil)
	if a := recv.LocalAddr().Addr(); !a.Is6() || !a.IsLoopback() {
		t.Fatalf("LocalAddr %s, want an IPv6 loopback address", recv.LocalAddr())
	}
	x := id.Random()
	insert(t, recv, Trigger{ID: x})
	send.SendTo(x, payload("six"))
	if d := in.next(t, "over IPv6"); string(d.Payload) != "six" || d.From != srv.Addr() {
		t.Fatalf("got %+v", d)
	}
}

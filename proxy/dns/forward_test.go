package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/proxy/dns/dnstest"
)

// upstream is a tiny DNS server on 127.0.0.1, UDP and TCP on one port, that
// answers every A query with 192.0.2.1 (and n records when asked "big.").
type upstream struct {
	addr    netip.AddrPort
	udpHits atomic.Int32
	tcpHits atomic.Int32
}

// startUpstream starts an upstream; rcode != 0 makes it answer with that rcode;
// truncate makes its UDP answers empty with TC set.
func startUpstream(t *testing.T, rcode int, truncate bool) *upstream {
	t.Helper()
	u := &upstream{}
	u.addr = dnstest.Start(t, mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
		tcp := dnstest.IsTCP(w)
		if tcp {
			u.tcpHits.Add(1)
		} else {
			u.udpHits.Add(1)
		}
		m := new(mdns.Msg)
		m.SetReply(req)
		m.RecursionAvailable = true
		m.Rcode = rcode
		if rcode == 0 {
			n := 1
			if req.Question[0].Name == "big." {
				n = 100
			}
			for i := range n {
				rr, _ := mdns.NewRR(fmt.Sprintf("%s 60 IN A 192.0.2.%d", req.Question[0].Name, 1+i))
				m.Answer = append(m.Answer, rr)
			}
		}
		if truncate && !tcp {
			m.Answer = nil
			m.Truncated = true
		}
		w.WriteMsg(m)
	}))
	return u
}

func newTestForwarder(t *testing.T, budget time.Duration, ups ...netip.AddrPort) *Forwarder {
	t.Helper()
	f, err := NewForwarder(ForwarderConfig{Upstreams: ups, Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func answerOf(t *testing.T, b []byte) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("answer does not unpack: %v", err)
	}
	return m
}

func TestForward(t *testing.T) {
	u := startUpstream(t, 0, false)
	f := newTestForwarder(t, time.Second, u.addr)
	resp, err := f.Forward(context.Background(), query(t, "example.org.", mdns.TypeA, false))
	if err != nil {
		t.Fatal(err)
	}
	m := answerOf(t, resp)
	if m.Id != 0xbeef || len(m.Answer) != 1 || m.Answer[0].(*mdns.A).A.String() != "192.0.2.1" {
		t.Fatalf("answer %v", m)
	}
}

// TestForwardStaggers: an upstream that never answers does not hold the query
// for the whole budget: the next one is asked after its share
// (Budget/(n+1)), and its answer wins. Without the stagger the second
// upstream would be asked only when the budget is spent, and Forward would
// fail.
func TestForwardStaggers(t *testing.T) {
	u := startUpstream(t, 0, false)
	const budget = 3 * time.Second
	f := newTestForwarder(t, budget, dnstest.SilentUpstream(t), u.addr)
	start := time.Now()
	resp, err := f.Forward(context.Background(), query(t, "example.org.", mdns.TypeA, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(answerOf(t, resp).Answer) != 1 || u.udpHits.Load() != 1 {
		t.Fatal("the second upstream did not answer")
	}
	if took := time.Since(start); took < budget/3 {
		t.Fatalf("took %v: the second upstream was asked before the first had its share %v", took, budget/3)
	}
}

// TestForwardFailsOverAtOnce: an upstream that refuses (ICMP port
// unreachable) or says SERVFAIL hands over to the next at once, without
// waiting for the stagger.
func TestForwardFailsOverAtOnce(t *testing.T) {
	bad := startUpstream(t, mdns.RcodeServerFailure, false)
	good := startUpstream(t, 0, false)
	f := newTestForwarder(t, time.Minute, closedPort(t), bad.addr, good.addr)
	done := make(chan error, 1)
	go func() {
		_, err := f.Forward(context.Background(), query(t, "example.org.", mdns.TypeA, false))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil || good.udpHits.Load() != 1 || bad.udpHits.Load() != 1 {
			t.Fatalf("Forward: %v; bad asked %d, good %d times", err, bad.udpHits.Load(), good.udpHits.Load())
		}
	case <-time.After(10 * time.Second): // the stagger is 15 s
		t.Fatal("the next upstream waited for the stagger after a failure")
	}
}

// TestForwardBudget: however many upstreams never answer, Forward gives up
// when the budget is spent (bug 5: each had its own 2 s time-out, in turn,
// and the program got no answer at all).
func TestForwardBudget(t *testing.T) {
	const budget = 300 * time.Millisecond
	f := newTestForwarder(t, budget, dnstest.SilentUpstream(t), dnstest.SilentUpstream(t), dnstest.SilentUpstream(t))
	start := time.Now()
	_, err := f.Forward(context.Background(), query(t, "example.org.", mdns.TypeA, false))
	took := time.Since(start)
	if !errors.Is(err, ErrNoUpstream) {
		t.Fatalf("Forward: %v, want ErrNoUpstream", err)
	}
	if took < budget || took > budget+2*time.Second {
		t.Fatalf("gave up after %v, want the budget %v", took, budget)
	}
}

// closedPort is a UDP port on 127.0.0.1 where nothing listens: queries to it
// fail at once (ICMP port unreachable).
func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(pc.LocalAddr().String())
	pc.Close()
	return ap
}

func TestForwardFallsBackOnServfail(t *testing.T) {
	bad := startUpstream(t, mdns.RcodeServerFailure, false)
	good := startUpstream(t, 0, false)
	f := newTestForwarder(t, time.Second, bad.addr, good.addr)
	resp, err := f.Forward(context.Background(), query(t, "example.org.", mdns.TypeA, false))
	if err != nil || answerOf(t, resp).Rcode != 0 {
		t.Fatalf("Forward = %v; want the second upstream's answer", err)
	}
	// Only SERVFAIL anywhere: that answer is returned, not an error.
	f = newTestForwarder(t, time.Second, bad.addr)
	resp, err = f.Forward(context.Background(), query(t, "example.org.", mdns.TypeA, false))
	if err != nil || answerOf(t, resp).Rcode != mdns.RcodeServerFailure {
		t.Fatalf("Forward = %v; want the SERVFAIL answer", err)
	}
}

func TestForwardTruncatedRetriesTCP(t *testing.T) {
	u := startUpstream(t, 0, true)
	f := newTestForwarder(t, time.Second, u.addr)
	resp, err := f.Forward(context.Background(), query(t, "big.", mdns.TypeA, false))
	if err != nil {
		t.Fatal(err)
	}
	m := answerOf(t, resp)
	if m.Truncated || len(m.Answer) != 100 || len(resp) <= 512 {
		t.Fatalf("answer TC=%v with %d records, %d bytes; want the full TCP answer", m.Truncated, len(m.Answer), len(resp))
	}
	if u.udpHits.Load() != 1 || u.tcpHits.Load() != 1 {
		t.Fatalf("UDP %d, TCP %d queries; want one each", u.udpHits.Load(), u.tcpHits.Load())
	}
}

// TestGoPassesTruncatedOn: for a program asking over UDP, an answer the
// upstream truncated goes back as it is (the program asks again over TCP),
// without a TCP exchange with the upstream.
func TestGoPassesTruncatedOn(t *testing.T) {
	u := startUpstream(t, 0, true)
	f := newTestForwarder(t, time.Second, u.addr)
	got := make(chan []byte, 1)
	if !f.Go(context.Background(), query(t, "big.", mdns.TypeA, false), func(_, b []byte, _ error) { got <- b }) {
		t.Fatal("Go refused on an idle forwarder")
	}
	select {
	case b := <-got:
		if m := answerOf(t, b); !m.Truncated {
			t.Fatalf("answer without TC: %v", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("done not called")
	}
	if u.tcpHits.Load() != 0 {
		t.Fatalf("%d TCP exchanges with the upstream, want none", u.tcpHits.Load())
	}
}

func TestForwardAllFail(t *testing.T) {
	f := newTestForwarder(t, 100*time.Millisecond, dnstest.SilentUpstream(t), dnstest.SilentUpstream(t))
	_, err := f.Forward(context.Background(), query(t, "example.org.", mdns.TypeA, false))
	if !errors.Is(err, ErrNoUpstream) {
		t.Fatalf("Forward: %v, want ErrNoUpstream", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Forward(ctx, query(t, "example.org.", mdns.TypeA, false)); err == nil {
		t.Fatal("Forward with a cancelled context succeeded")
	}
}

// TestForwardSkipsStrays: a datagram with another id (a late answer, a spoof)
// is not taken for the answer.
func TestForwardSkipsStrays(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		req := new(mdns.Msg)
		req.Unpack(buf[:n])
		stray := new(mdns.Msg)
		stray.SetReply(req)
		stray.Id++
		b, _ := stray.Pack()
		pc.WriteTo(b, from)
		other := new(mdns.Msg)
		other.SetReply(req)
		other.Question[0].Name = "other.example."
		b, _ = other.Pack()
		pc.WriteTo(b, from)
		real := new(mdns.Msg)
		real.SetReply(req)
		rr, _ := mdns.NewRR("example.org. 60 IN A 192.0.2.9")
		real.Answer = append(real.Answer, rr)
		b, _ = real.Pack()
		pc.WriteTo(b, from)
	}()
	f := newTestForwarder(t, time.Second, netip.MustParseAddrPort(pc.LocalAddr().String()))
	resp, err := f.Forward(context.Background(), query(t, "EXAMPLE.org.", mdns.TypeA, false))
	if err != nil {
		t.Fatal(err)
	}
	if m := answerOf(t, resp); len(m.Answer) != 1 || m.Id != 0xbeef {
		t.Fatalf("took a stray: %v", m)
	}
}

func TestForwarderBoundsInflight(t *testing.T) {
	f, err := NewForwarder(ForwarderConfig{Upstreams: []netip.AddrPort{dnstest.SilentUpstream(t)}, Budget: 300 * time.Millisecond, MaxInflight: 1})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 2)
	q := query(t, "example.org.", mdns.TypeA, false)
	if !f.Go(context.Background(), q, func(_, _ []byte, err error) { done <- err }) {
		t.Fatal("first Go refused")
	}
	q[0] = 0 // Go copied the query
	if f.Go(context.Background(), q, func(_, _ []byte, err error) { done <- err }) {
		t.Fatal("second Go accepted beyond MaxInflight")
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrNoUpstream) {
			t.Fatalf("done(%v), want ErrNoUpstream", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("done not called")
	}
	u := startUpstream(t, 0, false)
	f2 := newTestForwarder(t, time.Second, u.addr)
	got := make(chan []byte, 1)
	if !f2.Go(context.Background(), q, func(_, b []byte, _ error) { got <- b }) {
		t.Fatal("Go refused on an idle forwarder")
	}
	select {
	case b := <-got:
		if m := answerOf(t, b); m.Id != 0x00ef {
			t.Fatalf("answer id %#x, want the copied query's", m.Id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("done not called")
	}
}

func TestNewForwarderRefuses(t *testing.T) {
	for _, cfg := range []ForwarderConfig{
		{},
		{Upstreams: []netip.AddrPort{{}}},
		{Upstreams: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:0")}},
		{Upstreams: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:53")}, Budget: -1},
	} {
		if _, err := NewForwarder(cfg); err == nil {
			t.Errorf("NewForwarder(%+v) accepted", cfg)
		}
	}
}

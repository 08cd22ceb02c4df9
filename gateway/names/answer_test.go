package names

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy/dns"
	"github.com/i3net/i3net/proxy/dns/dnstest"
)

func TestAnswer(t *testing.T) {
	in := startIntranet(t)
	a := newAnswerer(t, testwait.Timeout, 0, in.addr)
	tests := []struct {
		name  string
		qtype uint16
		rcode int
		want  []string
	}{
		{"wiki.corp.example.", mdns.TypeA, mdns.RcodeSuccess,
			[]string{"wiki.corp.example. 300 IN A 10.1.0.10", "wiki.corp.example. 60 IN A 10.1.0.11"}},
		{"Wiki.Corp.Example.", mdns.TypeAAAA, mdns.RcodeSuccess, []string{"Wiki.Corp.Example. 300 IN AAAA fd00::10"}},
		{"corp.example.", mdns.TypeA, mdns.RcodeSuccess,
			[]string{"corp.example. 300 IN A 10.1.0.10", "corp.example. 60 IN A 10.1.0.11"}},
		{"alias.corp.example.", mdns.TypeA, mdns.RcodeSuccess, []string{
			"alias.corp.example. 300 IN CNAME web.corp.example.",
			"web.corp.example. 100 IN CNAME host.corp.example.",
			"host.corp.example. 300 IN A 10.1.0.10",
			"host.corp.example. 60 IN A 10.1.0.11",
		}},
		{"dangling.corp.example.", mdns.TypeA, mdns.RcodeSuccess, []string{"dangling.corp.example. 300 IN CNAME gone.example."}},
		{"empty.corp.example.", mdns.TypeA, mdns.RcodeSuccess, nil},
		{"nx.corp.example.", mdns.TypeA, mdns.RcodeNameError, nil},
		{"outside.corp.example.", mdns.TypeA, mdns.RcodeRefused, nil},
		{"outside.corp.example.", mdns.TypeAAAA, mdns.RcodeRefused, nil},
		{"fail.corp.example.", mdns.TypeA, mdns.RcodeServerFailure, nil},
		{"refused.corp.example.", mdns.TypeA, mdns.RcodeServerFailure, nil},
		{"loop.corp.example.", mdns.TypeA, mdns.RcodeServerFailure, nil},
		{"wiki.other.example.", mdns.TypeA, mdns.RcodeRefused, nil},
		{"corp.example.org.", mdns.TypeA, mdns.RcodeRefused, nil},
		{"wiki.corp.example.", mdns.TypeMX, mdns.RcodeRefused, nil},
		{"wiki.corp.example.", mdns.TypeANY, mdns.RcodeRefused, nil},
		{"wiki.corp.example.", mdns.TypeHTTPS, mdns.RcodeRefused, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s", tt.name, mdns.TypeToString[tt.qtype]), func(t *testing.T) {
			q := clientQuery(t, tt.name, tt.qtype)
			resp := a.Answer(context.Background(), q)
			checkInvariants(t, a, q, resp)
			m := answer(t, a, q)
			if m.Rcode != tt.rcode || m.Id != 0xbeef || !m.RecursionDesired || !m.RecursionAvailable || m.Truncated {
				t.Errorf("header %+v, want rcode %s", m.MsgHdr, mdns.RcodeToString[tt.rcode])
			}
			if len(m.Question) != 1 || m.Question[0] != (mdns.Question{Name: tt.name, Qtype: tt.qtype, Qclass: mdns.ClassINET}) {
				t.Errorf("question %v, want the client's", m.Question)
			}
			if got := records(m); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("answer\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	s := a.Stats()
	checkStats(t, s)
	want := Stats{Queries: 34, Answered: 12, NXDomain: 2, ServFail: 6, RefusedName: 4, RefusedAddr: 4, RefusedType: 6}
	if s != want {
		t.Errorf("stats %+v, want %+v", s, want)
	}
}

func TestAnswerAsksIntranetOnlyForServedNames(t *testing.T) {
	in := startIntranet(t)
	a := newAnswerer(t, testwait.Timeout, 0, in.addr)
	answer(t, a, clientQuery(t, "wiki.other.example.", mdns.TypeA))
	answer(t, a, clientQuery(t, "wiki.corp.example.", mdns.TypeMX))
	answer(t, a, clientQuery(t, "wiki.corp.example.", mdns.TypeA))
	seen := in.queries()
	if len(seen) != 1 {
		t.Fatalf("the intranet saw %d queries, want only the served one", len(seen))
	}
	// The upstream query is the gateway's: its own id, RD, no CD, no cookie.
	up := seen[0]
	opt := up.IsEdns0()
	if !up.RecursionDesired || up.CheckingDisabled || up.Response || opt == nil || len(opt.Option) != 0 || opt.Do() ||
		len(up.Question) != 1 || up.Question[0].Name != "wiki.corp.example." {
		t.Fatalf("the intranet got %v", up)
	}
}

func TestAnswerMalformed(t *testing.T) {
	in := startIntranet(t)
	a := newAnswerer(t, testwait.Timeout, 0, in.addr)
	good := clientQuery(t, "wiki.corp.example.", mdns.TypeA)
	response := append([]byte(nil), good...)
	response[2] |= 0x80
	two := new(mdns.Msg)
	two.Id = 7
	two.Question = []mdns.Question{{Name: "a.corp.example.", Qtype: 1, Qclass: 1}, {Name: "b.corp.example.", Qtype: 1, Qclass: 1}}
	twoQ, _ := two.Pack()
	none := new(mdns.Msg)
	none.Id = 8
	noneQ, _ := none.Pack()
	status := new(mdns.Msg)
	status.SetQuestion("wiki.corp.example.", mdns.TypeA)
	status.Opcode = mdns.OpcodeStatus
	statusQ, _ := status.Pack()
	chaos := new(mdns.Msg)
	chaos.SetQuestion("wiki.corp.example.", mdns.TypeA)
	chaos.Question[0].Qclass = mdns.ClassCHAOS
	chaosQ, _ := chaos.Pack()
	tests := []struct {
		name  string
		query []byte
		rcode int // -1: no answer
		qs    int // questions in the answer
	}{
		{"empty", nil, -1, 0},
		{"short", good[:11], -1, 0},
		{"a response", response, -1, 0},
		{"cut question", good[:20], mdns.RcodeFormatError, 0},
		{"garbage after header", append(append([]byte(nil), good[:12]...), 0xff, 0xff, 0xff), mdns.RcodeFormatError, 0},
		{"two questions", twoQ, mdns.RcodeFormatError, 0},
		{"no question", noneQ, mdns.RcodeFormatError, 0},
		{"opcode STATUS", statusQ, mdns.RcodeNotImplemented, 1},
		{"class CHAOS", chaosQ, mdns.RcodeRefused, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := a.Answer(context.Background(), tt.query)
			checkInvariants(t, a, tt.query, resp)
			if tt.rcode < 0 {
				if resp != nil {
					t.Fatalf("answer %x, want none", resp)
				}
				return
			}
			var m mdns.Msg
			if err := m.Unpack(resp); err != nil {
				t.Fatal(err)
			}
			if m.Rcode != tt.rcode || len(m.Question) != tt.qs {
				t.Fatalf("answer %v, want rcode %s", &m, mdns.RcodeToString[tt.rcode])
			}
		})
	}
	checkStats(t, a.Stats())
	if s := a.Stats(); s.Malformed != 7 || s.RefusedType != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestAnswerWithinMaxAnswer(t *testing.T) {
	in := startIntranet(t)
	for _, max := range []int{512, 1200, 4096} {
		a := newAnswerer(t, testwait.Timeout, max, in.addr)
		for _, qtype := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
			q := clientQuery(t, "many.corp.example.", qtype)
			resp := a.Answer(context.Background(), q)
			checkInvariants(t, a, q, resp)
			m := answer(t, a, q)
			per := aRecordLen
			if qtype == mdns.TypeAAAA {
				per = aaaaRecordLen
			}
			if m.Rcode != mdns.RcodeSuccess || len(resp) > max || len(resp)+per <= max && len(m.Answer) < 250 || len(m.Answer) == 0 {
				t.Errorf("max %d, %s: %d bytes, %d records, rcode %d", max, mdns.TypeToString[qtype], len(resp), len(m.Answer), m.Rcode)
			}
		}
	}
}

func TestAnswerUpstreamFailure(t *testing.T) {
	a := newAnswerer(t, 100*time.Millisecond, 0, dnstest.SilentUpstream(t))
	m := answer(t, a, clientQuery(t, "wiki.corp.example.", mdns.TypeA))
	if m.Rcode != mdns.RcodeServerFailure || m.Id != 0xbeef {
		t.Fatalf("answer %v, want SERVFAIL", m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := a.Answer(ctx, clientQuery(t, "wiki.corp.example.", mdns.TypeA))
	if err := m.Unpack(b); err != nil || m.Rcode != mdns.RcodeServerFailure {
		t.Fatalf("answer under a cancelled context: %v, %v", m, err)
	}
	if s := a.Stats(); s.ServFail != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// TestAnswerDoesNotBlockOthers: while the intranet holds the answer for one
// name, another name is answered; then the first is too.
func TestAnswerDoesNotBlockOthers(t *testing.T) {
	in := startIntranet(t)
	in.slow.Store(true)
	a := newAnswerer(t, testwait.Timeout, 0, in.addr)
	slow := make(chan []byte, 1)
	slowQuery := clientQuery(t, "slow.corp.example.", mdns.TypeA)
	go func() { slow <- a.Answer(context.Background(), slowQuery) }()
	select {
	case <-in.slowArrived:
	case <-time.After(testwait.Timeout):
		t.Fatal("the slow query never reached the intranet")
	}
	fast := answer(t, a, clientQuery(t, "wiki.corp.example.", mdns.TypeA))
	if fast.Rcode != mdns.RcodeSuccess || len(fast.Answer) != 2 {
		t.Fatalf("fast answer %v", fast)
	}
	select {
	case b := <-slow:
		t.Fatalf("the slow answer came before the intranet released it: %x", b)
	default:
	}
	in.release <- struct{}{}
	select {
	case b := <-slow:
		var m mdns.Msg
		if err := m.Unpack(b); err != nil || m.Rcode != mdns.RcodeSuccess || len(m.Answer) != 2 {
			t.Fatalf("slow answer %v, %v", &m, err)
		}
	case <-time.After(testwait.Timeout):
		t.Fatal("no slow answer")
	}
}

func TestNewRefuses(t *testing.T) {
	fwd, err := dns.NewForwarder(dns.ForwarderConfig{Upstreams: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:53")}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no forwarder", Config{}, "no Forwarder"},
		{"small MaxAnswer", Config{Forwarder: fwd, MaxAnswer: 100}, "MaxAnswer"},
		{"big MaxAnswer", Config{Forwarder: fwd, MaxAnswer: 70000}, "MaxAnswer"},
		{"bad prefix", Config{Forwarder: fwd, Serve: []netip.Prefix{{}}}, "not valid"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	a, err := New(Config{Forwarder: fwd, Serve: []netip.Prefix{netip.MustParsePrefix("10.1.0.7/24")}})
	if err != nil || a.maxAnswer != DefaultMaxAnswer || a.serve[0] != netip.MustParsePrefix("10.1.0.0/24") {
		t.Fatalf("defaults: %+v, %v", a, err)
	}
}

// TestPackWithinKeepsAsManyAsFit: whether or not the owner names compress,
// the answer holds as many addresses as fit in MaxAnswer, and a CNAME chain
// that leaves no room for one address is a failure.
func TestPackWithinKeepsAsManyAsFit(t *testing.T) {
	a := &Answerer{maxAnswer: 600}
	for _, owner := range []string{"many.corp.example.", "a-long-name-that-compresses-only-in-part.many.corp.example."} {
		q := &mdns.Msg{}
		q.SetQuestion("many.corp.example.", mdns.TypeA)
		m := reply(q, mdns.RcodeSuccess)
		var all []mdns.RR
		for i := range 100 {
			rr, _ := mdns.NewRR(fmt.Sprintf("%s 60 IN A 10.1.0.%d", owner, i))
			all = append(all, rr)
		}
		m.Answer = all
		b, ok := a.packWithin(m, 0)
		if !ok || len(b) > a.maxAnswer {
			t.Fatalf("%s: %d bytes, %v", owner, len(b), ok)
		}
		var got mdns.Msg
		if err := got.Unpack(b); err != nil {
			t.Fatal(err)
		}
		n := len(got.Answer)
		m.Answer = all[:n+1]
		if more, _ := m.Pack(); len(more) <= a.maxAnswer {
			t.Fatalf("%s: %d addresses in %d bytes, but %d fit in %d", owner, n, len(b), n+1, len(more))
		}
	}
	q := &mdns.Msg{}
	q.SetQuestion("c0.example.", mdns.TypeA)
	m := reply(q, mdns.RcodeSuccess)
	for i := range 16 {
		rr, _ := mdns.NewRR(fmt.Sprintf("c%d.example. 60 IN CNAME %s.c%d.example.", i, strings.Repeat("x", 60), i+1))
		m.Answer = append(m.Answer, rr)
	}
	rr, _ := mdns.NewRR("c16.example. 60 IN A 10.1.0.1")
	m.Answer = append(m.Answer, rr)
	if b, ok := a.packWithin(m, 16); ok {
		t.Fatalf("a chain over MaxAnswer packed into %d bytes", len(b))
	}
}

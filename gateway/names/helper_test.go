package names

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/internal/testwait"
	"github.com/i3net/i3net/proxy/dns"
	"github.com/i3net/i3net/proxy/dns/dnstest"
	"github.com/i3net/i3net/proxy/rules"
)

func TestMain(m *testing.M) { testwait.Main(m) }

// served is what the test gateway serves.
var (
	servedNames = []string{"*.corp.example", "corp.example"}
	servedNets  = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("fd00::/64")}
)

// intranet is the intranet's resolver of the tests: it answers by the first
// label of the name (see answerFor); when slow is set, it holds answers for
// "slow" until the test releases them.
type intranet struct {
	addr        netip.AddrPort
	slow        atomic.Bool
	mu          sync.Mutex
	seen        []*mdns.Msg // the queries it received
	slowArrived chan struct{}
	release     chan struct{}
}

// startIntranet starts an intranet resolver on 127.0.0.1.
func startIntranet(t testing.TB) *intranet {
	t.Helper()
	in := &intranet{slowArrived: make(chan struct{}, 16), release: make(chan struct{})}
	in.addr = dnstest.Start(t, mdns.HandlerFunc(in.serve))
	t.Cleanup(func() { close(in.release) }) // runs before the server's shutdown, which waits for handlers
	return in
}

func (in *intranet) serve(w mdns.ResponseWriter, req *mdns.Msg) {
	in.mu.Lock()
	in.seen = append(in.seen, req.Copy())
	in.mu.Unlock()
	m := new(mdns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	if len(req.Question) == 1 {
		q := req.Question[0]
		if in.slow.Load() && firstLabel(q.Name) == "slow" {
			select {
			case in.slowArrived <- struct{}{}:
			default:
			}
			<-in.release
		}
		answerFor(m, q)
	}
	w.WriteMsg(m)
}

// queries returns the queries the resolver received so far.
func (in *intranet) queries() []*mdns.Msg {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]*mdns.Msg(nil), in.seen...)
}

func firstLabel(name string) string {
	label, _, _ := strings.Cut(strings.ToLower(name), ".")
	return label
}

// answerFor fills m, the answer to q, by q's first label.
func answerFor(m *mdns.Msg, q mdns.Question) {
	name := q.Name
	add := func(section *[]mdns.RR, format string, args ...any) {
		rr, err := mdns.NewRR(fmt.Sprintf(format, args...))
		if err == nil {
			*section = append(*section, rr)
		}
	}
	addrs := func(owner string) {
		add(&m.Answer, "%s 300 IN A 10.1.0.10", owner)
		add(&m.Answer, "%s 300 IN A 203.0.113.5", owner)
		add(&m.Answer, "%s 60 IN A 10.1.0.11", owner)
		add(&m.Answer, "%s 300 IN AAAA fd00::10", owner)
		add(&m.Answer, "%s 300 IN AAAA 2001:db8::10", owner)
		add(&m.Answer, "%s 300 IN AAAA ::ffff:10.1.0.10", owner)
	}
	switch firstLabel(name) {
	case "nx":
		m.Rcode = mdns.RcodeNameError
		add(&m.Ns, "corp.example. 60 IN SOA ns.corp.example. admin.corp.example. 1 2 3 4 5")
	case "fail":
		m.Rcode = mdns.RcodeServerFailure
	case "refused":
		m.Rcode = mdns.RcodeRefused
	case "empty":
		add(&m.Ns, "corp.example. 60 IN SOA ns.corp.example. admin.corp.example. 1 2 3 4 5")
	case "outside":
		add(&m.Answer, "%s 300 IN A 203.0.113.9", name)
		add(&m.Answer, "%s 300 IN AAAA 2001:db8::9", name)
	case "alias":
		add(&m.Answer, "%s 300 IN CNAME web.corp.example.", name)
		add(&m.Answer, "other.example. 300 IN A 10.1.0.99")
		add(&m.Answer, "web.corp.example. 100 IN CNAME host.corp.example.")
		addrs("host.corp.example.")
		add(&m.Ns, "corp.example. 300 IN NS ns.corp.example.")
		add(&m.Extra, "ns.corp.example. 300 IN A 10.1.0.53")
	case "dangling":
		add(&m.Answer, "%s 300 IN CNAME gone.example.", name)
	case "loop":
		add(&m.Answer, "%s 300 IN CNAME loop2.corp.example.", name)
		add(&m.Answer, "loop2.corp.example. 300 IN CNAME %s", name)
	case "many":
		for i := range 250 {
			add(&m.Answer, "%s 300 IN A 10.1.0.%d", name, i)
			add(&m.Answer, "%s 300 IN AAAA fd00::%x", name, i)
		}
	default:
		addrs(name)
	}
}

// newAnswerer returns an Answerer of the test gateway over upstreams, with
// forwarding budget budget.
func newAnswerer(t testing.TB, budget time.Duration, maxAnswer int, upstreams ...netip.AddrPort) *Answerer {
	t.Helper()
	fwd, err := dns.NewForwarder(dns.ForwarderConfig{Upstreams: upstreams, Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	var ps []rules.Pattern
	for _, s := range servedNames {
		p, err := rules.ParsePattern(s)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	a, err := New(Config{Names: ps, Serve: servedNets, Forwarder: fwd, MaxAnswer: maxAnswer})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// clientQuery packs a query as a client's proxy passes on a program's, with
// id 0xbeef, RD, CD, and EDNS0 with a cookie the intranet must not see.
func clientQuery(t testing.TB, name string, qtype uint16) []byte {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 0xbeef
	m.CheckingDisabled = true
	m.SetEdns0(4096, true)
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "0102030405060708"})
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// answer asks a and unpacks its answer.
func answer(t testing.TB, a *Answerer, query []byte) *mdns.Msg {
	t.Helper()
	b := a.Answer(context.Background(), query)
	if b == nil {
		t.Fatalf("no answer to %x", query)
	}
	m := new(mdns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("answer does not unpack: %v", err)
	}
	return m
}

// records returns m's answer section in zone-file form, tabs as spaces.
func records(m *mdns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out
}

// checkInvariants fails t unless resp, an answer of a to query, is what
// Answer may give: nil only for a short query or a response; else an answer
// with the query's id, at most MaxAnswer bytes, and in a NOERROR answer only
// served addresses of the question's type and CNAME records on the chain, and
// nothing in the other sections.
func checkInvariants(t *testing.T, a *Answerer, query, resp []byte) {
	t.Helper()
	if resp == nil {
		if len(query) >= headerLen && query[2]&0x80 == 0 {
			t.Fatalf("no answer to %x", query)
		}
		return
	}
	var m mdns.Msg
	if err := m.Unpack(resp); err != nil {
		t.Fatalf("answer %x does not unpack: %v", resp, err)
	}
	if !m.Response || m.Id != uint16(query[0])<<8|uint16(query[1]) || len(resp) > a.maxAnswer {
		t.Fatalf("answer header %+v, %d bytes, for query %x", m.MsgHdr, len(resp), query)
	}
	if len(m.Ns) != 0 || len(m.Extra) != 0 || m.Rcode != mdns.RcodeSuccess && len(m.Answer) != 0 {
		t.Fatalf("answer %v holds more than it may", &m)
	}
	if m.Rcode != mdns.RcodeSuccess {
		return
	}
	names := []string{m.Question[0].Name}
	for _, rr := range m.Answer {
		if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, rr.Header().Name) }) {
			t.Fatalf("record %v not on the chain %v", rr, names)
		}
		if c, ok := rr.(*mdns.CNAME); ok {
			names = append(names, c.Target)
			continue
		}
		addr, ok := dns.RecordAddr(rr)
		if !ok || rr.Header().Rrtype != m.Question[0].Qtype || !a.serves(addr) {
			t.Fatalf("record %v in an answer to %v", rr, m.Question[0])
		}
	}
}

// checkStats fails t unless the outcomes add up to the queries.
func checkStats(t *testing.T, s Stats) {
	t.Helper()
	if sum := s.Answered + s.NXDomain + s.ServFail + s.RefusedName + s.RefusedAddr + s.RefusedType + s.Malformed; sum != s.Queries {
		t.Fatalf("stats %+v: outcomes add up to %d", s, sum)
	}
}

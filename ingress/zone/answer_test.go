package zone

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

var client = netip.MustParseAddr("192.0.2.99")

// rrs parses zone-file lines and prints them back, for comparison.
func rrs(t *testing.T, lines ...string) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatalf("test record %q: %v", l, err)
		}
		out = append(out, rr.String())
	}
	return out
}

func strs(list []dns.RR) []string {
	var out []string
	for _, rr := range list {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr.String())
		}
	}
	return out
}

type answerCase struct {
	qname  string
	qtype  uint16
	rcode  int
	answer []string // zone-file lines
	extra  []string
	soa    bool // the SOA in the authority section (negative answer)
}

func checkAnswer(t *testing.T, z *Zone, c answerCase) {
	t.Helper()
	what := c.qname + " " + dns.TypeToString[c.qtype]
	resp := z.Answer(query(c.qname, c.qtype, false), client)
	if resp == nil {
		t.Fatalf("%s: dropped", what)
	}
	if resp.Rcode != c.rcode || !resp.Response || resp.RecursionAvailable {
		t.Errorf("%s: rcode %s, want %s (QR %v RA %v)", what, dns.RcodeToString[resp.Rcode], dns.RcodeToString[c.rcode], resp.Response, resp.RecursionAvailable)
	}
	if wantAA := c.rcode != dns.RcodeRefused; resp.Authoritative != wantAA {
		t.Errorf("%s: AA %v, want %v", what, resp.Authoritative, wantAA)
	}
	if len(resp.Question) != 1 || resp.Question[0].Name != c.qname || resp.Question[0].Qtype != c.qtype {
		t.Errorf("%s: question not echoed as asked: %v", what, resp.Question)
	}
	if got, want := strs(resp.Answer), rrs(t, c.answer...); !slices.Equal(got, want) {
		t.Errorf("%s: answer\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := strs(resp.Extra), rrs(t, c.extra...); !slices.Equal(got, want) {
		t.Errorf("%s: additional\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	checkAuthority(t, what, resp, c.soa)
}

func checkAuthority(t *testing.T, what string, resp *dns.Msg, wantSOA bool) {
	t.Helper()
	if !wantSOA {
		if len(resp.Ns) != 0 {
			t.Errorf("%s: authority %v, want none", what, resp.Ns)
		}
		return
	}
	soa, ok := onlyRR(resp.Ns).(*dns.SOA)
	if !ok || soa.Hdr.Name != origin || soa.Hdr.Ttl != DefaultNegativeTTL || soa.Minttl != DefaultNegativeTTL ||
		soa.Ns != "ns1."+origin || soa.Mbox != "hostmaster."+origin {
		t.Errorf("%s: authority %v, want the SOA with TTL %d", what, resp.Ns, DefaultNegativeTTL)
	}
}

func onlyRR(list []dns.RR) dns.RR {
	if len(list) != 1 {
		return nil
	}
	return list[0]
}

func TestAnswerApex(t *testing.T) {
	z := newZone(t, testConfig(existenceBook{newBook()}))
	serial := z.soa.Serial
	soa := func(owner string) string {
		return owner + " 3600 IN SOA ns1.i3.example.net. hostmaster.i3.example.net. " +
			itoa(serial) + " 3600 600 604800 5"
	}
	for _, c := range []answerCase{
		{qname: "i3.example.net.", qtype: dns.TypeSOA, answer: []string{soa("i3.example.net.")}},
		{qname: "I3.eXample.net.", qtype: dns.TypeSOA, answer: []string{soa("I3.eXample.net.")}},
		{qname: "i3.example.net.", qtype: dns.TypeANY, answer: []string{soa("i3.example.net.")}},
		{qname: "i3.example.net.", qtype: dns.TypeNS, answer: []string{
			"i3.example.net. 3600 IN NS ns1.i3.example.net.",
			"i3.example.net. 3600 IN NS ns2.dns.i3.example.net.",
			"i3.example.net. 3600 IN NS ns.other.example.",
		}, extra: []string{
			"ns1.i3.example.net. 3600 IN A 127.0.0.53",
			"ns1.i3.example.net. 3600 IN AAAA 2001:db8::53",
			"ns2.dns.i3.example.net. 3600 IN A 127.0.0.54",
		}},
		{qname: "i3.example.net.", qtype: dns.TypeA, soa: true},
		{qname: "i3.example.net.", qtype: dns.TypeMX, soa: true},
		{qname: "i3.example.net.", qtype: dns.TypeDS, soa: true},
	} {
		checkAnswer(t, z, c)
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

func TestAnswerNameservers(t *testing.T) {
	z := newZone(t, testConfig(existenceBook{newBook()}))
	for _, c := range []answerCase{
		{qname: "ns1.i3.example.net.", qtype: dns.TypeA, answer: []string{"ns1.i3.example.net. 3600 IN A 127.0.0.53"}},
		{qname: "NS1.i3.example.net.", qtype: dns.TypeAAAA, answer: []string{"NS1.i3.example.net. 3600 IN AAAA 2001:db8::53"}},
		{qname: "ns2.dns.i3.example.net.", qtype: dns.TypeAAAA, soa: true},
		{qname: "ns2.dns.i3.example.net.", qtype: dns.TypeTXT, soa: true},
		{qname: "dns.i3.example.net.", qtype: dns.TypeA, soa: true}, // empty non-terminal
		{qname: "ns3.i3.example.net.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
	} {
		checkAnswer(t, z, c)
	}
}

func TestAnswerPublished(t *testing.T) {
	z := newZone(t, testConfig(existenceBook{newBook()}))
	for _, c := range []answerCase{
		{qname: "home.i3.example.net.", qtype: dns.TypeA, answer: []string{"home.i3.example.net. 0 IN A 198.51.100.10"}},
		{qname: "HoMe.I3.example.net.", qtype: dns.TypeA, answer: []string{"HoMe.I3.example.net. 0 IN A 198.51.100.10"}},
		{qname: "home.i3.example.net.", qtype: dns.TypeAAAA, answer: []string{"home.i3.example.net. 0 IN AAAA 2001:db8::10"}},
		{qname: "www.home.i3.example.net.", qtype: dns.TypeA, answer: []string{"www.home.i3.example.net. 0 IN A 198.51.100.11"}},
		{qname: "www.home.i3.example.net.", qtype: dns.TypeAAAA, soa: true}, // published, no IPv6
		{qname: "v6only.i3.example.net.", qtype: dns.TypeA, soa: true},
		{qname: "home.i3.example.net.", qtype: dns.TypeMX, soa: true},
		{qname: "home.i3.example.net.", qtype: dns.TypeANY, answer: []string{`home.i3.example.net. 3600 IN HINFO "RFC8482" ""`}},
		{qname: "nope.i3.example.net.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{qname: "nope.i3.example.net.", qtype: dns.TypeTXT, rcode: dns.RcodeNameError, soa: true},
		{qname: "nope.i3.example.net.", qtype: dns.TypeANY, rcode: dns.RcodeNameError, soa: true},
		{qname: "x.home.i3.example.net.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
		{qname: `we\.ird.i3.example.net.`, qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true},
	} {
		checkAnswer(t, z, c)
	}
}

func TestAnswerRefused(t *testing.T) {
	z := newZone(t, testConfig(existenceBook{newBook()}))
	for _, c := range []answerCase{
		{qname: "example.net.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{qname: "xi3.example.net.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{qname: `home\.i3.example.net.`, qtype: dns.TypeA, rcode: dns.RcodeRefused}, // one label "home.i3"
		{qname: ".", qtype: dns.TypeNS, rcode: dns.RcodeRefused},
		{qname: "www.google.com.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{qname: "i3.example.net.", qtype: dns.TypeAXFR, rcode: dns.RcodeRefused},
		{qname: "i3.example.net.", qtype: dns.TypeIXFR, rcode: dns.RcodeRefused},
	} {
		checkAnswer(t, z, c)
	}
	chaos := query("version.bind.", dns.TypeTXT, false)
	chaos.Question[0].Qclass = dns.ClassCHAOS
	if resp := z.Answer(chaos, client); resp.Rcode != dns.RcodeRefused {
		t.Fatalf("CHAOS TXT: %s, want REFUSED", dns.RcodeToString[resp.Rcode])
	}
}

// Without Existence, an empty non-terminal of Names is NXDOMAIN, and other
// types ask Resolve.
func TestAnswerWithoutExistence(t *testing.T) {
	b := newBook()
	z := newZone(t, testConfig(b))
	checkAnswer(t, z, answerCase{qname: "home.i3.example.net.", qtype: dns.TypeTXT, soa: true})
	if calls := b.Resolves(); !slices.Equal(calls, []string{"home"}) {
		t.Fatalf("Resolve calls %v, want [home]", calls)
	}
	withEx := newZone(t, testConfig(existenceBook{b}))
	checkAnswer(t, withEx, answerCase{qname: "home.i3.example.net.", qtype: dns.TypeTXT, soa: true})
	checkAnswer(t, withEx, answerCase{qname: "nope.i3.example.net.", qtype: dns.TypeMX, rcode: dns.RcodeNameError, soa: true})
	if calls := b.Resolves(); len(calls) != 1 {
		t.Fatalf("with Existence, TXT and MX queries called Resolve: %v", calls)
	}
	b.v4["a.b"] = netip.MustParseAddr("198.51.100.12")
	checkAnswer(t, z, answerCase{qname: "b.i3.example.net.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true})
	checkAnswer(t, withEx, answerCase{qname: "b.i3.example.net.", qtype: dns.TypeA, soa: true})
	noNames := newZone(t, testConfig(nil))
	checkAnswer(t, noNames, answerCase{qname: "home.i3.example.net.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: true})
}

func TestAnswerForm(t *testing.T) {
	z := newZone(t, testConfig(newBook()))
	two := query("home.i3.example.net.", dns.TypeA, false)
	two.Question = append(two.Question, two.Question[0])
	none := query("home.i3.example.net.", dns.TypeA, false)
	none.Question = nil
	notify := query("i3.example.net.", dns.TypeSOA, false)
	notify.Opcode = dns.OpcodeNotify
	update := query("i3.example.net.", dns.TypeSOA, false)
	update.Opcode = dns.OpcodeUpdate
	badVers := query("home.i3.example.net.", dns.TypeA, true)
	badVers.IsEdns0().SetVersion(1)
	twoOPT := query("home.i3.example.net.", dns.TypeA, true)
	twoOPT.Extra = append(twoOPT.Extra, twoOPT.Extra[0])
	cases := map[string]struct {
		req   *dns.Msg
		rcode int
	}{
		"two questions":  {two, dns.RcodeFormatError},
		"no question":    {none, dns.RcodeFormatError},
		"NOTIFY":         {notify, dns.RcodeNotImplemented},
		"UPDATE":         {update, dns.RcodeNotImplemented},
		"EDNS version 1": {badVers, dns.RcodeBadVers},
		"two OPT":        {twoOPT, dns.RcodeFormatError},
	}
	for name, c := range cases {
		resp := z.Answer(c.req, client)
		if resp == nil || resp.Rcode != c.rcode || len(resp.Answer) != 0 || resp.Id != c.req.Id {
			t.Errorf("%s: %v, want rcode %s", name, resp, dns.RcodeToString[c.rcode])
		}
		if _, err := resp.Pack(); err != nil {
			t.Errorf("%s: response does not pack: %v", name, err)
		}
	}
	reply := query("home.i3.example.net.", dns.TypeA, false)
	reply.Response = true
	if resp := z.Answer(reply, client); resp != nil {
		t.Fatalf("a response was answered: %v", resp)
	}
	if s := z.Stats(); s.Malformed != uint64(len(cases))+1 || s.Queries != s.Malformed {
		t.Fatalf("Stats %+v: want %d malformed of as many queries", s, len(cases)+1)
	}
}

func TestAnswerEDNS(t *testing.T) {
	z := newZone(t, testConfig(newBook()))
	resp := z.Answer(query("home.i3.example.net.", dns.TypeA, true), client)
	opt := resp.IsEdns0()
	if opt == nil || opt.UDPSize() != ednsSize || opt.Version() != 0 || opt.Do() {
		t.Fatalf("OPT in the answer: %v", opt)
	}
	if resp := z.Answer(query("home.i3.example.net.", dns.TypeA, false), client); resp.IsEdns0() != nil {
		t.Fatal("OPT in the answer to a query without EDNS0")
	}
	for size, want := range map[uint16]int{0: 512, 100: 512, 1200: 1200, 4096: 1232} {
		q := query("x.", dns.TypeA, true)
		q.IsEdns0().SetUDPSize(size)
		if got := UDPSize(q); got != want {
			t.Errorf("UDPSize(EDNS %d) = %d, want %d", size, got, want)
		}
	}
	if got := UDPSize(query("x.", dns.TypeA, false)); got != 512 {
		t.Errorf("UDPSize(no EDNS) = %d, want 512", got)
	}
}

func TestAnswerAllowAndStats(t *testing.T) {
	cfg := testConfig(existenceBook{newBook()})
	blocked := netip.MustParseAddr("203.0.113.1")
	cfg.Allow = func(src netip.Addr) bool { return src != blocked }
	z := newZone(t, cfg)
	if resp := z.Answer(query("home.i3.example.net.", dns.TypeA, false), blocked); resp != nil {
		t.Fatal("a refused source was answered")
	}
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"home.i3.example.net.", dns.TypeA}, {"nope.i3.example.net.", dns.TypeA},
		{"home.i3.example.net.", dns.TypeMX}, {"example.com.", dns.TypeA},
	} {
		z.Answer(query(q.name, q.qtype, false), client)
	}
	want := Stats{Queries: 5, Answered: 1, NXDomain: 1, NoData: 1, Refused: 1, RateLimited: 1}
	if got := z.Stats(); got != want {
		t.Fatalf("Stats = %+v, want %+v", got, want)
	}
}

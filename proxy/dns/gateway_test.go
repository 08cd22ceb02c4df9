package dns

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// testMaxTTL is the TTL cap of the tests.
const testMaxTTL = 30

// Virtual ranges of testMapAddr.
var (
	testVirtual4 = netip.MustParsePrefix("100.64.0.0/24")
	testVirtual6 = netip.MustParsePrefix("fd7a::/64")
)

// testMapAddr maps 10.1.0.N to 100.64.0.N and fd00::N to fd7a::N; it refuses
// 10.2.0.0/16 (a full pool), maps 10.3.0.0/16 to an IPv6 address (the wrong
// family) and refuses anything else.
func testMapAddr(a netip.Addr) (netip.Addr, bool) {
	switch {
	case netip.MustParsePrefix("10.1.0.0/24").Contains(a):
		return netip.AddrFrom4([4]byte{100, 64, 0, a.As4()[3]}), true
	case netip.MustParsePrefix("10.3.0.0/16").Contains(a):
		return netip.MustParseAddr("fd7a::3"), true
	case netip.MustParsePrefix("fd00::/64").Contains(a):
		b := a.As16()
		return netip.AddrFrom16([16]byte{0xfd, 0x7a, 14: b[14], 15: b[15]}), true
	}
	return netip.Addr{}, false
}

// gatewayAnswer packs the answer a gateway gives to q (with id 0x1234, not
// the program's): rcode and the records in zone-file form, in the answer
// section; records after "|" go to the authority section.
func gatewayAnswer(t testing.TB, q []byte, rcode int, records ...string) []byte {
	t.Helper()
	var qm mdns.Msg
	if err := qm.Unpack(q); err != nil {
		t.Fatal(err)
	}
	m := new(mdns.Msg)
	m.SetReply(&qm)
	m.Id = 0x1234
	m.Rcode = rcode
	section := &m.Answer
	for _, s := range records {
		if s == "|" {
			section = &m.Ns
			continue
		}
		rr, err := mdns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		*section = append(*section, rr)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// answerRecords returns the answer section of the packed message b, each
// record in zone-file form with tabs as spaces.
func answerRecords(t *testing.T, m *mdns.Msg) []string {
	t.Helper()
	var out []string
	for _, rr := range m.Answer {
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out
}

func TestRewriteGatewayAnswer(t *testing.T) {
	qA := query(t, "wiki.corp.example.", mdns.TypeA, false)
	qAAAA := query(t, "wiki.corp.example.", mdns.TypeAAAA, true)
	chain := []string{
		"wiki.corp.example. 300 IN CNAME web.corp.example.",
		"other.example. 300 IN A 10.1.0.99",
		"WEB.corp.example. 20 IN CNAME host.corp.example.",
		"host.corp.example. 3600 IN A 10.1.0.10",
		"host.corp.example. 10 IN A 10.1.0.11",
		"host.corp.example. 10 IN AAAA fd00::10",
		"|", "corp.example. 300 IN NS ns.corp.example.",
	}
	tests := []struct {
		name  string
		query []byte
		resp  []byte
		rcode int
		want  []string
	}{
		{"one address", qA, gatewayAnswer(t, qA, 0, "wiki.corp.example. 300 IN A 10.1.0.10"), mdns.RcodeSuccess,
			[]string{"wiki.corp.example. 30 IN A 100.64.0.10"}},
		{"short TTL kept", qA, gatewayAnswer(t, qA, 0, "wiki.corp.example. 7 IN A 10.1.0.10"), mdns.RcodeSuccess,
			[]string{"wiki.corp.example. 7 IN A 100.64.0.10"}},
		{"CNAME chain, other names and sections dropped", qA, gatewayAnswer(t, qA, 0, chain...), mdns.RcodeSuccess, []string{
			"wiki.corp.example. 30 IN CNAME web.corp.example.",
			"WEB.corp.example. 20 IN CNAME host.corp.example.",
			"host.corp.example. 30 IN A 100.64.0.10",
			"host.corp.example. 10 IN A 100.64.0.11",
		}},
		{"AAAA", qAAAA, gatewayAnswer(t, qAAAA, 0, "wiki.corp.example. 60 IN AAAA fd00::7", "wiki.corp.example. 60 IN A 10.1.0.1"),
			mdns.RcodeSuccess, []string{"wiki.corp.example. 30 IN AAAA fd7a::7"}},
		{"answer names in another case", qA, gatewayAnswer(t, query(t, "WIKI.Corp.Example.", mdns.TypeA, false), 0,
			"WIKI.Corp.Example. 60 IN A 10.1.0.10"), mdns.RcodeSuccess, []string{"WIKI.Corp.Example. 30 IN A 100.64.0.10"}},
		{"unmappable address dropped", qA, gatewayAnswer(t, qA, 0, "wiki.corp.example. 60 IN A 10.2.0.1",
			"wiki.corp.example. 60 IN A 10.1.0.10"), mdns.RcodeSuccess, []string{"wiki.corp.example. 30 IN A 100.64.0.10"}},
		{"wrong family dropped", qA, gatewayAnswer(t, qA, 0, "wiki.corp.example. 60 IN A 10.3.0.1",
			"wiki.corp.example. 60 IN A 10.1.0.10"), mdns.RcodeSuccess, []string{"wiki.corp.example. 30 IN A 100.64.0.10"}},
		{"no address mappable: SERVFAIL", qA, gatewayAnswer(t, qA, 0, "wiki.corp.example. 60 IN A 10.2.0.1"),
			mdns.RcodeServerFailure, nil},
		{"no data", qAAAA, gatewayAnswer(t, qAAAA, 0, "wiki.corp.example. 60 IN A 10.1.0.10"), mdns.RcodeSuccess, nil},
		{"chain without address", qA, gatewayAnswer(t, qA, 0, "wiki.corp.example. 60 IN CNAME x.example."), mdns.RcodeSuccess,
			[]string{"wiki.corp.example. 30 IN CNAME x.example."}},
		{"NXDOMAIN", qA, gatewayAnswer(t, qA, mdns.RcodeNameError, "|", "corp.example. 60 IN SOA ns. h. 1 2 3 4 5"),
			mdns.RcodeNameError, nil},
		{"NXDOMAIN drops records", qA, gatewayAnswer(t, qA, mdns.RcodeNameError, "wiki.corp.example. 60 IN A 10.1.0.10"),
			mdns.RcodeNameError, nil},
		{"SERVFAIL", qA, gatewayAnswer(t, qA, mdns.RcodeServerFailure), mdns.RcodeServerFailure, nil},
		{"REFUSED", qA, gatewayAnswer(t, qA, mdns.RcodeRefused), mdns.RcodeRefused, nil},
		{"other code: SERVFAIL", qA, gatewayAnswer(t, qA, mdns.RcodeYXDomain), mdns.RcodeServerFailure, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := RewriteGatewayAnswer(tt.query, tt.resp, testMapAddr, testMaxTTL, nil)
			if err != nil {
				t.Fatal(err)
			}
			q, m := checkAnswerTo(t, tt.query, out)
			if m.Rcode != tt.rcode || m.Opcode != q.Opcode || m.RecursionDesired != q.RecursionDesired || !m.RecursionAvailable ||
				m.Authoritative || m.Truncated || m.AuthenticatedData {
				t.Errorf("header %+v, want rcode %s", m.MsgHdr, mdns.RcodeToString[tt.rcode])
			}
			if got := answerRecords(t, &m); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("answer\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if len(m.Ns) != 0 || (q.IsEdns0() == nil) != (len(m.Extra) == 0) || len(m.Extra) > 1 {
				t.Errorf("authority %v, additional %v (query EDNS0: %v)", m.Ns, m.Extra, q.IsEdns0() != nil)
			}
		})
	}
}

func TestRewriteGatewayAnswerRefuses(t *testing.T) {
	qA := query(t, "wiki.corp.example.", mdns.TypeA, false)
	notResponse := gatewayAnswer(t, qA, 0, "wiki.corp.example. 60 IN A 10.1.0.10")
	notResponse[2] &^= 0x80
	noQuestion := gatewayAnswer(t, qA, 0)
	noQuestion[5] = 0 // qdcount 0: the question's bytes are then read as records
	twoQuestions := new(mdns.Msg)
	twoQuestions.Question = []mdns.Question{{Name: "a.", Qtype: 1, Qclass: 1}, {Name: "b.", Qtype: 1, Qclass: 1}}
	twoQ, _ := twoQuestions.Pack()
	loop := []string{"wiki.corp.example. 60 IN CNAME a.example.", "a.example. 60 IN CNAME WIKI.corp.example."}
	var long []string
	for i := range MaxChain + 1 {
		long = append(long, fmt.Sprintf("c%d.example. 60 IN CNAME c%d.example.", i, i+1))
	}
	qLong := query(t, "c0.example.", mdns.TypeA, false)
	tests := []struct {
		name        string
		query, resp []byte
		want        error
	}{
		{"other name", qA, gatewayAnswer(t, query(t, "wiki.corp.example.org.", mdns.TypeA, false), 0), ErrBadGatewayAnswer},
		{"other type", qA, gatewayAnswer(t, query(t, "wiki.corp.example.", mdns.TypeAAAA, false), 0), ErrBadGatewayAnswer},
		{"not a response", qA, notResponse, ErrBadGatewayAnswer},
		{"no question", qA, noQuestion, ErrBadGatewayAnswer},
		{"garbage", qA, []byte{1, 2, 3}, ErrBadGatewayAnswer},
		{"empty", qA, nil, ErrBadGatewayAnswer},
		{"CNAME loop", qA, gatewayAnswer(t, qA, 0, loop...), ErrBadGatewayAnswer},
		{"chain too long", qLong, gatewayAnswer(t, qLong, 0, long...), ErrBadGatewayAnswer},
		{"query garbage", []byte{1, 2, 3}, notResponse, ErrMalformed},
		{"query is a response", gatewayAnswer(t, qA, 0), gatewayAnswer(t, qA, 0), ErrNotQuery},
		{"query with two questions", twoQ, gatewayAnswer(t, qA, 0), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := RewriteGatewayAnswer(tt.query, tt.resp, testMapAddr, testMaxTTL, dst)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if string(out) != "keep" {
				t.Fatalf("dst changed to %q on error", out)
			}
		})
	}
	// A chain of exactly MaxChain is fine.
	resp := gatewayAnswer(t, qLong, 0, append(long[:MaxChain], fmt.Sprintf("c%d.example. 60 IN A 10.1.0.1", MaxChain))...)
	out, err := RewriteGatewayAnswer(qLong, resp, testMapAddr, testMaxTTL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, m := checkAnswerTo(t, qLong, out); len(m.Answer) != MaxChain+1 {
		t.Fatalf("chain of %d: %d records", MaxChain, len(m.Answer))
	}
}

func TestRewriteGatewayAnswerAppends(t *testing.T) {
	q := query(t, "wiki.corp.example.", mdns.TypeA, true)
	resp := gatewayAnswer(t, q, 0, "wiki.corp.example. 60 IN A 10.1.0.10")
	buf := make([]byte, 3, 1024)
	copy(buf, "abc")
	out, err := RewriteGatewayAnswer(q, resp, testMapAddr, testMaxTTL, buf)
	if err != nil {
		t.Fatal(err)
	}
	if string(out[:3]) != "abc" || &out[0] != &buf[0] {
		t.Fatalf("not appended in place: %q", out[:3])
	}
	checkAnswerTo(t, q, out[3:])
	small := []byte("abc")
	out2, err := RewriteGatewayAnswer(q, resp, testMapAddr, testMaxTTL, small)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out2, out) {
		t.Fatalf("into a full buffer: %x, into room: %x", out2, out)
	}
}

func TestFollowChainOtherTypes(t *testing.T) {
	rr, _ := mdns.NewRR("x.example. 60 IN MX 10 mail.example.")
	c, err := FollowChain(mdns.Question{Name: "x.example.", Qtype: mdns.TypeMX, Qclass: mdns.ClassINET}, []mdns.RR{rr})
	if err != nil || len(c.Addrs) != 0 || len(c.CNAMEs) != 0 || len(c.Names) != 1 {
		t.Fatalf("FollowChain for MX: %+v, %v", c, err)
	}
	if _, ok := RecordAddr(rr); ok {
		t.Fatal("RecordAddr of an MX record")
	}
}

// FuzzRewriteGatewayAnswer feeds an arbitrary program query and gateway answer
// to RewriteGatewayAnswer: no panic; every error is ErrMalformed, ErrNotQuery
// or ErrBadGatewayAnswer and leaves dst as it was; an answer is appended to
// dst, parses, has the program's id and question, and holds only CNAME records
// on the chain from the question's name and A/AAAA records with a virtual
// address, all with TTL at most the cap, and no authority or additional
// records other than EDNS0.
func FuzzRewriteGatewayAnswer(f *testing.F) {
	qA := query(f, "wiki.corp.example.", mdns.TypeA, false)
	qAAAA := query(f, "Wiki.corp.example.", mdns.TypeAAAA, true)
	f.Add(qA, gatewayAnswer(f, qA, 0, "wiki.corp.example. 300 IN A 10.1.0.10", "wiki.corp.example. 300 IN A 10.2.0.10"))
	f.Add(qA, gatewayAnswer(f, qA, 0, "wiki.corp.example. 300 IN CNAME a.example.", "a.example. 300 IN A 10.1.0.10",
		"a.example. 300 IN CNAME b.", "|", "example. 60 IN NS ns.example."))
	f.Add(qAAAA, gatewayAnswer(f, qAAAA, 0, "wiki.corp.example. 300 IN AAAA fd00::1", "wiki.corp.example. 300 IN A 10.3.0.1"))
	f.Add(qA, gatewayAnswer(f, qA, mdns.RcodeNameError))
	f.Add(qA, gatewayAnswer(f, qA, mdns.RcodeYXDomain))
	f.Add(qA, gatewayAnswer(f, qA, 0, "wiki.corp.example. 60 IN CNAME wiki.corp.example."))
	f.Add(qA, []byte{})
	f.Add([]byte{}, qA)
	f.Fuzz(func(t *testing.T, q, resp []byte) {
		dst := []byte("prefix")
		out, err := RewriteGatewayAnswer(q, resp, testMapAddr, testMaxTTL, dst)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotQuery) && !errors.Is(err, ErrBadGatewayAnswer) {
				t.Fatalf("error %v of no known kind", err)
			}
			if string(out) != "prefix" {
				t.Fatalf("dst %q on error", out)
			}
			return
		}
		if !bytes.HasPrefix(out, []byte("prefix")) {
			t.Fatalf("dst lost: %q", out)
		}
		qm, m := checkAnswerTo(t, q, out[len("prefix"):])
		checkRewritten(t, qm.Question[0], &m)
	})
}

// checkRewritten fails t unless m holds only what RewriteGatewayAnswer may
// give the program for question.
func checkRewritten(t *testing.T, question mdns.Question, m *mdns.Msg) {
	t.Helper()
	names := []string{question.Name}
	for _, rr := range m.Answer {
		h := rr.Header()
		if h.Ttl > testMaxTTL || !inNames(names, h.Name) {
			t.Fatalf("record %v: TTL over %d or not on the chain %v", rr, testMaxTTL, names)
		}
		switch r := rr.(type) {
		case *mdns.CNAME:
			names = append(names, r.Target)
		case *mdns.A, *mdns.AAAA:
			a, _ := RecordAddr(rr)
			if h.Rrtype != question.Qtype || !testVirtual4.Contains(a) && !testVirtual6.Contains(a) {
				t.Fatalf("record %v for %v: not a virtual address of the question's type", rr, question)
			}
		default:
			t.Fatalf("record %v kept", rr)
		}
	}
	if len(m.Ns) != 0 || len(m.Extra) > 1 || len(m.Extra) == 1 && m.Extra[0].Header().Rrtype != mdns.TypeOPT {
		t.Fatalf("authority %v, additional %v", m.Ns, m.Extra)
	}
}

package dns

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// fakeResolver is the address book: name → addresses.
type fakeResolver struct {
	mu    sync.Mutex
	names map[string][2]netip.Addr
	asked []string
}

func (f *fakeResolver) ResolveOverlay(name string) (v4, v6 netip.Addr, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, name)
	a, ok := f.names[name]
	return a[0], a[1], ok
}

var (
	homeV4 = netip.MustParseAddr("100.123.16.188")
	homeV6 = netip.MustParseAddr("fd69:3369:3300:6dc8:c3ca:66af:95c9:79be")
	onlyV4 = netip.MustParseAddr("100.64.1.2")
)

func newTestResponder(t testing.TB, change func(*Config)) (*Responder, *fakeResolver) {
	t.Helper()
	res := &fakeResolver{names: map[string][2]netip.Addr{
		"home":     {homeV4, homeV6},
		"www.home": {homeV4, homeV6},
		"legacy":   {onlyV4, {}},
	}}
	cfg := DefaultConfig(res)
	cfg.SearchDomains = []string{"example.com", "lab.example.net."}
	if change != nil {
		change(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r, res
}

// query packs a query the way a stub resolver sends it.
func query(t testing.TB, name string, qtype uint16, edns bool) []byte {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 0xbeef
	if edns {
		m.SetEdns0(1232, false)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAnswer(t *testing.T) {
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		forward bool
		rcode   int
		answers []string // RR strings, TTL 0
		asked   string   // the name the resolver must be asked, if any
	}{
		{name: "A", qname: "home.i3.", qtype: mdns.TypeA, answers: []string{"home.i3.\t0\tIN\tA\t100.123.16.188"}, asked: "home"},
		{name: "AAAA", qname: "home.i3.", qtype: mdns.TypeAAAA, answers: []string{"home.i3.\t0\tIN\tAAAA\tfd69:3369:3300:6dc8:c3ca:66af:95c9:79be"}, asked: "home"},
		{name: "ANY", qname: "home.i3.", qtype: mdns.TypeANY, answers: []string{
			"home.i3.\t0\tIN\tA\t100.123.16.188", "home.i3.\t0\tIN\tAAAA\tfd69:3369:3300:6dc8:c3ca:66af:95c9:79be"}},
		{name: "case kept, looked up lower", qname: "HoMe.I3.", qtype: mdns.TypeA, answers: []string{"HoMe.I3.\t0\tIN\tA\t100.123.16.188"}, asked: "home"},
		{name: "deeper name", qname: "www.home.i3.", qtype: mdns.TypeA, answers: []string{"www.home.i3.\t0\tIN\tA\t100.123.16.188"}, asked: "www.home"},
		{name: "AAAA of a v4-only peer", qname: "legacy.i3.", qtype: mdns.TypeAAAA},
		{name: "MX: NODATA", qname: "home.i3.", qtype: mdns.TypeMX},
		{name: "TXT: NODATA", qname: "home.i3.", qtype: mdns.TypeTXT},
		{name: "unknown: NXDOMAIN", qname: "nobody.i3.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, asked: "nobody"},
		{name: "unknown MX: NXDOMAIN", qname: "nobody.i3.", qtype: mdns.TypeMX, rcode: mdns.RcodeNameError},
		{name: "suffix itself", qname: "i3.", qtype: mdns.TypeA},
		{name: "search domain", qname: "home.i3.example.com.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError},
		{name: "second search domain", qname: "home.i3.lab.example.net.", qtype: mdns.TypeAAAA, rcode: mdns.RcodeNameError},
		{name: "search, other case", qname: "Home.I3.Example.COM.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError},
		{name: "other name", qname: "example.org.", qtype: mdns.TypeA, forward: true},
		{name: "other name in search domain", qname: "www.example.com.", qtype: mdns.TypeA, forward: true},
		{name: "i3 inside a name", qname: "i3.example.org.", qtype: mdns.TypeA, forward: true},
		{name: "suffix as a label prefix", qname: "homei3.", qtype: mdns.TypeA, forward: true},
		{name: "root", qname: ".", qtype: mdns.TypeNS, forward: true},
	}
	for _, tc := range tests {
		for _, edns := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				r, res := newTestResponder(t, nil)
				q := query(t, tc.qname, tc.qtype, edns)
				resp, forward, err := r.Answer(q, make([]byte, 0, 512))
				if err != nil {
					t.Fatal(err)
				}
				if forward != tc.forward {
					t.Fatalf("forward = %v, want %v", forward, tc.forward)
				}
				if forward {
					if resp != nil {
						t.Fatal("a forwarded query got an answer too")
					}
					return
				}
				m := new(mdns.Msg)
				if err := m.Unpack(resp); err != nil {
					t.Fatalf("answer does not unpack: %v", err)
				}
				if m.Id != 0xbeef || !m.Response || !m.RecursionDesired || !m.RecursionAvailable || m.Rcode != tc.rcode {
					t.Fatalf("header %+v, want id beef, QR RD RA, rcode %d", m.MsgHdr, tc.rcode)
				}
				if len(m.Question) != 1 || m.Question[0].Name != tc.qname || m.Question[0].Qtype != tc.qtype {
					t.Fatalf("question %v, want %s %d", m.Question, tc.qname, tc.qtype)
				}
				var got []string
				for _, rr := range m.Answer {
					got = append(got, rr.String())
				}
				if strings.Join(got, "\n") != strings.Join(tc.answers, "\n") {
					t.Fatalf("answers\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.answers, "\n"))
				}
				if len(m.Ns) != 0 {
					t.Fatalf("authority section %v: negative answers carry no SOA", m.Ns)
				}
				if opt := m.IsEdns0(); (opt != nil) != edns {
					t.Fatalf("OPT in answer: %v, in query: %v", opt != nil, edns)
				}
				if tc.asked != "" && (len(res.asked) != 1 || res.asked[0] != tc.asked) {
					t.Fatalf("resolver asked %q, want %q", res.asked, tc.asked)
				}
			})
		}
	}
}

func TestAnswerTTLAndFlags(t *testing.T) {
	r, _ := newTestResponder(t, func(c *Config) { c.TTL = 5 * time.Second })
	m := new(mdns.Msg)
	m.SetQuestion("home.i3.", mdns.TypeA)
	m.RecursionDesired = false
	m.CheckingDisabled = true
	q, _ := m.Pack()
	resp, _, err := r.Answer(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := new(mdns.Msg)
	a.Unpack(resp)
	if a.RecursionDesired || !a.CheckingDisabled || !a.Authoritative || a.Id != m.Id {
		t.Fatalf("flags %+v", a.MsgHdr)
	}
	if len(a.Answer) != 1 || a.Answer[0].Header().Ttl != 5 {
		t.Fatalf("answer %v, want TTL 5", a.Answer)
	}
}

func TestAnswerOddQueries(t *testing.T) {
	r, _ := newTestResponder(t, nil)
	t.Run("two questions: FORMERR", func(t *testing.T) {
		m := new(mdns.Msg)
		m.SetQuestion("home.i3.", mdns.TypeA)
		m.Question = append(m.Question, mdns.Question{Name: "x.i3.", Qtype: mdns.TypeA, Qclass: mdns.ClassINET})
		wantRcode(t, r, m, mdns.RcodeFormatError)
	})
	t.Run("no question: FORMERR", func(t *testing.T) {
		m := new(mdns.Msg)
		m.Id = 7
		wantRcode(t, r, m, mdns.RcodeFormatError)
	})
	t.Run("NOTIFY for an overlay name: NOTIMP", func(t *testing.T) {
		m := new(mdns.Msg)
		m.SetNotify("home.i3.")
		wantRcode(t, r, m, mdns.RcodeNotImplemented)
	})
	t.Run("EDNS version 1: BADVERS", func(t *testing.T) {
		m := new(mdns.Msg)
		m.SetQuestion("home.i3.", mdns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().SetVersion(1)
		wantRcode(t, r, m, mdns.RcodeBadVers)
	})
	t.Run("chaos class: NODATA", func(t *testing.T) {
		m := new(mdns.Msg)
		m.SetQuestion("home.i3.", mdns.TypeA)
		m.Question[0].Qclass = mdns.ClassCHAOS
		wantRcode(t, r, m, mdns.RcodeSuccess)
	})
}

// wantRcode has r answer m and fails the test unless r answers itself (no
// error, no forward) with rcode and no answer records.
func wantRcode(t *testing.T, r *Responder, m *mdns.Msg, rcode int) {
	t.Helper()
	q, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	resp, fwd, err := r.Answer(q, nil)
	if err != nil || fwd {
		t.Fatalf("Answer = forward %v, %v; want an answer", fwd, err)
	}
	a := new(mdns.Msg)
	if err := a.Unpack(resp); err != nil {
		t.Fatal(err)
	}
	if a.Rcode != rcode || len(a.Answer) != 0 {
		t.Fatalf("rcode %d, %d answers; want %d and none", a.Rcode, len(a.Answer), rcode)
	}
}

func TestAnswerMalformed(t *testing.T) {
	r, _ := newTestResponder(t, nil)
	good := query(t, "home.i3.", mdns.TypeA, true)
	resp := new(mdns.Msg)
	resp.SetQuestion("home.i3.", mdns.TypeA)
	resp.Response = true
	respBytes, _ := resp.Pack()
	loop := append([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 0xc0, 12, 0, 1, 0, 1) // name points at itself

	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"header only, short", good[:11], ErrMalformed},
		{"cut in the name", good[:16], ErrMalformed},
		{"cut in the type", good[:len("\x04home\x02i3\x00")+12+1], ErrMalformed},
		{"cut in the OPT", good[:len(good)-3], ErrMalformed},
		{"label too long", append(append([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, 0x3f), make([]byte, 10)...), ErrMalformed},
		{"pointer loop", loop, ErrMalformed},
		{"a response", respBytes, ErrNotQuery},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, fwd, err := r.Answer(tc.b, nil)
			if !errors.Is(err, tc.want) || fwd || resp != nil {
				t.Fatalf("Answer = %x, %v, %v; want %v", resp, fwd, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "dns: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	res := &fakeResolver{}
	tests := []struct {
		name   string
		change func(*Config)
	}{
		{"no resolver", func(c *Config) { c.Resolver = nil }},
		{"empty suffix", func(c *Config) { c.Suffix = "" }},
		{"bad suffix", func(c *Config) { c.Suffix = "a..b" }},
		{"TTL too long", func(c *Config) { c.TTL = 6 * time.Second }},
		{"TTL fraction", func(c *Config) { c.TTL = 1500 * time.Millisecond }},
		{"bad search domain", func(c *Config) { c.SearchDomains = []string{"a..b"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig(res)
			tc.change(&cfg)
			if _, err := New(cfg); err == nil {
				t.Fatal("New accepted the config")
			}
		})
	}
}

func TestOtherSuffix(t *testing.T) {
	r, res := newTestResponder(t, func(c *Config) { c.Suffix = ".Overlay.Test." })
	resp, fwd, err := r.Answer(query(t, "home.overlay.test.", mdns.TypeA, false), nil)
	if err != nil || fwd || len(resp) == 0 || res.asked[0] != "home" {
		t.Fatalf("Answer = %v %v, asked %q", fwd, err, res.asked)
	}
	if _, fwd, _ := r.Answer(query(t, "home.i3.", mdns.TypeA, false), nil); !fwd {
		t.Fatal(".i3 is not the suffix any more: it must be forwarded")
	}
}

func TestAnswerIntoBuffer(t *testing.T) {
	r, _ := newTestResponder(t, nil)
	q := query(t, "home.i3.", mdns.TypeA, true)
	buf := make([]byte, 0, 512)
	resp, _, err := r.Answer(q, buf)
	if err != nil {
		t.Fatal(err)
	}
	if &resp[0] != &buf[:1][0] {
		t.Fatal("answer not written into dst")
	}
	small := make([]byte, 0, 8)
	if resp, _, err := r.Answer(q, small); err != nil || len(resp) <= 8 {
		t.Fatalf("answer with a small dst: %v, %d bytes", err, len(resp))
	}
}

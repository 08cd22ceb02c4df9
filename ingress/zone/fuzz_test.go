package zone

import (
	"testing"

	"github.com/miekg/dns"
)

// FuzzAnswer gives Answer every message that parses: it must not panic, must
// answer every query (never a response), only with records inside the zone,
// and what it returns must pack and fit the UDP size once truncated.
func FuzzAnswer(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"home.i3.example.net.", dns.TypeA}, {"i3.example.net.", dns.TypeNS},
		{"NS1.i3.example.net.", dns.TypeAAAA}, {"example.net.", dns.TypeA},
		{`a\.i3.example.net.`, dns.TypeANY}, {"x.dns.i3.example.net.", dns.TypeTXT},
	} {
		for _, edns := range []bool{false, true} {
			b, _ := query(q.name, q.qtype, edns).Pack()
			f.Add(b)
		}
	}
	z := newZone(f, testConfig(existenceBook{newBook()}))
	f.Fuzz(func(t *testing.T, b []byte) {
		req := new(dns.Msg)
		if req.Unpack(b) != nil {
			return
		}
		resp := z.Answer(req, client)
		if resp == nil {
			if !req.Response {
				t.Fatalf("query dropped: %v", req)
			}
			return
		}
		checkInZone(t, req, resp)
		resp.Truncate(UDPSize(req))
		packed, err := resp.Pack()
		if err != nil || len(packed) > UDPSize(req) {
			t.Fatalf("response: %d bytes (max %d), %v", len(packed), UDPSize(req), err)
		}
	})
}

// checkInZone fails unless every record of resp is owned by a name of the
// zone and an answer comes only for a question inside it (by miekg's
// IsSubDomain, not the zone's own test).
func checkInZone(t *testing.T, req, resp *dns.Msg) {
	t.Helper()
	for _, section := range [][]dns.RR{resp.Answer, resp.Ns, resp.Extra} {
		for _, rr := range section {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			if !dns.IsSubDomain(origin, rr.Header().Name) {
				t.Fatalf("record outside the zone: %v (question %v)", rr, req.Question)
			}
		}
	}
	if len(resp.Answer)+len(resp.Ns) > 0 && resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		t.Fatalf("records with rcode %s", dns.RcodeToString[resp.Rcode])
	}
	if len(req.Question) == 1 {
		if !dns.IsSubDomain(origin, req.Question[0].Name) && (resp.Authoritative || resp.Rcode == dns.RcodeSuccess || resp.Rcode == dns.RcodeNameError) {
			t.Fatalf("answered outside the zone: %v", resp)
		}
	}
}

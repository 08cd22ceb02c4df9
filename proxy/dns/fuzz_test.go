package dns

import (
	"errors"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// FuzzAnswer feeds arbitrary bytes to Answer: no panic; every error is
// ErrMalformed or ErrNotQuery; an answer parses, keeps the query's id, is a
// response, and repeats the query's question when the query had exactly one.
// Seeds: testdata/fuzz/FuzzAnswer holds queries glibc's resolver sent for
// getaddrinfo("home.i3"), "Home.I3" and "www.example.org" with search domain
// example.com and options edns0 (captured from a listener in a network
// namespace); more are built here.
func FuzzAnswer(f *testing.F) {
	for _, q := range []struct {
		name  string
		qtype uint16
		edns  bool
	}{
		{"home.i3.", mdns.TypeA, false},
		{"home.i3.", mdns.TypeAAAA, true},
		{"home.i3.", mdns.TypeMX, false},
		{"home.i3.", mdns.TypeANY, true},
		{"nobody.i3.", mdns.TypeA, false},
		{"i3.", mdns.TypeSOA, false},
		{"home.i3.example.com.", mdns.TypeA, true},
		{"example.org.", mdns.TypeA, false},
	} {
		f.Add(query(f, q.name, q.qtype, q.edns))
	}
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1})
	r, _ := newTestResponder(f, nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, forward, err := r.Answer(b, make([]byte, 0, 512))
		if err != nil {
			checkRefusal(t, err)
			if resp != nil || forward {
				t.Fatal("an error came with an answer or a forward")
			}
			return
		}
		if forward {
			if resp != nil {
				t.Fatal("a forward came with an answer")
			}
			return
		}
		q, m := checkAnswerTo(t, b, resp)
		if m.Opcode != q.Opcode {
			t.Fatalf("answer header %+v for query %+v", m.MsgHdr, q.MsgHdr)
		}
	})
}

// FuzzMatches feeds arbitrary (query, answer) pairs to matches, the check the
// forwarder applies to every datagram an upstream socket receives (which an
// off-path attacker can send, guessing the port): no panic; an answer it
// accepts has the query's id and QR set and, when the query asks one
// question, the same question (name without regard to case, type and class),
// as miekg/dns reads them.
func FuzzMatches(f *testing.F) {
	for _, q := range [][]byte{query(f, "example.org.", mdns.TypeA, false), query(f, "Www.Example.ORG.", mdns.TypeAAAA, true)} {
		var m mdns.Msg
		m.Unpack(q)
		r := new(mdns.Msg)
		r.SetReply(&m)
		rb, _ := r.Pack()
		f.Add(q, rb)
		f.Add(q, q)
		f.Add(q, rb[:headerLen])
	}
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []byte{0, 1, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, q, resp []byte) {
		if !matches(q, resp) {
			return
		}
		if len(resp) < headerLen || resp[0] != q[0] || resp[1] != q[1] || resp[2]&0x80 == 0 {
			t.Fatalf("accepted %x for %x: id or QR", resp, q)
		}
		var qm, rm mdns.Msg
		if qm.Unpack(q) != nil || rm.Unpack(resp) != nil || len(qm.Question) != 1 {
			return
		}
		if len(rm.Question) == 0 {
			t.Fatalf("accepted an answer without a question for %v", qm.Question[0])
		}
		a, b := qm.Question[0], rm.Question[0]
		if !strings.EqualFold(a.Name, b.Name) || a.Qtype != b.Qtype || a.Qclass != b.Qclass {
			t.Fatalf("accepted answer to %v for query %v", b, a)
		}
	})
}

// FuzzFail feeds arbitrary bytes to Fail, which answers a program's query
// with an error code when it cannot be forwarded (no upstream): no panic;
// every error is ErrMalformed or ErrNotQuery; an answer parses, keeps the
// query's id, is a response with the code asked for, and repeats the
// query's question when the query had exactly one.
func FuzzFail(f *testing.F) {
	for _, q := range [][]byte{
		query(f, "www.example.org.", mdns.TypeA, false),
		query(f, "www.example.org.", mdns.TypeAAAA, true),
		query(f, "home.i3.", mdns.TypeA, false),
	} {
		f.Add(q, uint8(mdns.RcodeServerFailure))
	}
	f.Add([]byte{}, uint8(mdns.RcodeRefused))
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}, uint8(mdns.RcodeServerFailure))
	r, _ := newTestResponder(f, nil)
	f.Fuzz(func(t *testing.T, b []byte, rcode uint8) {
		code := int(rcode & 0x0f)
		resp, err := r.Fail(b, make([]byte, 0, 512), code)
		if err != nil {
			checkRefusal(t, err)
			if resp != nil {
				t.Fatal("an error came with an answer")
			}
			return
		}
		q, m := checkAnswerTo(t, b, resp)
		if m.Rcode != code {
			t.Fatalf("answer header %+v for query %+v, rcode %d", m.MsgHdr, q.MsgHdr, code)
		}
	})
}

// checkRefusal fails the test unless err, an error of Answer or Fail, is
// ErrMalformed or ErrNotQuery.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotQuery) {
		t.Fatalf("error %v is neither ErrMalformed nor ErrNotQuery", err)
	}
}

// checkAnswerTo fails the test unless query b and its answer resp both
// unpack, the answer is a response with the query's id, and it repeats the
// query's question when the query had exactly one; it returns both.
func checkAnswerTo(t *testing.T, b, resp []byte) (q, m mdns.Msg) {
	t.Helper()
	if err := q.Unpack(b); err != nil {
		t.Fatalf("answered a query miekg cannot unpack: %v", err)
	}
	if err := m.Unpack(resp); err != nil {
		t.Fatalf("answer does not unpack: %v\n%x", err, resp)
	}
	if m.Id != q.Id || !m.Response {
		t.Fatalf("answer header %+v for query %+v", m.MsgHdr, q.MsgHdr)
	}
	if len(q.Question) == 1 && (len(m.Question) != 1 || m.Question[0] != q.Question[0]) {
		t.Fatalf("answer question %v, query %v", m.Question, q.Question)
	}
	return q, m
}

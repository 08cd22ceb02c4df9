package dns

import (
	"errors"
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
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotQuery) {
				t.Fatalf("error %v is neither ErrMalformed nor ErrNotQuery", err)
			}
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
		var q, m mdns.Msg
		if err := q.Unpack(b); err != nil {
			t.Fatalf("answered a query miekg cannot unpack: %v", err)
		}
		if err := m.Unpack(resp); err != nil {
			t.Fatalf("answer does not unpack: %v\n%x", err, resp)
		}
		if m.Id != q.Id || !m.Response || m.Opcode != q.Opcode {
			t.Fatalf("answer header %+v for query %+v", m.MsgHdr, q.MsgHdr)
		}
		if len(q.Question) == 1 && (len(m.Question) != 1 || m.Question[0] != q.Question[0]) {
			t.Fatalf("answer question %v, query %v", m.Question, q.Question)
		}
	})
}

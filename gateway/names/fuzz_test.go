package names

import (
	"context"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/internal/testwait"
)

// FuzzAnswer feeds arbitrary bytes, as a client's query, to an Answerer whose
// resolver is a test intranet (answerFor: CNAME chains, loops, NXDOMAIN,
// SERVFAIL, addresses in and out of Serve): no panic; no answer only to a
// query shorter than a header or a response; an answer parses, has the
// query's id, is at most MaxAnswer bytes, and in NOERROR holds only served
// addresses of the question's type and CNAME records on the chain; the stats
// add up.
func FuzzAnswer(f *testing.F) {
	for _, name := range []string{"wiki.corp.example.", "Alias.corp.example.", "loop.corp.example.", "nx.corp.example.",
		"outside.corp.example.", "many.corp.example.", "fail.corp.example.", "x.other.example."} {
		for _, qtype := range []uint16{mdns.TypeA, mdns.TypeAAAA, mdns.TypeMX} {
			f.Add(clientQuery(f, name, qtype))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1})
	in := startIntranet(f)
	a := newAnswerer(f, testwait.Timeout, 512, in.addr)
	f.Fuzz(func(t *testing.T, query []byte) {
		resp := a.Answer(context.Background(), query)
		checkInvariants(t, a, query, resp)
		checkStats(t, a.Stats())
	})
}

// FuzzAnswerUpstream gives the Answerer arbitrary bytes as the resolvers'
// answer to a client's query (the intranet's resolver is trusted less than
// the gateway: it may be misconfigured or spoofed): no panic, and the answer
// holds only what checkInvariants allows.
func FuzzAnswerUpstream(f *testing.F) {
	for _, name := range []string{"wiki.corp.example.", "alias.corp.example.", "loop.corp.example.", "nx.corp.example.", "many.corp.example."} {
		for _, qtype := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
			m := new(mdns.Msg)
			m.SetQuestion(name, qtype)
			r := new(mdns.Msg)
			r.SetReply(m)
			answerFor(r, m.Question[0])
			b, err := r.Pack()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(qtype == mdns.TypeAAAA, b)
		}
	}
	f.Add(false, []byte{})
	a := newAnswerer(f, testwait.Timeout, 512, startIntranet(f).addr)
	f.Fuzz(func(t *testing.T, aaaa bool, upstream []byte) {
		qtype, name := mdns.TypeA, "wiki.corp.example."
		if aaaa {
			qtype = mdns.TypeAAAA
		}
		if len(upstream) >= headerLen {
			var m mdns.Msg // answer for the name the bytes ask about, when they parse
			if m.Unpack(upstream) == nil && len(m.Question) == 1 && a.names[0].Match(m.Question[0].Name) {
				name = m.Question[0].Name
			}
		}
		query := clientQuery(t, name, qtype)
		b := &Answerer{names: a.names, serve: a.serve, maxAnswer: a.maxAnswer,
			forward: func(context.Context, []byte) ([]byte, error) { return upstream, nil }}
		resp := b.Answer(context.Background(), query)
		checkInvariants(t, b, query, resp)
		checkStats(t, b.Stats())
	})
}

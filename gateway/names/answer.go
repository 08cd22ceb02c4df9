package names

import (
	"context"
	"fmt"
	"net/netip"
	"sync/atomic"

	mdns "github.com/miekg/dns"

	"github.com/i3net/i3net/proxy/dns"
	"github.com/i3net/i3net/proxy/rules"
)

const (
	// DefaultMaxAnswer is the default bound of an answer, in bytes: it fits a
	// session frame with room to spare.
	DefaultMaxAnswer = 1200
	// minMaxAnswer is the smallest MaxAnswer allowed (bytes): room for a
	// header, the longest question and some records.
	minMaxAnswer = 512
	// maxMessage is the largest DNS message (bytes).
	maxMessage = 65535
	// headerLen is the size of a DNS header (bytes).
	headerLen = 12
	// upstreamUDPSize is the EDNS0 UDP size of queries to the resolvers
	// (bytes; the DNS flag day 2020 value).
	upstreamUDPSize = 1232
)

// Config configures an Answerer. New copies it.
type Config struct {
	// Names are the names the gateway resolves for clients; a query for any
	// other name is REFUSED. Empty: every query is refused.
	Names []rules.Pattern
	// Serve are the addresses the gateway serves; answers hold no others.
	// Empty: every answer with addresses is refused.
	Serve []netip.Prefix
	// Forwarder asks the gateway's own resolvers. Required.
	Forwarder *dns.Forwarder
	// MaxAnswer bounds an answer, in bytes: addresses beyond it are left
	// out (whole records). From 512 to 65535; default DefaultMaxAnswer.
	MaxAnswer int
}

// Stats counts queries by outcome; the outcomes add up to Queries.
type Stats struct {
	Queries     uint64 // every call of Answer
	Answered    uint64 // NOERROR, with served addresses, a CNAME chain or nothing
	NXDomain    uint64 // the resolver said the name does not exist
	ServFail    uint64 // the resolvers failed, or gave an unusable answer
	RefusedName uint64 // a name outside Names
	RefusedAddr uint64 // addresses, none of them in Serve
	RefusedType uint64 // a type other than A and AAAA, a class other than IN, an opcode other than QUERY
	Malformed   uint64 // FORMERR, or no answer at all (not even a header, or a response)
}

// counters are the atomics behind Stats.
type counters struct {
	queries, answered, nxDomain, servFail         atomic.Uint64
	refusedName, refusedAddr, refusedType, malfmd atomic.Uint64
}

// Answerer answers clients' queries; it is safe for concurrent use.
type Answerer struct {
	names     []rules.Pattern
	serve     []netip.Prefix
	maxAnswer int
	forward   func(ctx context.Context, query []byte) ([]byte, error) // Forwarder.Forward; tests replace it
	stats     counters
}

// New returns an Answerer for cfg.
func New(cfg Config) (*Answerer, error) {
	if cfg.Forwarder == nil {
		return nil, fmt.Errorf("names: config: no Forwarder")
	}
	if cfg.MaxAnswer == 0 {
		cfg.MaxAnswer = DefaultMaxAnswer
	}
	if cfg.MaxAnswer < minMaxAnswer || cfg.MaxAnswer > maxMessage {
		return nil, fmt.Errorf("names: config: MaxAnswer %d: want %d to %d bytes", cfg.MaxAnswer, minMaxAnswer, maxMessage)
	}
	a := &Answerer{
		names:     append([]rules.Pattern(nil), cfg.Names...),
		maxAnswer: cfg.MaxAnswer,
		forward:   cfg.Forwarder.Forward,
	}
	for _, p := range cfg.Serve {
		if !p.IsValid() {
			return nil, fmt.Errorf("names: config: served prefix %v is not valid", p)
		}
		a.serve = append(a.serve, p.Masked())
	}
	return a, nil
}

// Stats returns the counts so far.
func (a *Answerer) Stats() Stats {
	c := &a.stats
	return Stats{
		Queries: c.queries.Load(), Answered: c.answered.Load(), NXDomain: c.nxDomain.Load(),
		ServFail: c.servFail.Load(), RefusedName: c.refusedName.Load(), RefusedAddr: c.refusedAddr.Load(),
		RefusedType: c.refusedType.Load(), Malformed: c.malfmd.Load(),
	}
}

// Answer returns the DNS response to query, a client's query (untrusted):
//
//   - nil when query is shorter than a DNS header or is a response (QR set;
//     answering it could loop); FORMERR, with no question, when it does not
//     parse or asks other than one question;
//   - NOTIMP for an opcode other than QUERY;
//   - REFUSED for a class other than IN or a type other than A and AAAA (the
//     gateway resolves addresses only: a policy, hence not NOTIMP), and for
//     a name outside Names;
//   - else the gateway's resolvers are asked (Forwarder.Forward, which blocks
//     up to its budget): SERVFAIL if they fail or their answer is unusable,
//     NXDOMAIN if the name does not exist, REFUSED if the answer holds
//     addresses for the name but none in Serve, else NOERROR with the CNAME
//     chain from the name and the served addresses, TTLs as the resolver
//     gave them, at most MaxAnswer bytes (addresses beyond are left out).
//
// Every response has the query's id, opcode and RD, with RA set.
func (a *Answerer) Answer(ctx context.Context, query []byte) []byte {
	a.stats.queries.Add(1)
	var q mdns.Msg
	if resp, done := a.screen(query, &q); done {
		return resp
	}
	up, err := a.upstreamQuery(q.Question[0])
	if err == nil {
		up, err = a.forward(ctx, up)
	}
	if err != nil {
		return a.fail(&q, mdns.RcodeServerFailure, &a.stats.servFail)
	}
	return a.filter(&q, up)
}

// screen parses query into q and answers it at once if it is not one to
// forward: done is true, and resp the answer (nil for none).
func (a *Answerer) screen(query []byte, q *mdns.Msg) (resp []byte, done bool) {
	if len(query) < headerLen || query[2]&0x80 != 0 {
		a.stats.malfmd.Add(1)
		return nil, true
	}
	if len(query) > maxMessage || q.Unpack(query) != nil {
		a.stats.malfmd.Add(1)
		return formErr(query), true
	}
	switch {
	case len(q.Question) != 1:
		return a.fail(q, mdns.RcodeFormatError, &a.stats.malfmd), true
	case q.Opcode != mdns.OpcodeQuery:
		return a.fail(q, mdns.RcodeNotImplemented, &a.stats.refusedType), true
	case q.Question[0].Qclass != mdns.ClassINET,
		q.Question[0].Qtype != mdns.TypeA && q.Question[0].Qtype != mdns.TypeAAAA:
		return a.fail(q, mdns.RcodeRefused, &a.stats.refusedType), true
	case !rules.MatchAny(a.names, q.Question[0].Name):
		return a.fail(q, mdns.RcodeRefused, &a.stats.refusedName), true
	}
	return nil, false
}

// upstreamQuery returns the query to send the resolvers for question: a new
// random id, RD, class IN, EDNS0; nothing else of the client's query.
func (a *Answerer) upstreamQuery(question mdns.Question) ([]byte, error) {
	m := &mdns.Msg{
		MsgHdr:   mdns.MsgHdr{Id: mdns.Id(), Opcode: mdns.OpcodeQuery, RecursionDesired: true},
		Question: []mdns.Question{{Name: question.Name, Qtype: question.Qtype, Qclass: mdns.ClassINET}},
	}
	m.SetEdns0(upstreamUDPSize, false)
	return m.Pack()
}

// reply returns the frame of the answer to q: header and question.
func reply(q *mdns.Msg, rcode int) *mdns.Msg {
	m := &mdns.Msg{MsgHdr: mdns.MsgHdr{
		Id:                 q.Id,
		Response:           true,
		Opcode:             q.Opcode,
		RecursionDesired:   q.RecursionDesired,
		RecursionAvailable: true,
		Rcode:              rcode,
	}}
	if len(q.Question) == 1 {
		m.Question = q.Question
	}
	return m
}

// fail counts the outcome in c and returns an answer to q with rcode and no
// records.
func (a *Answerer) fail(q *mdns.Msg, rcode int, c *atomic.Uint64) []byte {
	c.Add(1)
	b, err := reply(q, rcode).Pack()
	if err != nil { // a question miekg read but cannot write back
		return headerOnly(q.Id, q.Opcode, q.RecursionDesired, rcode)
	}
	return b
}

// formErr answers query, which has a header but does not parse, with FORMERR
// and no question.
func formErr(query []byte) []byte {
	id := uint16(query[0])<<8 | uint16(query[1])
	return headerOnly(id, int(query[2]>>3&0x0f), query[2]&0x01 != 0, mdns.RcodeFormatError)
}

// headerOnly packs an answer that is only a header.
func headerOnly(id uint16, opcode int, rd bool, rcode int) []byte {
	b := make([]byte, headerLen)
	b[0], b[1] = byte(id>>8), byte(id)
	b[2] = 0x80 | byte(opcode&0x0f)<<3
	if rd {
		b[2] |= 0x01
	}
	b[3] = 0x80 | byte(rcode&0x0f) // RA
	return b
}

package proxy

// Control messages travel inside a session like packets, sealed the same way,
// and are told from IP packets by their first byte (an IP packet starts with
// its version, 4 or 6, in the high nibble; a control message with 1):
//
//	byte 0     kind: controlQuery, controlAnswer, controlProbe, controlProbeAnswer
//	bytes 1–4  request number, chosen by the asking side, echoed in the answer
//	bytes 5–   a DNS message (query, answer), or nothing (probes)
//
// A host asks a gateway to resolve a name in the gateway's network with a
// query (paper §4.4.1: "sends the DNS name of the legacy server ... to id_P");
// the gateway answers with the DNS response of its own resolver, filtered to
// what it serves (gateway/names). Probes check that a gateway that has gone
// quiet is still there (gwwatch.go).

import (
	"context"
	"encoding/binary"
)

const (
	controlQuery       byte = 0x10
	controlAnswer      byte = 0x11
	controlProbe       byte = 0x12
	controlProbeAnswer byte = 0x13
	// publications (ingress.go, publish.go): a host's services offered to
	// an ingress, the ingress's reply, and the origin of a flow it brings
	controlOffer      byte = 0x14
	controlOfferReply byte = 0x15
	controlFlow       byte = 0x16

	controlHeaderLen = 5
	// maxGatewayQueries bounds the name queries a gateway resolves at once
	// (each waits on its resolver on its own goroutine, so a slow name never
	// holds up another client's: the paper's DNS helper thread, §7.4).
	maxGatewayQueries = 64
)

// isControl reports whether an opened packet is a control message.
func isControl(pkt []byte) bool { return len(pkt) >= controlHeaderLen && pkt[0]>>4 == 1 }

// appendControl appends a control message of kind with request number n and
// body to b.
func appendControl(b []byte, kind byte, n uint32, body []byte) []byte {
	b = append(b, kind)
	b = binary.BigEndian.AppendUint32(b, n)
	return append(b, body...)
}

// control handles a control message from p (on the client's receive
// goroutine: nothing here waits).
func (px *Proxy) control(p *peer, msg []byte) {
	kind, n, body := msg[0], binary.BigEndian.Uint32(msg[1:5]), msg[controlHeaderLen:]
	switch {
	case kind == controlQuery && px.gw != nil:
		px.answerQueryLater(p, n, body)
	case kind == controlProbe:
		// A failover probe came through a live member of the middlebox's
		// group: go through it too, and answer through it.
		px.probeAnswered(p, n)
		px.sendControl(p, appendControl(nil, controlProbeAnswer, n, nil))
	case kind == controlAnswer:
		px.gatewayAnswered(p, n, body)
	case kind == controlOffer && px.ing != nil:
		px.offered(p, n, body)
	case kind == controlOfferReply:
		px.pubs.replied(px, p, body)
	case kind == controlFlow:
		px.pubs.flowFrom(px, p, body)
	case kind == controlProbeAnswer:
		// lastRx moved: that is the answer (gwwatch.go); an answer to a
		// failover probe names the middlebox member it came through
		px.probeAnswered(p, n)
	default:
		px.stats.dropControl.Add(1)
	}
}

// sendControl seals msg in p's session and sends it, or queues it and starts
// the handshake when there is no session yet. It may run on any goroutine.
func (px *Proxy) sendControl(p *peer, msg []byte) {
	s := p.sendSession()
	r, ok := p.remote()
	if s == nil || !ok {
		p.enqueue(msg)
		px.connect(p)
		return
	}
	px.sendNow(p, s, r, msg)
}

// answerQueryLater resolves a client's name query on its own goroutine, at
// most maxGatewayQueries at once (the rest are dropped and counted: the
// client asks again or answers SERVFAIL).
func (px *Proxy) answerQueryLater(p *peer, n uint32, query []byte) {
	select {
	case px.gwBusy <- struct{}{}:
	default:
		px.stats.dropBusy.Add(1)
		return
	}
	q := append([]byte(nil), query...)
	px.stats.gwQueries.Add(1)
	if !px.spawn(func() {
		defer func() { <-px.gwBusy }()
		ctx, cancel := context.WithTimeout(px.ctx, px.cfg.UpstreamTimeout+px.cfg.UpstreamTimeout/2)
		defer cancel()
		resp := px.gw.Answer(ctx, q)
		if resp == nil {
			px.stats.dropControl.Add(1)
			return
		}
		px.stats.gwAnswers.Add(1)
		px.sendControl(p, appendControl(make([]byte, 0, controlHeaderLen+len(resp)), controlAnswer, n, resp))
	}) {
		<-px.gwBusy
	}
}

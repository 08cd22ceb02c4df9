package proxy

import "time"

// A gateway that dies leaves its triggers in the overlay until they expire,
// so packets to it vanish without a word. A host that has sent to a gateway
// and heard nothing back for gatewayQuietAfter probes it in the session; a
// probe unanswered for gatewayProbeWait means the gateway is gone: the
// session is dropped and a new handshake goes to the gateway's anycast
// prefix, where another member of its group answers if there is one (paper
// §2.1); the names asked meanwhile are asked again of it. New connections
// work again within about a second. A session through a middlebox is
// watched the same way; when the probe goes unanswered, its frames go
// through another member of the middlebox's group (middleboxGone).
const (
	gatewayWatchEvery = 100 * time.Millisecond
	gatewayQuietAfter = 300 * time.Millisecond
	gatewayProbeWait  = 500 * time.Millisecond
)

// watchGateways checks the gateways in use until the proxy stops.
func (px *Proxy) watchGateways() {
	tick := time.NewTicker(gatewayWatchEvery)
	defer tick.Stop()
	for {
		select {
		case <-px.ctx.Done():
			return
		case <-tick.C:
		}
		now := px.clk.Now().UnixNano()
		for _, p := range px.peers.all() {
			if p.gateway.Load() || p.route.Load() != nil {
				px.checkGateway(p, now)
			}
		}
	}
}

// checkGateway probes gateway p when it has gone quiet and starts a new
// handshake when a probe went unanswered.
func (px *Proxy) checkGateway(p *peer, now int64) {
	if p.sess.Load() == nil {
		p.probeAt.Store(0)
		return
	}
	tx, rx := p.lastTx.Load(), p.lastRx.Load()
	if tx <= rx || now-rx < int64(gatewayQuietAfter) {
		p.probeAt.Store(0)
		return
	}
	probe := p.probeAt.Load()
	switch {
	case probe == 0:
		p.probeAt.Store(now)
		px.stats.gwProbes.Add(1)
		px.sendControl(p, appendControl(nil, controlProbe, 0, nil))
	case rx >= probe:
		p.probeAt.Store(0)
	case now-probe >= int64(gatewayProbeWait):
		p.probeAt.Store(0)
		if p.route.Load() != nil {
			px.middleboxGone(p)
			return
		}
		px.gatewayGone(p)
	}
}

// middleboxGone sends p's frames through another member of its middlebox's
// anycast group: the session with p stays (the middlebox keeps no state of
// it), and the probe goes again, through the new member.
func (px *Proxy) middleboxGone(p *peer) {
	px.stats.mbFailovers.Add(1)
	px.log.Warn("the middlebox on the path stopped answering: trying another member of its anycast group",
		"peer", p.describe())
	p.reroute()
}

// gatewayGone drops the session with a gateway that stopped answering and
// handshakes again.
func (px *Proxy) gatewayGone(p *peer) {
	px.stats.gwFailovers.Add(1)
	px.log.Warn("gateway stopped answering: handshaking again (another member of its anycast group answers if there is one)",
		"gateway", p.describe())
	p.sess.Store(nil)
	p.prevSess.Store(nil)
	p.spread.Store(true)
	p.mu.Lock()
	if p.state == peerEstablished {
		p.state = peerIdle
	}
	p.mu.Unlock()
	// The names asked of the dead gateway are asked again of the one that
	// answers the new handshake (they wait in the queue meanwhile).
	for n, q := range px.queries.pending(p) {
		p.enqueue(appendControl(make([]byte, 0, controlHeaderLen+len(q.query)), controlQuery, n, q.query))
	}
	px.connect(p)
}

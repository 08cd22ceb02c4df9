package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"sync/atomic"
	"time"

	"github.com/i3net/i3net/client"
	"github.com/i3net/i3net/internal/controlsock"
)

// counters are the proxy's statistics; packets are counted, never logged.
type counters struct {
	tunIn, tunOut         atomic.Uint64
	overlayIn, overlayOut atomic.Uint64

	dnsQueries, dnsForwarded, dnsErrors atomic.Uint64

	handshakesSent, handshakesAccepted, handshakesFailed atomic.Uint64
	resetsSent, resetsReceived                           atomic.Uint64
	refusedPeers, notPresent, refused                    atomic.Uint64

	dropMalformed, dropNoMapping, dropNoSession, dropUnknownID atomic.Uint64
	dropAuth, dropReplay, dropSpoofed, dropSeal, dropSend      atomic.Uint64
	dropTunWrite, dropBusy                                     atomic.Uint64
	dropQueue, queueCE                                         atomic.Uint64 // codel.go
	wholeOut, wholeIn, splitOut, dropIncomplete                atomic.Uint64 // outraw.go, reasm.go

	dropTooBig, icmpTooBig, dropNotServed atomic.Uint64
	dropBypassed, mbAlerts, mbFailovers   atomic.Uint64
	// gateway: name queries and probes carried in sessions (control.go)
	gwQueries, gwAnswers, gwTimeouts, gwRefused, gwProbes, gwFailovers atomic.Uint64
	dropControl, dropNotPublished, exposeFailed                        atomic.Uint64
}

// Status is what "i3net status" shows: this host, its servers and its peers.
type Status struct {
	Self    SelfStatus       `json:"self"`
	Servers []netip.AddrPort `json:"servers"` // as configured
	// FirstHop is the server the client sends through when no hint routes
	// a packet (the nearest that answers); Known every server it knows.
	FirstHop netip.AddrPort      `json:"first_hop,omitzero"`
	Known    []client.ServerInfo `json:"known_servers,omitempty"`
	// NAT is what the client learned of a NAT in front of this host.
	NAT      client.NATInfo    `json:"nat"`
	Local    netip.AddrPort    `json:"local"`
	Peers    []PeerStatus      `json:"peers"`
	Counters map[string]uint64 `json:"counters"`
	Uptime   time.Duration     `json:"uptime_ns"`
	// Middlebox is set when this is an i3net middlebox (statusmb.go).
	Middlebox *MiddleboxStatus `json:"middlebox,omitempty"`
	// Rules are the name rules (clientgw.go), with their gateways' state.
	Rules []RuleStatus `json:"rules,omitempty"`
	// Gateway is set when this host is an i3-to-IP gateway.
	Gateway *GatewayStatus `json:"gateway,omitempty"`
	// Ingress is set when this host is the overlay side of an ingress.
	Ingress *IngressStatus `json:"ingress,omitempty"`
	// Published are the services this host publishes through ingresses,
	// IngressFlows the newest connections they brought, with each client's
	// real address.
	Published    []PublicationStatus `json:"published,omitempty"`
	IngressFlows []IngressFlowStatus `json:"ingress_flows,omitempty"`
	// Alerts are the newest IDS alerts of the middleboxes this host imposes.
	Alerts []AlertStatus `json:"alerts,omitempty"`
	// Triggers are this host's triggers: its public one first, then the
	// private trigger given to each peer, with the server that holds each.
	Triggers []TriggerStatus `json:"triggers,omitempty"`
	// Overlays are the other overlays this process serves on the same
	// device (Config.Also), each with its own Self.Suffix, servers, first
	// hop, NAT, peers and triggers.
	Overlays []Status `json:"overlays,omitempty"`
}

// TriggerStatus is one of this host's triggers and where it lives.
type TriggerStatus struct {
	// Kind is "public" (the trigger of this host's public id) or "private"
	// (the one given to Peer, by book name or, unnamed, its key).
	Kind string `json:"kind"`
	Peer string `json:"peer,omitempty"`
	ID   string `json:"id"` // short form
	// Server is the server whose ACK came last: the one holding the
	// trigger; zero before the first ACK.
	Server netip.AddrPort `json:"server,omitzero"`
	Acked  time.Time      `json:"acked,omitzero"`
	// Lapsed: no ACK for longer than the trigger TTL. Error is why the last
	// insertion or refresh failed.
	Lapsed bool   `json:"lapsed,omitempty"`
	Error  string `json:"error,omitempty"`
}

// triggerStatus describes h, a trigger of kind given to peer.
func triggerStatus(kind, peer string, h *client.Handle) TriggerStatus {
	s := h.State()
	ts := TriggerStatus{Kind: kind, Peer: peer, ID: h.Trigger().ID.Short(), Server: s.Server, Acked: s.Acked, Lapsed: s.Lapsed}
	if s.Err != nil {
		ts.Error = s.Err.Error()
	}
	return ts
}

// triggers lists this host's public trigger, then the private trigger of
// each peer in the order of peers (sorted by name, then key).
func (px *Proxy) triggers(peers []PeerStatus) []TriggerStatus {
	var out []TriggerStatus
	if h := px.publicTrigger.Load(); h != nil {
		out = append(out, triggerStatus("public", "", h))
	}
	handles := make(map[string]*client.Handle)
	for _, p := range px.peers.all() {
		p.mu.Lock()
		if p.trig != nil {
			handles[p.key.String()] = p.trig
		}
		p.mu.Unlock()
	}
	for _, ps := range peers {
		h, ok := handles[ps.Key]
		if !ok {
			continue
		}
		name := ps.Name
		if name == "" {
			name = ps.Key
		}
		out = append(out, triggerStatus("private", name, h))
	}
	return out
}

// SelfStatus describes this host.
type SelfStatus struct {
	Key    string     `json:"key"`
	ID     string     `json:"id"`
	Addr4  netip.Addr `json:"addr4"`
	Addr6  netip.Addr `json:"addr6,omitzero"`
	DNS    netip.Addr `json:"dns"`
	Suffix string     `json:"suffix"`
	// Mode is "tun" or "userspace" (a network stack in the process);
	// Exposed the loopback ports peers reach in userspace mode.
	Mode    string   `json:"mode"`
	Exposed []uint16 `json:"exposed,omitempty"`
}

// PeerStatus describes one peer.
type PeerStatus struct {
	Name      string     `json:"name,omitempty"`
	Key       string     `json:"key"`
	ID        string     `json:"id"`
	Addr4     netip.Addr `json:"addr4,omitzero"`
	Addr6     netip.Addr `json:"addr6,omitzero"`
	Preserved bool       `json:"headers_preserved"`
	State     string     `json:"state"`
	Mode      string     `json:"mode,omitempty"`   // "encrypted" or "plaintext"
	Cipher    string     `json:"cipher,omitempty"` // the data AEAD: "aes-256-gcm" or "chacha20-poly1305"
	// WholePackets: the session carries the kernel's large TCP packets
	// whole (docs/proxy.md, "Large packets"); otherwise this host splits
	// them for the peer.
	WholePackets bool      `json:"whole_packets,omitempty"`
	LastUse      time.Time `json:"last_use"`
	TxPackets    uint64    `json:"tx_packets"`
	TxBytes      uint64    `json:"tx_bytes"`
	RxPackets    uint64    `json:"rx_packets"`
	RxBytes      uint64    `json:"rx_bytes"`
	Dropped      uint64    `json:"dropped"`
	Error        string    `json:"error,omitempty"`
	// Targets are the hosts reached through this peer as a gateway.
	Targets []TargetStatus `json:"targets,omitempty"`
	// Middlebox names the middlebox the session goes through, if any.
	Middlebox string `json:"middlebox,omitempty"`
	// Anonymous: this host reaches the peer anonymously (docs/anonymity.md),
	// or the peer reached this host so (its key is then ephemeral). For the
	// former, the current session's relay (the server holding the private
	// trigger the peer sends to), age and next rotation (at the first use
	// after a pause past it), and this host's ephemeral key and addresses as
	// the peer sees them.
	Anonymous bool           `json:"anonymous,omitempty"`
	Relay     netip.AddrPort `json:"relay,omitzero"`
	// RelayAvoided are the servers the relay was not to be when it was
	// picked: the first hop then, and the previous session's relay.
	RelayAvoided []netip.AddrPort `json:"relay_avoided,omitempty"`
	SessionAge   time.Duration    `json:"session_age_ns,omitempty"`
	NextRotation time.Time        `json:"next_rotation,omitzero"`
	AnonKey      string           `json:"anonymous_key,omitempty"`
	AnonAddr4    netip.Addr       `json:"anonymous_addr4,omitzero"`
	AnonAddr6    netip.Addr       `json:"anonymous_addr6,omitzero"`
}

// Status returns a snapshot of the proxy's state.
func (px *Proxy) Status() Status {
	st := Status{
		Self: SelfStatus{Key: px.ident.Public().String(), ID: px.ownID.String(), Addr4: px.own4, Addr6: px.own6,
			DNS: px.dns4, Suffix: px.cfg.Suffix, Mode: "tun", Exposed: px.cfg.Expose},
		Servers:  px.cfg.Servers,
		Counters: px.counterMap(),
		Uptime:   time.Since(px.started),
	}
	if px.net != nil {
		st.Self.Mode = "userspace"
	}
	if px.client != nil {
		st.Local = px.client.LocalAddr()
		st.FirstHop = px.client.FirstHop()
		st.Known = px.client.Servers()
		st.NAT = px.client.NAT()
	}
	for _, p := range px.peers.all() {
		p.mu.Lock()
		ps := PeerStatus{
			Name: p.name, Key: p.key.String(), ID: p.pubID.String(), Addr4: p.local4, Addr6: p.local6,
			Preserved: p.local4 == p.canonical4 && p.local6 == p.canonical6,
			State:     p.state.String(), Error: p.lastErr,
			LastUse:   time.Unix(0, p.lastUse.Load()),
			TxPackets: p.txPackets.Load(), TxBytes: p.txBytes.Load(),
			RxPackets: p.rxPackets.Load(), RxBytes: p.rxBytes.Load(), Dropped: p.drops.Load(),
		}
		p.mu.Unlock()
		px.anonStatus(p, &ps, px.clk.Now())
		ps.Targets = targetStatus(p)
		if s := p.sess.Load(); s != nil {
			ps.Middlebox = px.describeVia(s)
			ps.Mode, ps.Cipher = "encrypted", s.Cipher()
			ps.WholePackets = p.takesWhole(s)
			if s.Plaintext() {
				ps.Mode = "plaintext"
			}
		}
		st.Peers = append(st.Peers, ps)
	}
	sort.Slice(st.Peers, func(i, j int) bool {
		if st.Peers[i].Name != st.Peers[j].Name {
			return st.Peers[i].Name < st.Peers[j].Name
		}
		return st.Peers[i].Key < st.Peers[j].Key
	})
	st.Rules = px.ruleStatus(st.Peers)
	st.Triggers = px.triggers(st.Peers)
	st.Gateway = px.gatewayStatus()
	st.Alerts = px.alerts.all()
	st.Published, st.IngressFlows = px.pubs.status()
	if px.ing != nil && px.ing.Describe != nil {
		st.Ingress = px.ing.Describe()
	}
	for _, o := range px.cfg.Also {
		st.Overlays = append(st.Overlays, o.Status())
	}
	return st
}

func (px *Proxy) counterMap() map[string]uint64 {
	c := &px.stats
	var cs client.Stats
	if px.client != nil {
		cs = px.client.Stats()
	}
	m := map[string]uint64{
		"client_received": cs.Received, "client_dropped": cs.Dropped,
		"client_failovers": cs.Failovers, "client_server_lists": cs.ServerLists,
		"client_nat_checks": cs.NATChecks, "client_nat_rebinds": cs.NATRebinds,
		"client_shortcut_sent": cs.ShortcutSent, "client_shortcut_fallbacks": cs.ShortcutFallbacks,
		"client_shortcut_received": cs.DirectReceived, "client_offers_sent": cs.OffersSent,
		"client_offers_accepted": cs.OffersAccepted, "client_offers_refused": cs.OffersRefused,
		"tun_in": c.tunIn.Load(), "tun_out": c.tunOut.Load(),
		"overlay_in": c.overlayIn.Load(), "overlay_out": c.overlayOut.Load(),
		"dns_queries": c.dnsQueries.Load(), "dns_forwarded": c.dnsForwarded.Load(), "dns_errors": c.dnsErrors.Load(),
		"handshakes_sent": c.handshakesSent.Load(), "handshakes_accepted": c.handshakesAccepted.Load(),
		"handshakes_failed": c.handshakesFailed.Load(),
		"resets_sent":       c.resetsSent.Load(), "resets_received": c.resetsReceived.Load(),
		"peers_refused": c.refusedPeers.Load(), "not_present": c.notPresent.Load(), "server_refusals": c.refused.Load(),
		"server_refusals_unlogged": px.refusedLog.Suppressed(), "client_refusals_unlogged": cs.RefusedUnlogged,
		"drop_malformed": c.dropMalformed.Load(), "drop_no_mapping": c.dropNoMapping.Load(),
		"drop_no_session": c.dropNoSession.Load(), "drop_unknown_id": c.dropUnknownID.Load(),
		"drop_auth": c.dropAuth.Load(), "drop_replay": c.dropReplay.Load(), "drop_spoofed": c.dropSpoofed.Load(),
		"drop_seal": c.dropSeal.Load(), "drop_send": c.dropSend.Load(), "drop_tun_write": c.dropTunWrite.Load(),
		"drop_queue": c.dropQueue.Load(), "queue_ce": c.queueCE.Load(),
		"whole_out": c.wholeOut.Load(), "whole_in": c.wholeIn.Load(), "split_out": c.splitOut.Load(),
		"drop_incomplete": c.dropIncomplete.Load(),
		"drop_busy":       c.dropBusy.Load(), "drop_too_big": c.dropTooBig.Load(), "icmp_too_big": c.icmpTooBig.Load(),
		"drop_not_served": c.dropNotServed.Load(), "drop_control": c.dropControl.Load(), "drop_not_published": c.dropNotPublished.Load(), "expose_failed": c.exposeFailed.Load(),
		"drop_bypassed": c.dropBypassed.Load(), "middlebox_alerts": c.mbAlerts.Load(),
		"middlebox_failovers": c.mbFailovers.Load(),
		"gateway_queries":     c.gwQueries.Load(), "gateway_answers": c.gwAnswers.Load(),
		"gateway_timeouts": c.gwTimeouts.Load(), "gateway_refused": c.gwRefused.Load(),
		"gateway_probes": c.gwProbes.Load(), "gateway_failovers": c.gwFailovers.Load(),
	}
	if px.cfg.DeviceCounters != nil {
		maps.Copy(m, px.cfg.DeviceCounters())
	}
	return m
}

// checkControl refuses to start when another proxy answers on the control
// socket: it would take the socket (and the state file) from it.
func (px *Proxy) checkControl() error {
	path := px.cfg.ControlPath
	if path == "" || !controlsock.InUse(path) {
		return nil
	}
	return fmt.Errorf("proxy: control socket %s is in use: another i3net proxy runs with this state directory; "+
		"stop it first, or give this one another --state-dir", path)
}

// serveControl answers GET /status on the control socket with the Status as
// JSON (internal/controlsock) until the proxy stops.
func (px *Proxy) serveControl() error {
	srv, err := controlsock.Listen(px.cfg.ControlPath, func() any { return px.Status() })
	if err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	// The closer first: if Close has begun, nothing is spawned and the
	// socket goes at once.
	if !px.spawn(func() {
		<-px.ctx.Done()
		srv.Close()
	}) {
		srv.Close()
		return nil
	}
	px.spawn(func() {
		if err := srv.Serve(); err != nil {
			px.log.Warn("control socket stopped", "err", err)
		}
	})
	return nil
}

// ReadStatus asks the proxy listening on the control socket at path for its
// Status.
func ReadStatus(ctx context.Context, path string) (Status, error) {
	var st Status
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, "GET", "http://proxy/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return st, fmt.Errorf("no proxy answers on %s (is `i3net proxy` running?): %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("proxy status: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("proxy status: %w", err)
	}
	return st, nil
}

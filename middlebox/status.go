package middlebox

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/i3net/i3net/internal/controlsock"
	"github.com/i3net/i3net/proxy"
)

// counters are the middlebox's statistics; frames are counted, never logged.
type counters struct {
	forwarded, dropUnknownHost, dropMalformed, dropSend atomic.Uint64
	toIDS, idsWriteErrors, idsMalformed                 atomic.Uint64
	alertsSent, alertsUnmatched, alertsFailed           atomic.Uint64
	eveLines, eveBad, eveReopened, eveSkipped           atomic.Uint64
}

// Status returns a snapshot of the middlebox's state, shaped as a proxy's
// (so that "i3net status" reads it) with Middlebox set.
func (m *Middlebox) Status() proxy.Status {
	pub := m.opt.Identity.Public()
	st := proxy.Status{
		Self:     proxy.SelfStatus{Key: pub.String(), ID: m.self.String()},
		Servers:  m.cfg.Servers,
		Local:    m.client.LocalAddr(),
		FirstHop: m.client.FirstHop(),
		Known:    m.client.Servers(),
		NAT:      m.client.NAT(),
		Counters: m.counterMap(),
		Uptime:   time.Since(m.started),
	}
	mb := &proxy.MiddleboxStatus{Anycast: m.cfg.Anycast, Member: int(m.member), IDSTun: m.cfg.IDSTun,
		EveJSON: m.cfg.EveJSON, Flows: m.flows.size()}
	for _, h := range m.hosts {
		mb.Hosts = append(mb.Hosts, m.hostStatus(h))
	}
	st.Middlebox = mb
	return st
}

// hostStatus describes one host and its trigger.
func (m *Middlebox) hostStatus(h *host) proxy.MiddleboxHostStatus {
	hs := proxy.MiddleboxHostStatus{Name: h.cfg.Name, Key: h.cfg.Key.String(), ID: h.pubID.String(),
		Trigger: h.trigger.String(), State: "inserting",
		Counters: map[string]uint64{"forwarded": h.forwarded.Load(), "forwarded_bytes": h.forwardedBytes.Load(),
			"to_ids": h.toIDS.Load(), "alerts_sent": h.alertsSent.Load()}}
	if e := h.err.Load(); e != nil {
		hs.Error = *e
	}
	if hd := h.handle.Load(); hd != nil {
		ts := hd.State()
		hs.State = "active"
		if ts.Lapsed {
			hs.State = "lapsed"
		}
		if ts.Err != nil {
			hs.Error = ts.Err.Error()
		}
	}
	return hs
}

// counterMap returns the status's counters: the middlebox's and its
// overlay client's.
func (m *Middlebox) counterMap() map[string]uint64 {
	cs := m.client.Stats()
	out := m.middleboxCounters()
	out["client_received"], out["client_dropped"], out["client_failovers"] = cs.Received, cs.Dropped, cs.Failovers
	out["client_send_errors"], out["not_present"] = cs.SendErrors, cs.NotPresent
	return out
}

// middleboxCounters returns the middlebox's own counters.
func (m *Middlebox) middleboxCounters() map[string]uint64 {
	c := &m.stats
	return map[string]uint64{
		"forwarded": c.forwarded.Load(), "drop_unknown_host": c.dropUnknownHost.Load(),
		"drop_malformed": c.dropMalformed.Load(), "drop_send": c.dropSend.Load(),
		"to_ids": c.toIDS.Load(), "ids_write_errors": c.idsWriteErrors.Load(), "ids_malformed": c.idsMalformed.Load(),
		"alerts_sent": c.alertsSent.Load(), "alerts_unmatched": c.alertsUnmatched.Load(),
		"alerts_failed": c.alertsFailed.Load(),
		"eve_lines":     c.eveLines.Load(), "eve_bad_lines": c.eveBad.Load(),
		"eve_reopened": c.eveReopened.Load(), "eve_skipped_long": c.eveSkipped.Load(),
	}
}

// checkControl refuses to start when another process answers on the
// control socket (a middlebox or proxy with this state directory).
func checkControl(path string) error {
	if path == "" || !controlsock.InUse(path) {
		return nil
	}
	return fmt.Errorf("middlebox: control socket %s is in use: another i3net process runs with this state directory; "+
		"stop it first, or give this one another --state-dir", path)
}

// serveControl answers GET /status on the control socket with the Status as
// JSON (internal/controlsock) until the middlebox stops.
func (m *Middlebox) serveControl() error {
	if m.opt.ControlPath == "" {
		return nil
	}
	srv, err := controlsock.Listen(m.opt.ControlPath, func() any { return m.Status() })
	if err != nil {
		return fmt.Errorf("middlebox: %w", err)
	}
	m.spawn(func() {
		<-m.ctx.Done()
		srv.Close()
	})
	m.spawn(func() {
		if err := srv.Serve(); err != nil {
			m.log.Warn("control socket stopped", "err", err)
		}
	})
	return nil
}

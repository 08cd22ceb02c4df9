package middlebox

import (
	"encoding/json"
	"net/netip"
	"time"
	"unicode/utf8"

	"github.com/i3net/i3net/middlebox/pass"
)

// eveEvent is what the middlebox reads of one eve.json record (Suricata's
// event log: one JSON object per line).
type eveEvent struct {
	Timestamp string    `json:"timestamp,omitempty"`
	FlowID    uint64    `json:"flow_id,omitempty"`
	EventType string    `json:"event_type"`
	SrcIP     string    `json:"src_ip,omitempty"`
	SrcPort   int       `json:"src_port,omitempty"`
	DestIP    string    `json:"dest_ip,omitempty"`
	DestPort  int       `json:"dest_port,omitempty"`
	Proto     string    `json:"proto,omitempty"`
	AppProto  string    `json:"app_proto,omitempty"`
	Alert     *eveAlert `json:"alert,omitempty"`

	src, dst netip.Addr
}

// eveAlert is the alert object of an alert record.
type eveAlert struct {
	Action      string `json:"action,omitempty"`
	GID         int    `json:"gid,omitempty"`
	SignatureID int    `json:"signature_id,omitempty"`
	Rev         int    `json:"rev,omitempty"`
	Signature   string `json:"signature,omitempty"`
	Category    string `json:"category,omitempty"`
	Severity    int    `json:"severity,omitempty"`
}

// parseEve reads one line of the event log (untrusted: whatever the file
// holds). ok is false for a line that is not a JSON object with an
// event_type; addresses that do not parse stay invalid.
func parseEve(line []byte) (ev eveEvent, ok bool) {
	if err := json.Unmarshal(line, &ev); err != nil || ev.EventType == "" {
		return eveEvent{}, false
	}
	ev.src, _ = netip.ParseAddr(ev.SrcIP)
	ev.dst, _ = netip.ParseAddr(ev.DestIP)
	ev.src, ev.dst = ev.src.Unmap(), ev.dst.Unmap()
	return ev, true
}

// compact returns the record's main fields as one JSON line that fits an
// alert frame (pass.MaxAlert), its strings cut shorter until it does: what is
// sent for an alert record too long to send whole.
func (ev eveEvent) compact() []byte {
	for limit := 1024; ; limit /= 2 {
		e := ev
		e.Timestamp, e.Proto, e.AppProto = cut(e.Timestamp, limit), cut(e.Proto, limit), cut(e.AppProto, limit)
		e.SrcIP, e.DestIP, e.EventType = cut(e.SrcIP, limit), cut(e.DestIP, limit), cut(e.EventType, limit)
		if e.Alert != nil {
			a := *e.Alert
			a.Action, a.Signature, a.Category = cut(a.Action, limit), cut(a.Signature, limit), cut(a.Category, limit)
			e.Alert = &a
		}
		b, _ := json.Marshal(e) // strings and numbers: it cannot fail
		if len(b) <= pass.MaxAlert || limit == 0 {
			return b
		}
	}
}

// cut returns s cut to at most n bytes, on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// followEve polls the event log every Config.EvePoll until the middlebox
// stops, and sends each alert to its host.
func (m *Middlebox) followEve() {
	fl := newFollower(m.cfg.EveJSON)
	t := time.NewTicker(m.cfg.EvePoll)
	defer t.Stop()
	var frame []byte
	warned := false
	for {
		err := fl.poll(func(line []byte) { frame = m.eveLine(line, frame[:0]) })
		if err != nil && !warned {
			m.log.Warn("cannot read the IDS's event log", "path", m.cfg.EveJSON, "err", err)
		}
		warned = err != nil
		m.stats.eveReopened.Store(fl.reopened)
		m.stats.eveSkipped.Store(fl.skipped)
		select {
		case <-m.ctx.Done():
			fl.close()
			return
		case <-t.C:
		}
	}
}

// eveLine handles one line of the event log: an alert goes to the host its
// address pair belongs to, as an alert frame built in frame's memory (which
// it returns, for the next).
func (m *Middlebox) eveLine(line, frame []byte) []byte {
	m.stats.eveLines.Add(1)
	ev, ok := parseEve(line)
	if !ok {
		m.stats.eveBad.Add(1)
		return frame
	}
	if ev.EventType != "alert" {
		return frame
	}
	h := m.flows.lookup(ev.src, ev.dst)
	if !ev.src.IsValid() || !ev.dst.IsValid() || h == nil {
		m.stats.alertsUnmatched.Add(1)
		return frame
	}
	if len(line) > pass.MaxAlert {
		line = ev.compact()
	}
	frame = h.alert.AppendAlert(frame[:0], line)
	if err := m.client.SendTo(h.pubID, frame); err != nil {
		m.stats.alertsFailed.Add(1)
		return frame
	}
	h.alertsSent.Add(1)
	m.stats.alertsSent.Add(1)
	sig := ""
	if ev.Alert != nil {
		sig = ev.Alert.Signature
	}
	m.log.Info("alert sent", "host", h.cfg.Name, "signature", sig, "src", ev.SrcIP, "dst", ev.DestIP, "proto", ev.Proto)
	return frame
}

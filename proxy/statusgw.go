package proxy

import (
	"net/netip"
	"sort"
	"time"
)

// RuleStatus is one name rule and how its gateway fares.
type RuleStatus struct {
	Match  string `json:"match"`
	Action string `json:"action"`
	Via    string `json:"via,omitempty"`
	// State is the gateway's peer state (active, connecting, unreachable,
	// refused), "unused" before a name sent it anything, or "not in the
	// address book".
	State string `json:"state,omitempty"`
	// Flows is how many hosts behind the gateway are in use (targets).
	Flows int    `json:"flows"`
	Error string `json:"error,omitempty"`
}

// TargetStatus is a host reached through a gateway.
type TargetStatus struct {
	Name      string     `json:"name,omitempty"`
	Addr      netip.Addr `json:"addr"` // the virtual address programs here use
	Real      netip.Addr `json:"real"` // its address in the gateway's network
	LastUse   time.Time  `json:"last_use"`
	TxPackets uint64     `json:"tx_packets"`
	RxPackets uint64     `json:"rx_packets"`
}

// targetStatus returns the targets of gateway peer p, by name.
func targetStatus(p *peer) []TargetStatus {
	var out []TargetStatus
	for _, t := range p.targets.all() {
		addr := t.local4
		if !addr.IsValid() {
			addr = t.local6
		}
		out = append(out, TargetStatus{Name: t.name, Addr: addr, Real: t.real,
			LastUse: time.Unix(0, t.lastUse.Load()), TxPackets: t.txPackets.Load(), RxPackets: t.rxPackets.Load()})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Real.Less(out[j].Real)
	})
	return out
}

// ruleStatus describes the rules, with the state of each gateway from peers
// (the peers' status, already made).
func (px *Proxy) ruleStatus(peers []PeerStatus) []RuleStatus {
	if px.cfg.Rules == nil {
		return nil
	}
	var out []RuleStatus
	b := px.book.Book()
	for _, r := range px.cfg.Rules.All() {
		rs := RuleStatus{Match: r.Pattern.String(), Action: r.Action.String(), Via: r.Via}
		if r.Via != "" {
			rs.State = "unused"
			e, ok := b.Lookup(r.Via)
			if !ok {
				rs.State = "not in the address book"
			}
			for _, p := range peers {
				if ok && p.Key == e.Key.String() {
					rs.State, rs.Flows, rs.Error = p.State, len(p.Targets), p.Error
				}
			}
		}
		out = append(out, rs)
	}
	return out
}

// gatewayStatus describes this host as a gateway, or returns nil.
func (px *Proxy) gatewayStatus() *GatewayStatus {
	if px.gw == nil {
		return nil
	}
	st := &GatewayStatus{}
	if px.gw.Describe != nil {
		*st = px.gw.Describe()
	}
	st.Anycast = px.gw.Anycast
	if px.gw.Counters != nil {
		st.Counters = px.gw.Counters()
	}
	return st
}

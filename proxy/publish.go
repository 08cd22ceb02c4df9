package proxy

// The publishing side of the IP-to-i3 ingress (paper §4.4.2): this host
// offers the services of its services file (Config.PublishPath) to each
// ingress it names, again when the file changes and every publishRefresh
// (an ingress forgets services not offered again: ingress restarts and
// withdrawals need nothing more), and learns from the ingress the real
// address of each client it brings.

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy/packet"
	"github.com/i3net/i3net/proxy/publish"
)

// publishRefresh is how often the services are offered again. An ingress
// keeps them for a few times this (ingress.DefaultPublicationLife).
const publishRefresh = 30 * time.Second

// maxIngressFlows bounds the flows the status keeps (the newest).
const maxIngressFlows = 256

// publications are what this host publishes and what the ingresses said.
type publications struct {
	// exposed are the ports each ingress may open connections to on this
	// host (by its key): nothing else of this host is reachable through an
	// ingress, even one that misbehaves. Nil when nothing is published.
	exposed atomic.Pointer[map[identity.PublicKey][]uint16]

	mu       sync.Mutex
	w        *publish.Watcher
	sentTo   map[string]bool // the ingresses offered services, to withdraw from
	lastSent time.Time
	replies  map[string]ingressReply
	flows    []IngressFlowStatus
}

type ingressReply struct {
	at    time.Time
	reply publish.Reply
}

// PublicationStatus is one service this host publishes, as "i3net status"
// shows it.
type PublicationStatus struct {
	Ingress       string `json:"ingress"`
	Name          string `json:"name"`
	FQDN          string `json:"fqdn,omitempty"`
	Port          uint16 `json:"port"`
	ProxyProtocol bool   `json:"proxy_protocol,omitempty"`
	// State is "offered" until the ingress answers, then its answer.
	State string `json:"state"`
}

// IngressFlowStatus is a connection an ingress brought this host.
type IngressFlowStatus struct {
	Ingress  string    `json:"ingress"`
	Client   string    `json:"client"`
	Waypoint string    `json:"waypoint"`
	Port     uint16    `json:"port"`
	From     uint16    `json:"from_port"` // the ingress's source port, as this host's services see it
	Name     string    `json:"name"`
	At       time.Time `json:"at"`
}

// openPublications watches the services file, if there is one.
func (px *Proxy) openPublications() error {
	if px.cfg.PublishPath == "" {
		return nil
	}
	w, err := publish.NewWatcher(px.cfg.PublishPath)
	if err != nil {
		return err
	}
	px.pubs.w = w
	return nil
}

// publishTick offers the services again when the file changed or the
// refresh is due (from maintain).
func (px *Proxy) publishTick() {
	if px.pubs.w == nil {
		return
	}
	changed, err := px.pubs.w.ReloadIfChanged()
	if err != nil {
		px.log.Warn("services file not reloaded; keeping the last good one", "err", err)
	}
	px.pubs.mu.Lock()
	due := time.Since(px.pubs.lastSent) >= publishRefresh
	px.pubs.mu.Unlock()
	if changed || due {
		px.publishAll()
	}
}

// publishAll offers each ingress its services: the whole set, so those left
// out (an ingress no longer named gets an empty set) are withdrawn.
func (px *Proxy) publishAll() {
	if px.pubs.w == nil {
		return
	}
	services := px.pubs.w.Services()
	px.pubs.mu.Lock()
	targets := publish.Ingresses(services)
	for name := range px.pubs.sentTo {
		targets = append(targets, name)
	}
	px.pubs.sentTo = make(map[string]bool)
	for _, name := range publish.Ingresses(services) {
		px.pubs.sentTo[name] = true
	}
	px.pubs.lastSent = time.Now()
	px.pubs.mu.Unlock()
	done := make(map[string]bool)
	exposed := make(map[identity.PublicKey][]uint16)
	for _, name := range targets {
		if !done[name] {
			done[name] = true
			s := publish.For(services, name)
			if key, ok := px.offerTo(name, s); ok {
				for _, x := range s {
					exposed[key] = append(exposed[key], x.Port)
				}
			}
		}
	}
	px.pubs.exposed.Store(&exposed)
}

// closedToIngress reports whether an inbound packet from p opens a TCP
// connection to a port this host does not publish through p, when p is an
// ingress it publishes through (counted, dropped).
func (px *Proxy) closedToIngress(p *peer, pp *packet.Parsed) bool {
	m := px.pubs.exposed.Load()
	if m == nil || pp.IPProto != packet.ProtoTCP || pp.TCPFlags&(packet.TCPSyn|packet.TCPAck) != packet.TCPSyn {
		return false
	}
	ports, ok := (*m)[p.key]
	if !ok || slices.Contains(ports, pp.Dst.Port()) {
		return false
	}
	px.stats.dropNotPublished.Add(1)
	return true
}

// offerTo sends the ingress the book names name the services s, and returns
// its key.
func (px *Proxy) offerTo(name string, s []publish.Service) (identity.PublicKey, bool) {
	e, ok := px.book.Book().Lookup(name)
	if !ok || e.Blocked {
		px.log.Warn("an ingress the services file names is not in the address book: not published there",
			"ingress", name, "add", "i3net book add "+name+" KEY")
		return identity.PublicKey{}, false
	}
	p, err := px.peerFor(e.Key, &e)
	if err != nil {
		px.log.Warn("services not offered", "ingress", name, "err", err)
		return identity.PublicKey{}, false
	}
	px.sendControl(p, appendControl(nil, controlOffer, 0, publish.AppendOffer(nil, s)))
	return e.Key, true
}

// ingressName is the name p has in the book, or the name it was asked by.
func (px *Proxy) ingressName(p *peer) string {
	if names := px.book.Book().Names(p.key); len(names) > 0 {
		return names[0]
	}
	return p.name
}

// replied records an ingress's reply to this host's offer.
func (pb *publications) replied(px *Proxy, p *peer, body []byte) {
	r, err := publish.ParseReply(body)
	if err != nil {
		px.stats.dropControl.Add(1)
		return
	}
	name := px.ingressName(p)
	pb.mu.Lock()
	if pb.replies == nil {
		pb.replies = make(map[string]ingressReply)
	}
	old, had := pb.replies[name]
	pb.replies[name] = ingressReply{at: time.Now(), reply: r}
	pb.mu.Unlock()
	if had && sameReply(old.reply, r) {
		return
	}
	for _, x := range r.Results {
		if x.Code == publish.Accepted {
			px.log.Info("published", "ingress", name, "name", x.Name+"."+r.Zone, "port", x.Port)
		} else {
			px.log.Warn("ingress refused a service", "ingress", name, "name", x.Name, "port", x.Port, "why", x.Code.String())
		}
	}
}

func sameReply(a, b publish.Reply) bool {
	if a.Zone != b.Zone || len(a.Results) != len(b.Results) {
		return false
	}
	for i := range a.Results {
		if a.Results[i] != b.Results[i] {
			return false
		}
	}
	return true
}

// flowFrom records and logs where a connection an ingress brings comes from.
func (pb *publications) flowFrom(px *Proxy, p *peer, body []byte) {
	f, err := publish.ParseFlow(body)
	if err != nil {
		px.stats.dropControl.Add(1)
		return
	}
	fs := IngressFlowStatus{Ingress: px.ingressName(p), Client: f.Client.String(), Waypoint: f.Waypoint.String(),
		Port: f.Port, From: f.From, Name: f.Name, At: time.Now()}
	px.log.Info("ingress flow", "client", fs.Client, "port", fs.Port, "name", fs.Name, "ingress", fs.Ingress, "from_port", fs.From)
	pb.mu.Lock()
	defer pb.mu.Unlock()
	if len(pb.flows) == maxIngressFlows {
		pb.flows = append(pb.flows[:0], pb.flows[1:]...)
	}
	pb.flows = append(pb.flows, fs)
}

// status returns the publications and the newest flows, newest last.
func (pb *publications) status() ([]PublicationStatus, []IngressFlowStatus) {
	if pb.w == nil {
		return nil, nil
	}
	services := pb.w.Services()
	pb.mu.Lock()
	defer pb.mu.Unlock()
	var out []PublicationStatus
	for _, s := range services {
		ps := PublicationStatus{Ingress: s.Ingress, Name: s.Name, Port: s.Port, ProxyProtocol: s.ProxyProtocol, State: "offered"}
		if r, ok := pb.replies[s.Ingress]; ok {
			ps.FQDN = s.Name + "." + r.reply.Zone
			for _, x := range r.reply.Results {
				if x.Name == s.Name && x.Port == s.Port {
					ps.State = x.Code.String()
				}
			}
		}
		out = append(out, ps)
	}
	return out, append([]IngressFlowStatus(nil), pb.flows...)
}

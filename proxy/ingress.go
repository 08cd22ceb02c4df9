package proxy

// The overlay side of the IP-to-i3 ingress (paper §4.4.2): a proxy in
// ingress mode takes the services its peers publish (publish.go is the
// publishing side) and, for each connection it brings them from a host that
// runs nothing of ours, tells them the client's real address.

import (
	"fmt"
	"net/netip"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/proxy/book"
	"github.com/i3net/i3net/proxy/publish"
)

// IngressMode makes a proxy the overlay side of an ingress (package ingress).
type IngressMode struct {
	// Offer takes a peer's whole set of services (replacing what it offered
	// before; an empty set withdraws all) and returns the reply. from is
	// the peer's key and its name in the address book ("" when it has
	// none). It runs on the receive goroutine: it must not wait.
	Offer func(from Publisher, services []publish.Service) publish.Reply
	// Describe, if set, says what the ingress serves, for the status.
	Describe func() *IngressStatus
}

// Publisher is the host an offer came from.
type Publisher struct {
	Key  identity.PublicKey
	Name string
}

// IngressStatus is what an ingress shows in "i3net status".
type IngressStatus struct {
	Zone      string            `json:"zone"`
	DNS       []string          `json:"dns"`
	Waypoints []string          `json:"waypoints"`
	Listening []string          `json:"listening"` // waypoint:port of every listener
	Published []PublishedStatus `json:"published"`
	Counters  map[string]uint64 `json:"counters"`
	Bindings  int               `json:"bindings"`
	Pending   int               `json:"pending"`
}

// PublishedStatus is one service an ingress exposes.
type PublishedStatus struct {
	Name          string `json:"name"` // the full name, NAME.ZONE
	Port          uint16 `json:"port"`
	ProxyProtocol bool   `json:"proxy_protocol,omitempty"`
	Host          string `json:"host"` // the publisher's book name
	Key           string `json:"key"`
	Age           string `json:"age"` // since the last offer
}

// offered handles a peer's offer of services (ingress side).
func (px *Proxy) offered(p *peer, n uint32, body []byte) {
	services, err := publish.ParseOffer(body)
	if err != nil {
		px.stats.dropControl.Add(1)
		return
	}
	from := Publisher{Key: p.key}
	if names := px.book.Book().Names(p.key); len(names) > 0 {
		from.Name = names[0]
	}
	reply := px.ing.Offer(from, services)
	px.sendControl(p, appendControl(nil, controlOfferReply, n, publish.AppendReply(nil, reply)))
}

// AddressOf returns the virtual address this host reaches the peer with key
// at (its IPv4 one when there is one), giving the peer one if it has none.
// An ingress dials the services it brings clients to there.
func (px *Proxy) AddressOf(key identity.PublicKey) (netip.Addr, error) {
	var entry *book.Entry
	if e, ok := px.book.Book().ByKey(key); ok {
		entry = &e
	}
	p, err := px.peerFor(key, entry)
	if err != nil {
		return netip.Addr{}, err
	}
	m := p.mapping()
	if m.V4.IsValid() {
		return m.V4, nil
	}
	if m.V6.IsValid() {
		return m.V6, nil
	}
	return netip.Addr{}, fmt.Errorf("proxy: peer %s has no virtual address", key)
}

// TellFlow tells the peer with key where a connection the ingress brings it
// comes from (it shows in the peer's status and log).
func (px *Proxy) TellFlow(key identity.PublicKey, f publish.Flow) {
	p := px.peerByKey(key)
	if p == nil {
		return
	}
	px.sendControl(p, appendControl(nil, controlFlow, 0, publish.AppendFlow(nil, f)))
}

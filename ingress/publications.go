package ingress

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/i3net/i3net/identity"
	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/proxy"
	"github.com/i3net/i3net/proxy/publish"
)

// publications are the services overlay hosts publish here, by host. A host
// may publish only its own name in the ingress's address book and names
// under it; its offer replaces what it offered before, and lives until
// life passes without another offer.
type publications struct {
	clk     clock.Clock
	life    time.Duration
	zone    string
	changed func() // called (on its own goroutine's time) when the set changes

	mu     sync.Mutex
	byHost map[identity.PublicKey]*hostServices
}

// hostServices are what one host offered last.
type hostServices struct {
	name     string // its name in the ingress's book
	services []publish.Service
	at       time.Time
}

// service is a published service found for a connection.
type service struct {
	publish.Service
	host string
	key  identity.PublicKey
}

// offer takes a host's offer and returns the reply.
func (ps *publications) offer(from proxy.Publisher, offered []publish.Service) publish.Reply {
	reply := publish.Reply{Zone: ps.zone}
	var took []publish.Service
	for i, s := range offered {
		c := judge(from.Name, s, i)
		if c == publish.Accepted {
			took = append(took, s)
		}
		reply.Results = append(reply.Results, publish.Result{Name: s.Name, Port: s.Port, Code: c})
	}
	ps.mu.Lock()
	old := ps.byHost[from.Key]
	if ps.byHost == nil {
		ps.byHost = make(map[identity.PublicKey]*hostServices)
	}
	if len(took) == 0 {
		delete(ps.byHost, from.Key)
	} else {
		ps.byHost[from.Key] = &hostServices{name: from.Name, services: took, at: ps.clk.Now()}
	}
	ps.mu.Unlock()
	if old == nil || !slices.Equal(old.services, took) {
		ps.changed()
	}
	return reply
}

// judge decides one offered service of the host named host (in the book;
// "" when it is not there).
func judge(host string, s publish.Service, i int) publish.Code {
	switch {
	case i >= publish.MaxServices:
		return publish.TooMany
	case publish.CheckName(s.Name) != nil || s.Port == 0:
		return publish.BadName
	case host == "" || s.Name != host && !strings.HasSuffix(s.Name, "."+host):
		return publish.NotYours
	}
	return publish.Accepted
}

// lookup returns the service published as name (relative to the zone) on
// port.
func (ps *publications) lookup(name string, port uint16) (service, bool) {
	return ps.first(func(s publish.Service) bool { return s.Name == name && s.Port == port })
}

// serves reports whether name is published on port (for the heuristic).
func (ps *publications) serves(name string, port uint16) bool {
	_, ok := ps.lookup(name, port)
	return ok
}

// published reports whether name is published on any port.
func (ps *publications) published(name string) bool {
	_, ok := ps.first(func(s publish.Service) bool { return s.Name == name })
	return ok
}

// first returns the first live service that match accepts.
func (ps *publications) first(match func(publish.Service) bool) (service, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	now := ps.clk.Now()
	for k, h := range ps.byHost {
		if now.Sub(h.at) > ps.life {
			continue
		}
		for _, s := range h.services {
			if match(s) {
				return service{Service: s, host: h.name, key: k}, true
			}
		}
	}
	return service{}, false
}

// expire forgets the hosts that have not offered again in time and returns
// their names.
func (ps *publications) expire() []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var gone []string
	now := ps.clk.Now()
	for k, h := range ps.byHost {
		if now.Sub(h.at) > ps.life {
			for _, s := range h.services {
				gone = append(gone, s.Name)
			}
			delete(ps.byHost, k)
		}
	}
	return gone
}

// names returns every published name (relative), sorted, each once.
func (ps *publications) names() []string {
	return distinct(ps.all(), func(s service) string { return s.Name })
}

// ports returns every published port, sorted, each once.
func (ps *publications) ports() []uint16 {
	return distinct(ps.all(), func(s service) uint16 { return s.Port })
}

// distinct returns key of each service, sorted, each once.
func distinct[T cmp.Ordered](services []service, key func(service) T) []T {
	out := make([]T, 0, len(services))
	for _, s := range services {
		out = append(out, key(s))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// all returns every live service.
func (ps *publications) all() []service {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var out []service
	now := ps.clk.Now()
	for k, h := range ps.byHost {
		if now.Sub(h.at) > ps.life {
			continue
		}
		for _, s := range h.services {
			out = append(out, service{Service: s, host: h.name, key: k})
		}
	}
	return out
}

// status describes the live services, for "i3net status".
func (ps *publications) status() []proxy.PublishedStatus {
	ps.mu.Lock()
	ages := make(map[identity.PublicKey]time.Duration)
	for k, h := range ps.byHost {
		ages[k] = ps.clk.Now().Sub(h.at).Round(time.Second)
	}
	ps.mu.Unlock()
	var out []proxy.PublishedStatus
	for _, s := range ps.all() {
		out = append(out, proxy.PublishedStatus{Name: s.Name + "." + ps.zone, Port: s.Port, ProxyProtocol: s.ProxyProtocol,
			Host: s.host, Key: s.key.String(), Age: ages[s.key].String()})
	}
	slices.SortFunc(out, func(a, b proxy.PublishedStatus) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
	return out
}

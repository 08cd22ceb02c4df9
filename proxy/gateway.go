package proxy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/proxy/session"
)

// GatewayMode makes a proxy the i3-to-IP gateway of a network (paper §4.4.1,
// §6.2, §7.4): clients on its allowlist (the address book: nobody else gets a
// session, and is told so) send it packets for the real hosts it serves; it
// writes them into its tun device, and the kernel forwards and NATs them
// (gateway/nat) and brings the replies back. It also resolves names for
// clients in its own network (control.go).
type GatewayMode struct {
	// Serve are the destinations clients may reach. A packet from a client
	// to anything else is dropped and counted (drop_not_served).
	Serve []netip.Prefix
	// Answer resolves a client's DNS query (wire format) with the gateway's
	// own resolver, filtered to what it serves; nil means no answer. It may
	// block up to the upstream budget: it runs on its own goroutine.
	Answer func(ctx context.Context, query []byte) []byte
	// Anycast, if not empty, names this gateway in a group of gateways that
	// share one identity (copies of the key): the public trigger keeps the
	// key's 128-bit prefix and takes a suffix derived from this name, so a
	// client's message 1 reaches one member, and another when one dies
	// (paper §2.1).
	Anycast string
	// Counters, if set, adds counters of the gateway's own parts (names,
	// NAT) to the status.
	Counters func() map[string]uint64
	// Describe, if set, says what the gateway serves, for the status.
	Describe func() GatewayStatus
}

// GatewayStatus is what a gateway shows in "i3net status".
type GatewayStatus struct {
	ServeNames []string          `json:"serve_names"`
	ServeCIDRs []string          `json:"serve_cidrs"`
	Resolvers  []string          `json:"resolvers"`
	Anycast    string            `json:"anycast,omitempty"`
	Counters   map[string]uint64 `json:"counters"`
}

func (g *GatewayMode) validate() []error {
	var errs []error
	if len(g.Serve) == 0 {
		errs = append(errs, errors.New("a gateway serves nothing: give serve_cidrs"))
	}
	if g.Answer == nil {
		errs = append(errs, errors.New("a gateway needs a resolver (Answer)"))
	}
	return errs
}

// serves reports whether this host is a gateway that serves dst.
func (px *Proxy) serves(dst netip.Addr) bool {
	if px.gw == nil {
		return false
	}
	for _, p := range px.gw.Serve {
		if p.Contains(dst) {
			return true
		}
	}
	return false
}

// publicTriggerID is the id of this host's public trigger: its public id, or
// for an anycast gateway its prefix with the member's suffix.
func (px *Proxy) publicTriggerID() id.ID {
	if px.gw == nil || px.gw.Anycast == "" {
		return px.ownID
	}
	return AnycastMember(px.ownID, px.gw.Anycast)
}

// AnycastMember returns the id of the member named name of the anycast group
// of public id pub: pub's first 128 bits (which the server matches, and which
// pub's key owns) and a suffix hashed from the name.
func AnycastMember(pub id.ID, name string) id.ID {
	h := sha256.Sum256([]byte("i3net anycast member v1\x00" + name))
	x := pub
	copy(x[id.Len/2:], h[:id.Len/2])
	return x
}

// anycastTarget returns where a message 1 to the gateway p goes: p's public
// id with a random suffix, so that, among the members of an anycast group
// (which keep the prefix and vary the suffix), each resend may reach another
// (and a single gateway is reached all the same: its trigger shares the
// prefix).
func anycastTarget(p *peer) id.ID {
	if !p.gateway.Load() {
		return p.pubID
	}
	x := id.Random()
	y := p.pubID
	copy(y[id.Len/2:], x[id.Len/2:])
	return y
}

// refusal returns err as a gateway announces it to the refused client
// (session.ErrRefuse: an authenticated refusal, so the client's programs fail
// at once); an ordinary proxy refuses in silence, as a blocked peer's private
// trigger is gone too (§4.1).
func (px *Proxy) refusal(err error) error {
	if px.gw == nil {
		return err
	}
	return fmt.Errorf("%w (%w)", err, session.ErrRefuse)
}

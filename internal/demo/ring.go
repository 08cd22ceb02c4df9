package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/internal/netlab"
	"github.com/i3net/i3net/ring"
)

// The demo's overlay of three servers: "i3net server" processes in their own
// namespaces, the first starting the ring, the others joining it through its
// gossip address, each serving Prometheus metrics that the demo reads to show
// the join and, at the end, what each server did.

// The ports of the demo's servers, on their host's address: data (the
// overlay), data+1 (gossip, the server's default) and metrics.
const (
	serverPort  = 5610
	metricsPort = 9610
)

// demoServer is one server of the demo's ring.
type demoServer struct {
	name string
	host *netlab.Host
	data netip.AddrPort
}

// demoRing is the demo's overlay and its members as the servers place them
// (default positions: a hash of each data address).
type demoRing struct {
	servers []demoServer
	view    *ring.Snapshot
}

// startRing starts a server on each host, srv1 first, the others joining
// it, narrates each join once every server counts the new member, and then
// which part of the ring each server owns.
func startRing(ctx context.Context, n *narrator, self string, hosts []*netlab.Host) (*demoRing, error) {
	keyDir, err := os.MkdirTemp("", "i3net-demo-ring-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(keyDir) // each server reads it once, at start
	keyFile, err := writeRingKey(keyDir)
	if err != nil {
		return nil, err
	}
	n.say("the servers share a ring key (32 random bytes, --ring-key-file): gossip is encrypted, copies of triggers authenticated")
	ov := &demoRing{}
	var members []ring.Member
	for _, h := range hosts {
		s, err := ov.join(ctx, n, self, keyFile, h, hosts[0])
		if err != nil {
			return nil, err
		}
		members = append(members, ring.Member{Name: s.name, Data: s.data, Position: ring.DefaultPosition(s.data)})
	}
	ov.view = ring.NewSnapshot(ring.Member{}, members, 1)
	ms := ov.view.Members()
	for i, m := range ms {
		pred := ms[(i+len(ms)-1)%len(ms)].Position
		n.say("  %s owns the ids whose first 128 bits are in (%s…, %s…]: %.0f%% of them",
			m.Name, ring.FormatPosition(pred)[:8], ring.FormatPosition(m.Position)[:8], 100*share(pred, m.Position))
	}
	n.say("  a packet reaching a server for an id another owns goes there in one hop; its sender gets a hint and then sends there itself")
	return ov, nil
}

// writeRingKey writes the servers' shared secret into dir and returns the
// file's path.
func writeRingKey(dir string) (string, error) {
	key := make([]byte, 32)
	rand.Read(key)
	file := filepath.Join(dir, "ring.key")
	if err := os.WriteFile(file, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return "", err
	}
	return file, nil
}

// join starts a server on h, joining through first's gossip address unless
// h is first, waits until every server counts it, and narrates it.
func (ov *demoRing) join(ctx context.Context, n *narrator, self, keyFile string, h, first *netlab.Host) (demoServer, error) {
	s := demoServer{name: h.Name(), host: h, data: netip.AddrPortFrom(h.Addr4(), serverPort)}
	seed := netip.AddrPortFrom(first.Addr4(), serverPort+1)
	args := []string{"server", "--listen", s.data.String(), "--ring", "--ring-preset", "lan", "--ring-key-file", keyFile,
		"--metrics", netip.AddrPortFrom(h.Addr4(), metricsPort).String(), "--log-level", "warn"}
	if h != first {
		args = append(args, "--join", seed.String())
	}
	start := time.Now()
	if _, err := h.Start(self, args...); err != nil {
		return s, err
	}
	ov.servers = append(ov.servers, s)
	if err := ov.waitMembers(ctx, len(ov.servers)); err != nil {
		return s, err
	}
	pos := ring.FormatPosition(ring.DefaultPosition(s.data))[:8]
	if h == first {
		n.say("$ i3net server --listen %v --ring --ring-preset lan --ring-key-file ring.key   (on %s)", s.data, s.name)
		n.say("  %s starts the overlay: data on %v, gossip on %v, ring position %s… (a hash of its address)", s.name, s.data, seed, pos)
		return s, nil
	}
	n.say("$ i3net server --listen %v --join %v --ring-preset lan --ring-key-file ring.key   (on %s)", s.data, seed, s.name)
	n.say("  %s joined through %s's gossip address, ring position %s…: %d servers, each knows every other (%v)",
		s.name, first.Name(), pos, len(ov.servers), time.Since(start).Round(time.Millisecond))
	return s, nil
}

// share returns the fraction of the ring in (pred, pos], wrapping around.
func share(pred, pos id.Key128) float64 {
	full := new(big.Int).Lsh(big.NewInt(1), 128)
	d := new(big.Int).Sub(new(big.Int).SetBytes(pos[:]), new(big.Int).SetBytes(pred[:]))
	if d.Sign() <= 0 {
		d.Add(d, full)
	}
	f, _ := new(big.Rat).SetFrac(d, full).Float64()
	return f
}

// owner returns the server responsible for x and the one holding its copy.
func (ov *demoRing) owner(x id.ID) (owner, replica string) {
	s := ov.view.Successors(x.Key(), 2)
	return s[0].Name, s[len(s)-1].Name
}

// ringUpTimeout bounds the wait for every server to count a new member:
// generous, for a busy machine, where the "lan" preset may declare a starved
// server dead for a while (it costs nothing when all goes well).
const ringUpTimeout = 60 * time.Second

// waitMembers waits, bounded, until every server started counts want members.
func (ov *demoRing) waitMembers(ctx context.Context, want int) error {
	ctx, cancel := context.WithTimeout(ctx, ringUpTimeout)
	defer cancel()
	for _, s := range ov.servers {
		err := netlab.Poll(ctx, 50*time.Millisecond, func() error {
			m, err := s.metrics(ctx)
			if err != nil {
				return err
			}
			if got := m["i3net_server_ring_members"]; got != float64(want) {
				return fmt.Errorf("%v members", got)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s does not see a ring of %d servers within %v: %w", s.name, want, ringUpTimeout, err)
		}
	}
	return nil
}

// report says what each server did, from its counters.
func (ov *demoRing) report(ctx context.Context, n *narrator) error {
	for _, s := range ov.servers {
		m, err := s.metrics(ctx)
		if err != nil {
			return err
		}
		c := func(name string) int { return int(m["i3net_server_"+name]) }
		n.say("  %s: triggers held %d (copies included), packets delivered %d, sent on in one hop %d, cache hints %d, triggers copied to its successor %d",
			s.name, c("triggers"), c("delivered_total"), c("ring_hops_total"), c("ring_hints_total"), c("replicas_sent_total"))
	}
	return nil
}

// metrics reads the server's Prometheus metrics from inside its host.
func (s demoServer) metrics(ctx context.Context) (map[string]float64, error) {
	return s.host.Metrics(ctx, netip.AddrPortFrom(s.data.Addr(), metricsPort))
}

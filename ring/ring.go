package ring

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/i3net/i3net/id"
)

// Ring is this server's membership in the overlay. Create it with New (it
// listens but joins nobody), Join any member, look up who is responsible for
// an id with Responsible or Snapshot, and end it with Leave then Shutdown.
type Ring struct {
	cfg   Config
	log   *slog.Logger
	local Member
	meta  []byte
	ml    *memberlist.Memberlist

	snap atomic.Pointer[Snapshot]

	// evMu serializes membership events (memberlist already does) with
	// the construction of snapshots and the OnChange calls.
	evMu    sync.Mutex
	members map[string]Member
	version uint64

	stateMu sync.Mutex
	shut    bool
	stop    chan struct{} // closed by Shutdown: ends reconnectLoop

	// failed holds the members that failed without leaving, to reconnect
	// to (reconnect.go).
	failedMu sync.Mutex
	failed   map[string]failedMember
}

// New validates cfg, starts gossiping on its bind address and returns a ring
// of one member, this one. Join others with Join.
func New(cfg Config) (*Ring, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = cfg.DataAddr.String()
	}
	if cfg.Position == (id.Key128{}) {
		cfg.Position = DefaultPosition(cfg.DataAddr)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	bind := cfg.bindAddr()
	r := &Ring{
		cfg: cfg,
		log: log.With("role", "ring", "name", cfg.Name),
		local: Member{
			Name:     cfg.Name,
			Data:     cfg.DataAddr,
			Gossip:   cfg.advertise(bind),
			Position: cfg.Position,
			Epoch:    uint64(time.Now().UnixNano()),
		},
		members: map[string]Member{},
		failed:  map[string]failedMember{},
		stop:    make(chan struct{}),
	}
	r.meta = appendMeta(nil, cfg.DataAddr, cfg.Position, r.local.Epoch)
	r.snap.Store(NewSnapshot(r.local, nil, 0))

	mc := cfg.memberlistConfig(cfg.Name, bind)
	mc.Delegate = delegate{r}
	mc.Events = events{r}
	mc.Logger = newMemberlistLogger(log)
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("ring: gossip on %v: %w", bind, err)
	}
	r.ml = ml
	go r.reconnectLoop()
	return r, nil
}

// Join contacts the members at addrs (gossip addresses, "host:port") and
// merges their view of the overlay with this one. It returns how many it
// reached; the error says why none was, when none was.
func (r *Ring) Join(addrs []string) (int, error) {
	n, err := r.ml.Join(addrs)
	if err != nil {
		return n, fmt.Errorf("ring: join %s: %w", strings.Join(addrs, ", "), err)
	}
	return n, nil
}

// Leave tells the other members that this one is leaving, waiting at most
// timeout for the news to reach one of them (DefaultLeaveTimeout when 0), so
// that its successor takes its ids over at once instead of after the failure
// detection time. Call Shutdown afterwards. Leave after Shutdown does nothing.
func (r *Ring) Leave(timeout time.Duration) error {
	r.stateMu.Lock()
	defer r.stateMu.Unlock()
	if r.shut {
		return nil
	}
	if timeout <= 0 {
		timeout = DefaultLeaveTimeout
	}
	if err := r.ml.Leave(timeout); err != nil {
		return fmt.Errorf("ring: leave: %w", err)
	}
	return nil
}

// Shutdown stops gossiping and closes the gossip sockets. Without a Leave
// before it, the others notice the silence as a failure. It may be called
// more than once.
func (r *Ring) Shutdown() error {
	r.stateMu.Lock()
	defer r.stateMu.Unlock()
	if r.shut {
		return nil
	}
	r.shut = true
	close(r.stop)
	if err := r.ml.Shutdown(); err != nil {
		return fmt.Errorf("ring: shutdown: %w", err)
	}
	return nil
}

// Snapshot returns the current membership. It never returns nil.
func (r *Ring) Snapshot() *Snapshot { return r.snap.Load() }

// Members returns the live members in ring order, this one included.
func (r *Ring) Members() []Member { return slices.Clone(r.snap.Load().Members()) }

// Local returns this member.
func (r *Ring) Local() Member {
	m, _ := r.snap.Load().Local()
	return m
}

// Responsible returns the member that owns key k, from the current snapshot.
func (r *Ring) Responsible(k id.Key128) Member { return r.snap.Load().Responsible(k) }

// Successors returns up to n members from the one responsible for k on, from
// the current snapshot (see Snapshot.Successors).
func (r *Ring) Successors(k id.Key128, n int) []Member { return r.snap.Load().Successors(k, n) }

// GossipAddr returns the gossip address other members reach this one at (with
// the real port when the bind port was 0).
func (r *Ring) GossipAddr() netip.AddrPort {
	n := r.ml.LocalNode()
	a, _ := netip.AddrFromSlice(n.Addr)
	return netip.AddrPortFrom(a.Unmap(), n.Port)
}

// event applies one membership event and publishes the new snapshot.
func (r *Ring) event(kind string, n *memberlist.Node) {
	r.evMu.Lock()
	defer r.evMu.Unlock()
	switch kind {
	case "leave":
		m, ok := r.members[n.Name]
		if !ok {
			return
		}
		delete(r.members, n.Name)
		if n.Name != r.local.Name {
			r.noteFailed(n.Name, m.Gossip, n.State == memberlist.StateLeft, time.Now())
			how := "member failed"
			if n.State == memberlist.StateLeft {
				how = "member left"
			}
			r.log.Info(how, "member", m.Name, "data", m.Data, "members", len(r.members))
		}
	default:
		m, err := memberOf(n)
		if err != nil {
			r.log.Warn("member left off the ring", "member", n.Name, "gossip", n.Address(), "err", err)
			if _, ok := r.members[n.Name]; !ok {
				return
			}
			delete(r.members, n.Name)
			break
		}
		old, had := r.members[n.Name]
		r.members[n.Name] = m
		r.noteAlive(n.Name)
		if n.Name == r.local.Name {
			r.local.Gossip = m.Gossip
		} else if !had || old.Data != m.Data || old.Position != m.Position {
			r.log.Info("member joined", "member", m.Name, "data", m.Data, "gossip", m.Gossip,
				"position", FormatPosition(m.Position)[:8], "members", len(r.members))
		} else if old.Epoch != m.Epoch {
			r.log.Info("member restarted: its triggers go back to it", "member", m.Name, "data", m.Data, "members", len(r.members))
		}
	}
	r.publish()
}

// publish builds the snapshot of r.members and swaps it in; OnChange hears of
// it when members, data addresses or positions differ from the previous
// snapshot's (not for a gossip address alone).
func (r *Ring) publish() {
	list := make([]Member, 0, len(r.members))
	for _, m := range r.members {
		list = append(list, m)
	}
	old := r.snap.Load()
	next := NewSnapshot(r.local, list, r.version+1)
	if next.sameMembers(old) {
		return
	}
	if dups := duplicatePositions(next); dups != "" {
		r.log.Warn("members share a ring position: the first by name owns the range", "members", dups)
	}
	r.version++
	r.snap.Store(next)
	if r.cfg.OnChange != nil && !next.sameOwners(old) {
		r.cfg.OnChange(old, next)
	}
}

// memberOf decodes a memberlist node into a Member.
func memberOf(n *memberlist.Node) (Member, error) {
	data, pos, epoch, err := parseMeta(n.Meta)
	if err != nil {
		return Member{}, err
	}
	a, _ := netip.AddrFromSlice(n.Addr)
	return Member{Name: n.Name, Data: data, Gossip: netip.AddrPortFrom(a.Unmap(), n.Port), Position: pos, Epoch: epoch}, nil
}

func duplicatePositions(s *Snapshot) string {
	var dups []string
	ms := s.Members()
	for i := 1; i < len(ms); i++ {
		if ms[i].Position == ms[i-1].Position {
			dups = append(dups, ms[i-1].Name+" = "+ms[i].Name)
		}
	}
	return strings.Join(dups, ", ")
}

// delegate is memberlist's Delegate: it gives this member's metadata and
// carries no messages of its own (servers talk on their data sockets).
type delegate struct{ r *Ring }

func (d delegate) NodeMeta(limit int) []byte {
	if len(d.r.meta) > limit {
		return nil // cannot happen: metadata is at most 44 bytes
	}
	return d.r.meta
}
func (delegate) NotifyMsg([]byte)                       {}
func (delegate) GetBroadcasts(int, int) [][]byte        { return nil }
func (delegate) LocalState(bool) []byte                 { return nil }
func (delegate) MergeRemoteState(buf []byte, join bool) {}

// events is memberlist's EventDelegate.
type events struct{ r *Ring }

func (e events) NotifyJoin(n *memberlist.Node)   { e.r.event("join", n) }
func (e events) NotifyLeave(n *memberlist.Node)  { e.r.event("leave", n) }
func (e events) NotifyUpdate(n *memberlist.Node) { e.r.event("update", n) }

var _ memberlist.Delegate = delegate{}
var _ memberlist.EventDelegate = events{}

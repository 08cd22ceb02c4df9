package ring

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/i3net/i3net/id"
)

// Config is what a Ring needs. Start from DefaultConfig or LANConfig, set
// DataAddr, and pass it to New, which validates it and keeps its own copy.
//
// Failure detection (memberlist's SWIM): every ProbeInterval each member
// probes one other, in turn, so a dead member is probed within about one
// interval; a probe unanswered within ProbeTimeout is retried through
// other members until the interval ends; then the member is suspected, and
// declared dead when nobody has refuted it for
// SuspicionMult × max(1, log10(members)) × ProbeInterval (memberlist
// stretches this when it waits for confirmations from other members, with
// SuspicionMult above 2 and four members or more). Its successor on the ring
// then owns its ids. Shorter values notice a death sooner; the price is
// probe traffic (one probe per member per interval) and false deaths: a
// member that cannot answer for less than the whole detection time (a long
// GC pause, a starved CPU, a burst of loss) is declared dead, then refutes
// and rejoins, and its ids move away and back.
type Config struct {
	// Name is this member's node name, unique in the overlay. Default: the
	// data address as text.
	Name string

	// DataAddr is the server's overlay data address: where hosts and other
	// servers send it packets, and the source address of what it sends. It
	// must be a specific unicast IP and a port. Required.
	DataAddr netip.AddrPort

	// Position is this member's ring position. The zero value means the
	// default, DefaultPosition(DataAddr): positions spread evenly by hash.
	// Set it to place servers by hand (for example to split the ring evenly
	// among few servers).
	Position id.Key128

	// BindAddr is where the member gossips, UDP and TCP on the same port.
	// Port 0 picks a free port. Default: DataAddr's IP and the next port
	// (data port + 1).
	BindAddr netip.AddrPort

	// AdvertiseAddr is the gossip address other members are told to use
	// (behind a NAT or a port forward). Default: BindAddr, or DataAddr's IP
	// with BindAddr's port when BindAddr's IP is unspecified (0.0.0.0, ::).
	AdvertiseAddr netip.AddrPort

	// ProbeInterval is how often this member probes another one; see the
	// type's comment for what it trades. Default 1 s; LANConfig 200 ms.
	ProbeInterval time.Duration

	// ProbeTimeout is how long a probe waits for its answer before asking
	// other members to probe: about the 99th percentile of the round-trip
	// time between servers. Default 500 ms; LANConfig 100 ms.
	ProbeTimeout time.Duration

	// SuspicionMult scales how long a suspected member has to refute before
	// it is declared dead (in probe intervals, times log10 of the member
	// count when that is above 1). Default 4; LANConfig 2, which also makes
	// the time fixed instead of waiting for other members' confirmations.
	SuspicionMult int

	// GossipInterval is how often membership news is sent to a few random
	// members (besides what rides on probes). Default 200 ms; LANConfig
	// 100 ms.
	GossipInterval time.Duration

	// PushPullInterval is how often a member exchanges its whole membership
	// list with a random other one over TCP, which repairs whatever gossip
	// missed. Default 30 s; LANConfig 10 s.
	PushPullInterval time.Duration

	// DeadReclaim is how long after a member died another node may take its
	// name with a different gossip address (a server restarted on another
	// gossip port). Default 10 s; LANConfig 2 s.
	DeadReclaim time.Duration

	// ReconnectInterval is how often this member tries to reach again one
	// member it declared dead (picked at random among those that failed
	// without leaving, for ReconnectTimeout). memberlist alone never does:
	// it stops gossiping to a dead member soon after its death and exchanges
	// state only with live ones, so after a network partition heals each
	// half goes on believing the other dead, and a restarted server that
	// joins nobody (the first of an overlay) stays alone; either way two
	// overlays each own every id. A reconnect is a memberlist join: the two
	// sides exchange their state, each refutes its own death, and the
	// overlay is one again. Default 10 s; LANConfig 2 s; 0 means the default.
	ReconnectInterval time.Duration

	// ReconnectTimeout is how long after its failure a member is still tried
	// (a server gone for good is then forgotten). Default 24 h, as Serf's;
	// 0 means the default.
	ReconnectTimeout time.Duration

	// Label is carried by every gossip datagram and stream; members with
	// another label are ignored. Default DefaultLabel.
	Label string

	// SecretKey, when set (16, 24 or 32 bytes), encrypts and authenticates
	// every gossip datagram and stream (memberlist's AES-GCM keyring): only
	// members holding it join. Default none.
	SecretKey []byte

	// Logger receives the ring's log lines: one per member joining, leaving
	// or failing, at Info, and memberlist's own lines, all at Debug. nil
	// means slog.Default().
	Logger *slog.Logger

	// OnChange, when set, is called after each change of membership with the
	// snapshot before and after it. Calls are serial. It runs on memberlist's
	// event path, under memberlist's lock: it must return quickly (hand work
	// to another goroutine) and must not call Join, Leave or Shutdown.
	// Reading the snapshots, and Ring.Snapshot, is fine.
	OnChange func(old, new *Snapshot)
}

// DefaultConfig returns memberlist's LAN settings, conservative and proven:
// a dead server is noticed in about 5 s (more when few members confirm the
// suspicion), and a member survives pauses of several seconds. Set DataAddr.
func DefaultConfig() Config {
	return Config{
		ProbeInterval:     time.Second,
		ProbeTimeout:      500 * time.Millisecond,
		SuspicionMult:     4,
		GossipInterval:    200 * time.Millisecond,
		PushPullInterval:  30 * time.Second,
		DeadReclaim:       10 * time.Second,
		ReconnectInterval: defaultReconnectInterval,
		ReconnectTimeout:  defaultReconnectTimeout,
		Label:             DefaultLabel,
	}
}

// LANConfig returns settings for servers on one fast network (a LAN or a data
// centre, round trips well under 50 ms): a dead server is noticed in about a
// second (0.6–0.9 s under ten members: at most one probe interval until it is
// probed, one interval of failed direct and indirect probes, two intervals of
// suspicion), at the price of five probes per second per member and of false
// deaths for a member that cannot answer for about half a second. Set
// DataAddr.
func LANConfig() Config {
	c := DefaultConfig()
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.SuspicionMult = 2
	c.GossipInterval = 100 * time.Millisecond
	// A full state exchange with one random member every 3 s: a member that
	// missed every gossip of a join (seen once in an e2e run of six servers)
	// learns of it within seconds, not at the next 10 or 30 s exchange.
	c.PushPullInterval = 3 * time.Second
	c.DeadReclaim = 2 * time.Second
	c.ReconnectInterval = 2 * time.Second
	return c
}

// validate reports the first value of c that New cannot use.
func (c *Config) validate() error {
	d := c.DataAddr
	if !d.IsValid() || d.Addr().IsUnspecified() || d.Addr().IsMulticast() || d.Port() == 0 || d.Addr().Zone() != "" {
		return fmt.Errorf("ring: config: data address %v: want a specific unicast IP and a port", d)
	}
	if c.BindAddr.IsValid() && c.BindAddr.Addr().Zone() != "" {
		return fmt.Errorf("ring: config: gossip bind address %v: zones are not supported", c.BindAddr)
	}
	if !c.BindAddr.IsValid() && d.Port() == 65535 {
		return errors.New("ring: config: data port 65535 leaves no next port for gossip; set the gossip address")
	}
	if a := c.AdvertiseAddr; a.IsValid() && (a.Addr().IsUnspecified() || a.Port() == 0) {
		return fmt.Errorf("ring: config: gossip advertise address %v: want a specific IP and a port", a)
	}
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"probe interval", c.ProbeInterval},
		{"probe timeout", c.ProbeTimeout},
		{"gossip interval", c.GossipInterval},
		{"push/pull interval", c.PushPullInterval},
	}
	for _, x := range durations {
		if x.d <= 0 {
			return fmt.Errorf("ring: config: %s %v: must be positive", x.name, x.d)
		}
	}
	if c.ProbeTimeout > c.ProbeInterval {
		return fmt.Errorf("ring: config: probe timeout %v above the probe interval %v", c.ProbeTimeout, c.ProbeInterval)
	}
	if c.SuspicionMult < 1 {
		return fmt.Errorf("ring: config: suspicion multiplier %d: must be at least 1", c.SuspicionMult)
	}
	if c.ReconnectInterval < 0 || c.ReconnectTimeout < 0 {
		return fmt.Errorf("ring: config: reconnect interval %v, timeout %v: must not be negative", c.ReconnectInterval, c.ReconnectTimeout)
	}
	if c.DeadReclaim < 0 {
		return fmt.Errorf("ring: config: dead reclaim time %v: must not be negative", c.DeadReclaim)
	}
	if len(c.Label) > memberlist.LabelMaxSize {
		return fmt.Errorf("ring: config: label %q: longer than %d bytes", c.Label, memberlist.LabelMaxSize)
	}
	return nil
}

// bindAddr returns the gossip bind address with the default applied.
func (c *Config) bindAddr() netip.AddrPort {
	if c.BindAddr.IsValid() {
		return c.BindAddr
	}
	return netip.AddrPortFrom(c.DataAddr.Addr(), c.DataAddr.Port()+1)
}

// advertiseIP returns the gossip address to advertise with port (the bound
// one) when AdvertiseAddr is not set.
func (c *Config) advertise(bound netip.AddrPort) netip.AddrPort {
	if c.AdvertiseAddr.IsValid() {
		return c.AdvertiseAddr
	}
	if bound.Addr().IsUnspecified() {
		return netip.AddrPortFrom(c.DataAddr.Addr(), bound.Port())
	}
	return bound
}

// memberlistConfig translates c for memberlist; delegates are set by New.
func (c *Config) memberlistConfig(name string, bind netip.AddrPort) *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	mc.Name = name
	mc.BindAddr = bind.Addr().String()
	mc.BindPort = int(bind.Port())
	if c.AdvertiseAddr.IsValid() || bind.Addr().IsUnspecified() {
		adv := c.advertise(bind)
		mc.AdvertiseAddr = adv.Addr().String()
		mc.AdvertisePort = int(adv.Port())
	} else {
		mc.AdvertisePort = mc.BindPort
	}
	mc.ProbeInterval = c.ProbeInterval
	mc.ProbeTimeout = c.ProbeTimeout
	mc.SuspicionMult = c.SuspicionMult
	mc.GossipInterval = c.GossipInterval
	mc.PushPullInterval = c.PushPullInterval
	mc.GossipToTheDeadTime = c.PushPullInterval
	mc.DeadNodeReclaimTime = c.DeadReclaim
	mc.Label = c.Label
	if len(c.SecretKey) > 0 {
		mc.SecretKey = c.SecretKey
	}
	return mc
}

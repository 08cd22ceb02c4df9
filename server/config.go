package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/i3net/i3net/internal/clock"
	"github.com/i3net/i3net/ring"
)

// Config is everything a server needs. Start from DefaultConfig (or TestConfig),
// change what you need, and pass it to New, which validates it; the server keeps
// its own copy, so changing a Config after New has no effect. The toml tags are
// the keys of the configuration file (see ParseConfig).
type Config struct {
	// ListenAddr is the UDP address the server binds, as "IP:PORT". An empty IP
	// (":5610") means 0.0.0.0, all IPv4 addresses; "[::]:5610" binds IPv6 only.
	// One server serves one address family: triggers whose target is of the
	// other family are refused. Port 0 picks a free port (see Server.Addr).
	// Default "0.0.0.0:5610", the original i3 server's port.
	ListenAddr string `toml:"listen_addr"`

	// PublicAddr is the address this server advertises in CACHE_ADDR replies
	// (where hosts should send packets for the ids it holds). Set it when the
	// server is reached through a NAT or a port forward. When it is zero, the
	// bound address is advertised if it is a specific IP; a server bound to
	// 0.0.0.0 or :: advertises, to each host, the address the host's request
	// arrived at (read from IP_PKTINFO) with the bound port. Default unset.
	PublicAddr netip.AddrPort `toml:"public_addr"`

	// TriggerTTL is how long a trigger lives without a refresh. Hosts refresh
	// well within it (our clients every 10–15 s, the original ones every
	// 13–18 s). Default 30 s, the original's value.
	TriggerTTL time.Duration `toml:"trigger_ttl"`

	// SweepInterval is how often expired triggers are removed from memory.
	// Expiry itself is exact whatever the interval (a lookup ignores a trigger
	// past its time); the sweep only frees memory and updates the counters, at
	// a cost proportional to the table size. Default 2 s.
	SweepInterval time.Duration `toml:"sweep_interval"`

	// SecretRotation is the lifetime of the secret that challenge nonces are
	// computed with. The previous secret is still accepted, so a nonce stays
	// valid between one and two rotations; after that a refresh is challenged
	// again (the installed trigger stays until it expires). Shorter means a
	// leaked nonce is useful for less time, at the cost of more challenges.
	// Default 5 min.
	SecretRotation time.Duration `toml:"secret_rotation"`

	// SignatureSkew is how far the time of an EXT_SIGNATURE may be from this
	// server's clock, either way. It bounds replays of signed insertions and
	// removals. Default 5 min.
	SignatureSkew time.Duration `toml:"signature_skew"`

	// RequireSignedPublic refuses insertions and removals of public ids
	// (id.IsPublic) that carry no EXT_SIGNATURE. A signature that is present is
	// always checked. Default true: nobody can claim another host's public id.
	// The original Berkeley clients cannot sign; to let them insert public ids,
	// turn it off ("i3net server --allow-unsigned-public").
	RequireSignedPublic bool `toml:"require_signed_public"`

	// DataRate is how many datagrams per second one source address may send
	// that are not insertions or removals (data packets, pings, cache
	// requests); DataBurst is how many it may send at once. Sources are IPv4
	// addresses or IPv6 /64 prefixes. Datagrams over the limit are dropped and
	// counted, never answered. A rate of 0 disables the limit.
	// Default 1000000 per second, burst 100000 (about 11 Gb/s of 1400-byte
	// packets: it stops a flood, not a bulk transfer; at 200000 one TCP
	// stream through a relay lost 15% of its packets here).
	DataRate  float64 `toml:"data_rate"`
	DataBurst int     `toml:"data_burst"`

	// InsertRate is how many datagrams carrying TRIGGER_INSERT or
	// TRIGGER_REMOVE one source address may send per second; InsertBurst how
	// many at once. Over the limit, a host that sent EXT_HELLO gets an
	// EXT_ERROR; others get nothing. 0 disables the limit.
	// Default 100 per second, burst 200 (a proxy with 1000 peers refreshing
	// every 10 s needs 100).
	InsertRate  float64 `toml:"insert_rate"`
	InsertBurst int     `toml:"insert_burst"`

	// ReplyRate is how many control replies (challenges, acks, cache replies,
	// not-present notices, errors) per second the server sends to one
	// destination address; ReplyBurst how many at once. This bounds what the
	// server can be made to send to a third party by spoofed requests (a
	// challenge goes to the trigger's target, whoever asked). 0 disables it.
	// Default 1000 per second, burst 2000.
	ReplyRate  float64 `toml:"reply_rate"`
	ReplyBurst int     `toml:"reply_burst"`

	// MaxTriggers caps the trigger table; insertions beyond it are refused
	// (EXT_ERROR "trigger table full"). Each trigger takes about 200 bytes.
	// Default 1000000.
	MaxTriggers int `toml:"max_triggers"`

	// MaxTriggersPerSource caps the triggers installed from one source address
	// (IPv4 address or IPv6 /64), so that one host cannot fill the table.
	// Default 10000.
	MaxTriggersPerSource int `toml:"max_triggers_per_source"`

	// MaxFanout caps the copies one received packet can produce (multicast
	// groups, stack expansions); further copies are dropped and counted.
	// Default 1024.
	MaxFanout int `toml:"max_fanout"`

	// MaxHops caps the stack-target expansions of one packet on this server
	// (service composition, paper §2.1), which also ends trigger loops.
	// At most 16. Default 8.
	MaxHops int `toml:"max_hops"`

	// BatchSize is how many datagrams one system call reads or writes
	// (recvmmsg/sendmmsg). Each takes a 66 KB buffer. Default 64.
	BatchSize int `toml:"batch_size"`

	// SocketBuffer is the size asked for the socket's receive and send buffers,
	// in bytes (the kernel may cap it, see net.core.rmem_max). 0 keeps the
	// system default. Default 4 MiB.
	SocketBuffer int `toml:"socket_buffer"`

	// Ring makes this server one of many in one overlay (package ring): each
	// server owns the ids whose first 128 bits fall in its part of a ring,
	// a packet for an id another server owns goes there in one hop (its
	// sender gets a CACHE_ADDR hint and then sends there directly), and the
	// triggers a server owns are copied to the next servers of the ring. It
	// is on when Ring is true or GossipAddr or Join is set; a server in a
	// ring needs a specific data address (ListenAddr with a specific IP, or
	// PublicAddr), which must be the source address of its datagrams: servers
	// recognise one another by it. Default off: one server is the overlay.
	Ring bool `toml:"ring"`

	// GossipAddr is where the server gossips with the other servers, UDP and
	// TCP on one port, as "IP:PORT" (port 0 picks a free one). Default: the
	// data address's IP and the next port (5611 for 5610).
	GossipAddr string `toml:"gossip_addr"`

	// GossipAdvertise is the gossip address the other servers are told to
	// use, when it is not GossipAddr (a NAT, a port forward). Default unset.
	GossipAdvertise netip.AddrPort `toml:"gossip_advertise"`

	// Join lists gossip addresses ("host:port") of servers already in the
	// overlay; one that answers is enough. Run joins them and, until one
	// answers, tries again every 2 s. Empty: this server starts an overlay
	// that the others join. Default empty.
	Join []string `toml:"join"`

	// RingPosition places this server on the ring, as 32 hex digits (the
	// server owns the ids whose first 128 bits are at most this and above its
	// predecessor's position). Default: derived from the data address, which
	// spreads servers by hash (ring.DefaultPosition).
	RingPosition string `toml:"ring_position"`

	// RingPreset chooses the failure detector's timers (see ring.Config):
	// "default", memberlist's LAN values, notices a dead server in about 5 s
	// and tolerates a server that cannot answer for seconds; "lan" notices it
	// in about 1 s, for servers on one fast network, and declares dead (until
	// it answers again) a server that cannot answer for half a second, which
	// moves its ids away and back. Default "default".
	RingPreset string `toml:"ring_preset"`

	// Replicas is how many of the next servers of the ring hold a copy of each
	// trigger this server owns, so that many servers may fail at once without
	// losing a trigger. Copies count against MaxTriggers and
	// MaxTriggersPerSource: size those for (1 + Replicas) times what a server
	// owns. 0 turns replication off. At most 8. Default 1.
	Replicas int `toml:"replicas"`

	// RingKey is a secret the servers of one ring share: 32 random bytes in
	// base64 (head -c 32 /dev/urandom | base64). With it, gossip is
	// encrypted and authenticated, so only servers holding the key join,
	// and every replication datagram carries an HMAC (EXT_RING_AUTH) without
	// which it is dropped (ring_auth); without it, a server takes replicas
	// from any datagram whose source is a member's data address, which
	// anyone able to spoof that address can send (docs/security.md). Every
	// server of a ring needs the same key, or none. RingKeyFile names a file
	// holding it instead (keep it readable by the server alone). Default none.
	RingKey     string `toml:"ring_key"`
	RingKeyFile string `toml:"ring_key_file"`

	// Clock is the time source of expiry, rate limits, secret rotation and
	// signature times. nil means the system clock.
	Clock clock.Clock `toml:"-"`

	// Logger receives the server's few log lines (start, stop, socket
	// errors); packets are never logged, they are counted (Stats). nil means
	// slog.Default().
	Logger *slog.Logger `toml:"-"`
}

// DefaultConfig returns the configuration of a production server; each value is
// explained at its field.
func DefaultConfig() Config {
	return Config{
		ListenAddr:           "0.0.0.0:5610",
		TriggerTTL:           30 * time.Second,
		SweepInterval:        2 * time.Second,
		SecretRotation:       5 * time.Minute,
		SignatureSkew:        5 * time.Minute,
		RequireSignedPublic:  true,
		DataRate:             1000000,
		DataBurst:            100000,
		InsertRate:           100,
		InsertBurst:          200,
		ReplyRate:            1000,
		ReplyBurst:           2000,
		MaxTriggers:          1000000,
		MaxTriggersPerSource: 10000,
		MaxFanout:            1024,
		MaxHops:              8,
		BatchSize:            64,
		SocketBuffer:         4 << 20,
		RingPreset:           "default",
		Replicas:             1,
	}
}

// TestConfig returns a configuration for tests: a free port on 127.0.0.1, short
// timers, a small batch, and a logger that discards.
func TestConfig() Config {
	c := DefaultConfig()
	c.ListenAddr = "127.0.0.1:0"
	c.TriggerTTL = 10 * time.Second
	c.SweepInterval = 100 * time.Millisecond
	c.SecretRotation = time.Minute
	c.BatchSize = 16
	c.SocketBuffer = 1 << 20
	c.RingPreset = "lan"
	c.Logger = slog.New(slog.DiscardHandler)
	return c
}

// ConfigError is a configuration value New refuses. Key is the value's key in
// the configuration file (the Config field's toml tag).
type ConfigError struct {
	Key   string
	Value any
	Msg   string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("server: config: %s = %v: %s", e.Key, e.Value, e.Msg)
}

// listenAddr parses ListenAddr; an empty host means 0.0.0.0.
func (c *Config) listenAddr() (netip.AddrPort, error) {
	s := c.ListenAddr
	if strings.HasPrefix(s, ":") {
		s = "0.0.0.0" + s
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || ap.Addr().Zone() != "" {
		return netip.AddrPort{}, &ConfigError{"listen_addr", fmt.Sprintf("%q", c.ListenAddr),
			"want IP:PORT, e.g. 0.0.0.0:5610, 127.0.0.1:0 or [::]:5610"}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// validate reports the first value of c that New cannot use.
func (c *Config) validate() error {
	if _, err := c.listenAddr(); err != nil {
		return err
	}
	if c.PublicAddr.IsValid() {
		a := c.PublicAddr.Addr()
		if a.IsUnspecified() || a.IsMulticast() || c.PublicAddr.Port() == 0 {
			return &ConfigError{"public_addr", c.PublicAddr, "want a specific unicast IP and a non-zero port"}
		}
	}
	positive := []struct {
		key string
		d   time.Duration
	}{
		{"trigger_ttl", c.TriggerTTL},
		{"sweep_interval", c.SweepInterval},
		{"secret_rotation", c.SecretRotation},
		{"signature_skew", c.SignatureSkew},
	}
	for _, p := range positive {
		if p.d <= 0 {
			return &ConfigError{p.key, p.d, "must be positive"}
		}
	}
	if c.SecretRotation < time.Second {
		return &ConfigError{"secret_rotation", c.SecretRotation, "must be at least 1s (hosts need time to answer a challenge)"}
	}
	rates := []struct {
		rateKey, burstKey string
		rate              float64
		burst             int
	}{
		{"data_rate", "data_burst", c.DataRate, c.DataBurst},
		{"insert_rate", "insert_burst", c.InsertRate, c.InsertBurst},
		{"reply_rate", "reply_burst", c.ReplyRate, c.ReplyBurst},
	}
	for _, r := range rates {
		if r.rate < 0 || r.rate != r.rate || r.rate > 1e9 {
			return &ConfigError{r.rateKey, r.rate, "want a rate per second between 0 (no limit) and 1e9"}
		}
		if r.rate > 0 && r.burst < 1 {
			return &ConfigError{r.burstKey, r.burst, "must be at least 1 when " + r.rateKey + " is set"}
		}
	}
	counts := []struct {
		key      string
		v        int
		min, max int
	}{
		{"max_triggers", c.MaxTriggers, 1, 1 << 30},
		{"max_triggers_per_source", c.MaxTriggersPerSource, 1, 1 << 30},
		{"max_fanout", c.MaxFanout, 1, 1 << 20},
		{"max_hops", c.MaxHops, 1, maxHopsLimit},
		{"batch_size", c.BatchSize, 1, 1024},
		{"socket_buffer", c.SocketBuffer, 0, 1 << 30},
	}
	for _, n := range counts {
		if n.v < n.min || n.v > n.max {
			return &ConfigError{n.key, n.v, fmt.Sprintf("want %d..%d", n.min, n.max)}
		}
	}
	return c.validateRing()
}

// ringEnabled reports whether the server is one of a ring of servers.
func (c *Config) ringEnabled() bool { return c.Ring || c.GossipAddr != "" || len(c.Join) > 0 }

// validateRing checks the ring's keys (those with values are checked even
// when the ring is off, so a typo does not wait for the day it is turned on).
func (c *Config) validateRing() error {
	if c.Replicas < 0 || c.Replicas > maxReplicas {
		return &ConfigError{"replicas", c.Replicas, fmt.Sprintf("want 0..%d", maxReplicas)}
	}
	if _, err := ringPreset(c.RingPreset); err != nil {
		return err
	}
	if _, err := c.ringKey(); err != nil {
		return err
	}
	if c.RingPosition != "" {
		if _, err := ring.ParsePosition(c.RingPosition); err != nil {
			return &ConfigError{"ring_position", fmt.Sprintf("%q", c.RingPosition), "want 32 hex digits (128 bits)"}
		}
	}
	if c.GossipAddr != "" {
		if _, err := c.gossipAddr(); err != nil {
			return err
		}
	}
	if a := c.GossipAdvertise; a.IsValid() && (a.Addr().IsUnspecified() || a.Port() == 0) {
		return &ConfigError{"gossip_advertise", a, "want a specific IP and a non-zero port"}
	}
	for _, j := range c.Join {
		if _, port, err := net.SplitHostPort(j); err != nil || port == "" || port == "0" {
			return &ConfigError{"join", fmt.Sprintf("%q", j), "want HOST:PORT, the gossip address of a server in the overlay"}
		}
	}
	if c.ringEnabled() && !c.PublicAddr.IsValid() {
		if ap, _ := c.listenAddr(); ap.Addr().IsUnspecified() {
			return &ConfigError{"public_addr", "unset", "a server in a ring needs a specific data address, " +
				"which its peers recognise it by: bind one (listen_addr, --listen) or set public_addr (--advertise)"}
		}
	}
	return nil
}

// gossipAddr parses GossipAddr.
func (c *Config) gossipAddr() (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(c.GossipAddr)
	if err != nil || ap.Addr().Zone() != "" {
		return netip.AddrPort{}, &ConfigError{"gossip_addr", fmt.Sprintf("%q", c.GossipAddr),
			"want IP:PORT, e.g. 198.18.0.1:5611 or 0.0.0.0:5611"}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// ringPreset returns the ring configuration a preset names.
func ringPreset(name string) (ring.Config, error) {
	switch name {
	case "default", "":
		return ring.DefaultConfig(), nil
	case "lan":
		return ring.LANConfig(), nil
	}
	return ring.Config{}, &ConfigError{"ring_preset", fmt.Sprintf("%q", name), `want "default" or "lan"`}
}

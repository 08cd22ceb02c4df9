package ring

import "time"

// Fixed values of the ring protocol; what operators tune is in Config.
const (
	// metaVersion is the version of a member's metadata (the first byte of
	// memberlist's node metadata). A reader of version 1 ignores bytes after
	// the fields it knows, so fields can be appended without a new version;
	// a member whose metadata has another version is left off the ring.
	metaVersion = 1

	// metaMaxLen is memberlist's limit on node metadata, in bytes.
	metaMaxLen = 512

	// positionContext starts the hash a default ring position is derived from.
	positionContext = "i3net ring v1\x00"

	// DefaultLabel is the label every gossip datagram and stream carries: nodes
	// of another memberlist cluster (Consul, Nomad, another i3net overlay with
	// its own label) on the same port are ignored.
	DefaultLabel = "i3net-ring-v1"

	// DefaultLeaveTimeout is how long Leave waits for the departure to be
	// gossiped to at least one other member.
	DefaultLeaveTimeout = 2 * time.Second

	// defaultReconnectInterval and defaultReconnectTimeout are
	// Config.ReconnectInterval's and ReconnectTimeout's defaults.
	defaultReconnectInterval = 10 * time.Second
	defaultReconnectTimeout  = 24 * time.Hour
)

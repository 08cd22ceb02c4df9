package dns

import "time"

const (
	// DefaultSuffix is the overlay suffix: names under it are overlay names.
	DefaultSuffix = "i3"

	// MaxTTL is the largest TTL an overlay answer may carry (§3.2: a short TTL,
	// so that programs ask again and each answer refreshes the mapping).
	MaxTTL = 5 * time.Second

	// DefaultForwardBudget is how long a forwarded query waits for the
	// upstreams in all before the program gets SERVFAIL: well under the 5 s
	// after which glibc's stub resolver asks again.
	DefaultForwardBudget = 2 * time.Second

	// DefaultMaxInflight bounds the queries the forwarder has in flight.
	DefaultMaxInflight = 64

	// ednsUDPSize is the UDP payload size advertised in answers (bytes; the
	// DNS flag day 2020 value).
	ednsUDPSize = 1232

	// maxMessage is the largest DNS message, in bytes (a TCP length prefix).
	maxMessage = 65535

	// headerLen is the size of a DNS header, in bytes.
	headerLen = 12
)

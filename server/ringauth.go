package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"os"
	"strings"
	"time"

	"github.com/i3net/i3net/wire"
)

// Ring authentication: servers that share a ring key (Config.RingKey) end
// their EXT_REPLICATE datagrams with EXT_RING_AUTH (wire/ringauth.go), an
// HMAC under a key derived from the ring key, and take replicas only from
// datagrams that carry a valid one stamped within ringAuthSkew of their
// clock. The same ring key, derived differently, encrypts the gossip
// (memberlist's SecretKey), so a host without it can neither join nor
// replicate. Without a ring key, a member is recognised by its data address
// alone (docs/security.md).

// ringKeyLen is the size of a ring key.
const ringKeyLen = 32

// ringAuthSkew is how far a replication datagram's time may be from the
// receiver's clock: it bounds how long a captured datagram can be replayed.
const ringAuthSkew = 30 * time.Second

// parseRingKey decodes a ring key: 32 bytes in standard or URL base64.
func parseRingKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil && len(k) == ringKeyLen {
			return k, nil
		}
	}
	return nil, fmt.Errorf("want %d random bytes in base64, e.g. from: head -c 32 /dev/urandom | base64", ringKeyLen)
}

// ringKey returns the configured ring key (RingKey, or the file RingKeyFile
// names), or nil.
func (c *Config) ringKey() ([]byte, error) {
	switch {
	case c.RingKey != "" && c.RingKeyFile != "":
		return nil, &ConfigError{"ring_key_file", fmt.Sprintf("%q", c.RingKeyFile), "set ring_key or ring_key_file, not both"}
	case c.RingKey != "":
		k, err := parseRingKey(c.RingKey)
		if err != nil {
			return nil, &ConfigError{"ring_key", "(hidden)", err.Error()}
		}
		return k, nil
	case c.RingKeyFile != "":
		b, err := os.ReadFile(c.RingKeyFile)
		if err != nil {
			return nil, &ConfigError{"ring_key_file", fmt.Sprintf("%q", c.RingKeyFile), err.Error()}
		}
		k, err := parseRingKey(string(b))
		if err != nil {
			return nil, &ConfigError{"ring_key_file", fmt.Sprintf("%q", c.RingKeyFile), err.Error()}
		}
		return k, nil
	}
	return nil, nil
}

// deriveKey returns HMAC-SHA256(key, label): one key per use of the ring key.
func deriveKey(key []byte, label string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// ringAuth seals and checks EXT_RING_AUTH. It is not safe for concurrent
// use: the worker and the handover have one each.
type ringAuth struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

func newRingAuth(key []byte) *ringAuth {
	if key == nil {
		return nil
	}
	return &ringAuth{mac: hmac.New(sha256.New, deriveKey(key, "i3net ring auth v1"))}
}

// seal ends control datagram b (wire.AppendControlHeader) with EXT_RING_AUTH
// stamped now, sets the option list's length, and returns the datagram. A
// nil ringAuth only sets the length.
func (a *ringAuth) seal(b []byte, now time.Time) []byte {
	if a == nil {
		wire.EndControl(b)
		return b
	}
	b, at := wire.AppendRingAuth(b, now.UnixMilli())
	wire.EndControl(b)
	copy(b[at:], a.tag(b[:at]))
	return b
}

// check reports whether p, decoded from b, ends with a valid EXT_RING_AUTH
// stamped within ringAuthSkew of now.
func (a *ringAuth) check(p *wire.Packet, b []byte, now time.Time) bool {
	ms, tag, at, err := wire.RingAuthOf(p, b)
	if err != nil {
		return false
	}
	if d := now.UnixMilli() - ms; d > ringAuthSkew.Milliseconds() || d < -ringAuthSkew.Milliseconds() {
		return false
	}
	return hmac.Equal(tag, a.tag(b[:at]))
}

// tag returns the truncated MAC of b, in a's scratch.
func (a *ringAuth) tag(b []byte) []byte {
	a.mac.Reset()
	a.mac.Write(b)
	return a.mac.Sum(a.sum[:0])[:wire.RingAuthTagLen]
}

// hasReplica reports whether p carries EXT_REPLICATE.
func hasReplica(p *wire.Packet) bool {
	for i := range p.Options {
		if p.Options[i].Type == wire.ExtReplicate {
			return true
		}
	}
	return false
}

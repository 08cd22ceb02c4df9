package server

import (
	"errors"
	"sync/atomic"

	"github.com/i3net/i3net/wire"
)

// Stats are the server's counters since New. Every datagram received is counted
// once in PacketsIn and then exactly once in one of Pings, Handled, or the
// classification drops (the wire reasons, DropTooBig, DropRateLimited); the other
// counters say what became of the handled ones.
type Stats struct {
	PacketsIn  uint64 // datagrams received
	BytesIn    uint64 // bytes received (UDP payload)
	PacketsOut uint64 // datagrams sent
	BytesOut   uint64 // bytes sent (UDP payload)

	Handled uint64 // datagrams that decoded and were within their source's rate
	Pings   uint64 // pings echoed

	Forwarded    uint64 // data packets that matched at least one trigger
	Delivered    uint64 // copies of data packets sent to IP targets
	Expanded     uint64 // ids replaced by a trigger's stack (service composition)
	Popped       uint64 // unmatched ids popped to route on the next one
	NotPresent   uint64 // data packets nothing matched (TRIGGER_NOT_PRESENT to a SENDER)
	CacheReplies uint64 // CACHE_ADDR answers to REQUEST_FOR_CACHE
	NATRewrites  uint64 // first-hop packets whose SENDER differed from their source (§5.1)

	Inserts         uint64 // TRIGGER_INSERT options received
	Challenges      uint64 // TRIGGER_CHALLENGE sent
	StaleNonces     uint64 // insertions with a non-zero nonce that did not verify (re-challenged)
	Acks            uint64 // TRIGGER_ACK sent
	Installed       uint64 // triggers added to the table
	Refreshed       uint64 // triggers whose lifetime a valid insertion renewed
	Removals        uint64 // triggers removed by TRIGGER_REMOVE
	RemovalsRefused uint64 // TRIGGER_REMOVE with a wrong nonce or signature
	Expired         uint64 // triggers removed for want of a refresh
	Triggers        uint64 // triggers in the table now (expired ones count until swept)
	ErrorsSent      uint64 // EXT_ERROR replies sent

	Shortcuts   uint64 // copies delivered with the sender's SENDER: trigger and packet allow a shortcut (§5.2)
	ServerLists uint64 // EXT_SERVER_LIST answers

	// The ring of servers (all zero for a server alone).
	Hops             uint64 // packets sent on, in one hop, to the server responsible for their id
	HopsIn           uint64 // packets (data or requests) received from another server
	Misrouted        uint64 // of those, ones for ids this server does not own in its view (views differ): handled here
	Hints            uint64 // CACHE_ADDR hints naming another server: to senders of packets sent on, answers to cache requests
	ReplicasSent     uint64 // triggers sent to other servers in EXT_REPLICATE (replication and handover)
	ReplicasReceived uint64 // EXT_REPLICATE triggers applied here
	ReplicasRefused  uint64 // EXT_REPLICATE triggers refused by the table (MaxTriggers, MaxTriggersPerSource)
	ReplicaTakeovers uint64 // triggers this server began to serve because ownership of their ids moved to it
	RingMembers      uint64 // servers in the ring now, this one included

	// Refused counts refused insertions and removals by reason (index with a
	// Refusal). Hosts that sent EXT_HELLO are told why.
	Refused [NumRefusals]uint64
	// Drops counts datagrams or copies dropped, by reason (index with a
	// DropReason).
	Drops [NumDropReasons]uint64
}

// DropReason says why a datagram (or one copy of it) was dropped.
type DropReason uint8

// Drop reasons. The first seven are the wire package's sentinel errors.
const (
	DropTruncated     DropReason = iota // wire.ErrTruncated
	DropVersion                         // wire.ErrVersion
	DropOptionList                      // wire.ErrOptionList
	DropUnknownOption                   // wire.ErrUnknownOption
	DropAddrKind                        // wire.ErrAddrKind
	DropTrailing                        // wire.ErrTrailing
	DropNoIDs                           // wire.ErrNoIDs
	DropTooBig                          // larger than a buffer (truncated by the socket)
	DropRateLimited                     // source over DataRate
	DropEmpty                           // nothing for this server to do (no data, no request)
	DropHopLimit                        // more stack expansions than MaxHops (a loop?)
	DropStackOverflow                   // an expansion would make the stack deeper than 15
	DropFanout                          // more copies than MaxFanout
	DropFamily                          // destination of an address family this socket does not serve
	DropReplyLimited                    // control reply withheld: destination over ReplyRate
	DropSendFailed                      // the socket refused the datagram
	DropNotMember                       // EXT_REPLICATE from an address that is no ring member's
	DropBadReplica                      // malformed or invalid EXT_REPLICATE
	DropReplyTooBig                     // control reply withheld: larger than what is left of its request's size
	DropRingAuth                        // EXT_REPLICATE without a valid EXT_RING_AUTH (a ring key is set)
	NumDropReasons
)

var dropNames = [NumDropReasons]string{
	"truncated", "version", "option_list", "unknown_option", "addr_kind", "trailing", "no_ids",
	"too_big", "rate_limited", "empty", "hop_limit", "stack_overflow", "fanout", "family",
	"reply_limited", "send_failed", "not_member", "bad_replica", "reply_too_big",
	"ring_auth",
}

// String returns the reason as a metric label value ("truncated", "hop_limit", …).
func (r DropReason) String() string {
	if r < NumDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// wireDrops maps the wire package's sentinel errors to drop reasons.
var wireDrops = [...]struct {
	err    error
	reason DropReason
}{
	{wire.ErrTruncated, DropTruncated},
	{wire.ErrVersion, DropVersion},
	{wire.ErrOptionList, DropOptionList},
	{wire.ErrUnknownOption, DropUnknownOption},
	{wire.ErrAddrKind, DropAddrKind},
	{wire.ErrTrailing, DropTrailing},
	{wire.ErrNoIDs, DropNoIDs},
}

// dropFor returns the drop reason of a decoding error. The decoder returns the
// sentinels themselves, so the common case is a comparison, not errors.Is.
func dropFor(err error) DropReason {
	for _, w := range wireDrops {
		if err == w.err {
			return w.reason
		}
	}
	for _, w := range wireDrops {
		if errors.Is(err, w.err) {
			return w.reason
		}
	}
	return DropTruncated
}

// Refusal says why an insertion or removal was refused. Each maps to an
// EXT_ERROR code.
type Refusal uint8

// Refusal reasons, in the order of wire's error codes; the last,
// RefusedSignatureReplayed, is told with ErrCodeBadSignature.
const (
	RefusedRateLimited       Refusal = iota // source over InsertRate
	RefusedTableFull                        // MaxTriggers reached
	RefusedSourceLimit                      // MaxTriggersPerSource reached
	RefusedBadSignature                     // signature invalid, out of time, or not the id's key
	RefusedSignatureNeeded                  // public id without a signature (RequireSignedPublic)
	RefusedBadTrigger                       // invalid trigger (target, prefix length, family)
	RefusedSignatureReplayed                // valid signature first used from another address (sigcache.go)
	NumRefusals
)

var refusalNames = [NumRefusals]string{
	"rate_limited", "table_full", "source_limit", "bad_signature", "signature_needed", "bad_trigger",
	"signature_replayed",
}

// String returns the reason as a metric label value.
func (r Refusal) String() string {
	if r < NumRefusals {
		return refusalNames[r]
	}
	return "unknown"
}

// Code returns the EXT_ERROR code that tells a host about r.
func (r Refusal) Code() wire.ErrorCode {
	if r == RefusedSignatureReplayed {
		return wire.ErrCodeBadSignature
	}
	return wire.ErrorCode(r) + wire.ErrCodeRateLimited
}

// Counter indexes. A worker counts in a plain array and adds it to the server's
// atomic array once per batch, so the data path does no atomic operation per
// packet.
const (
	cPacketsIn = iota
	cBytesIn
	cPacketsOut
	cBytesOut
	cHandled
	cPings
	cForwarded
	cDelivered
	cExpanded
	cPopped
	cNotPresent
	cCacheReplies
	cNATRewrites
	cInserts
	cChallenges
	cStaleNonces
	cAcks
	cInstalled
	cRefreshed
	cRemovals
	cRemovalsRefused
	cExpired
	cErrorsSent
	cShortcuts
	cServerLists
	cHops
	cHopsIn
	cMisrouted
	cHints
	cReplicasOut
	cReplicasIn
	cReplicasRefused
	cTakeovers
	cDrops
	cRefused    = cDrops + int(NumDropReasons)
	numCounters = cRefused + int(NumRefusals)
)

// counters is a worker's private tally.
type counters [numCounters]uint64

func (c *counters) drop(r DropReason) { c[cDrops+int(r)]++ }
func (c *counters) refuse(r Refusal)  { c[cRefused+int(r)]++ }
func (c *counters) add(i int, n int)  { c[i] += uint64(n) }
func (c *counters) inc(i int)         { c[i]++ }

// sharedCounters is the server's tally, updated by workers and the sweeper.
type sharedCounters [numCounters]atomic.Uint64

// addFrom adds c into s and clears c.
func (s *sharedCounters) addFrom(c *counters) {
	for i := range c {
		if c[i] != 0 {
			s[i].Add(c[i])
		}
	}
	*c = counters{}
}

func (s *sharedCounters) snapshot() counters {
	var c counters
	for i := range s {
		c[i] = s[i].Load()
	}
	return c
}

// stats converts a tally to the exported form.
func (c *counters) stats() Stats {
	st := Stats{
		PacketsIn: c[cPacketsIn], BytesIn: c[cBytesIn], PacketsOut: c[cPacketsOut], BytesOut: c[cBytesOut],
		Handled: c[cHandled], Pings: c[cPings],
		Forwarded: c[cForwarded], Delivered: c[cDelivered], Expanded: c[cExpanded], Popped: c[cPopped],
		NotPresent: c[cNotPresent], CacheReplies: c[cCacheReplies], NATRewrites: c[cNATRewrites],
		Inserts: c[cInserts], Challenges: c[cChallenges], StaleNonces: c[cStaleNonces], Acks: c[cAcks],
		Installed: c[cInstalled], Refreshed: c[cRefreshed], Removals: c[cRemovals],
		RemovalsRefused: c[cRemovalsRefused], Expired: c[cExpired], ErrorsSent: c[cErrorsSent],
		Shortcuts: c[cShortcuts], ServerLists: c[cServerLists],
		Hops: c[cHops], HopsIn: c[cHopsIn], Misrouted: c[cMisrouted], Hints: c[cHints],
		ReplicasSent: c[cReplicasOut], ReplicasReceived: c[cReplicasIn], ReplicasRefused: c[cReplicasRefused],
		ReplicaTakeovers: c[cTakeovers],
	}
	copy(st.Drops[:], c[cDrops:cDrops+int(NumDropReasons)])
	copy(st.Refused[:], c[cRefused:cRefused+int(NumRefusals)])
	return st
}

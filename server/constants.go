package server

import (
	"time"

	"github.com/i3net/i3net/wire"
)

// Sizes and bounds of the data path. Timers and limits that operators may
// change are in Config; these are fixed by the protocol or by the buffers.
const (
	// headroom is the room left in front of each received datagram, in bytes,
	// so that a longer header (a trigger's stack replacing ids[0]) can be
	// written in place in front of the payload: the largest header is
	// wire.MaxDataHeader = 505 bytes and a received data packet has at least 35.
	headroom = 512

	// bufSize is the size of a datagram buffer: the headroom and the largest
	// datagram.
	bufSize = headroom + wire.MaxPacket

	// maxHopsLimit bounds Config.MaxHops (stack expansions per packet).
	maxHopsLimit = 16

	// arenaSize is the per-worker space for control replies, in bytes. A reply
	// is at most ~1.2 KB (ACK of a trigger with a 15-id stack plus CACHE_ADDR,
	// or an EXT_ERROR); the queue is flushed when less than maxReply is left.
	arenaSize = 64 << 10
	maxReply  = 2048

	// outPerIn is how many queued datagrams per received one fit before the
	// queue is flushed in the middle of a batch (multicast, replies).
	outPerIn = 4

	// limiterSlots is the number of slots of each per-address token-bucket
	// table (a power of two). A table takes limiterSlots × 24 bytes.
	limiterSlots = 1 << 14

	// numShards is the number of independently locked parts of the trigger
	// table (a power of two).
	numShards = 64

	// cachePrefixLen is the prefix length of the CACHE_ADDR triggers a server
	// sends: the 128 bits that decide which server is responsible for an id.
	cachePrefixLen = 128

	// errorMsgMax is the longest EXT_ERROR message, in bytes (wire's limit).
	errorMsgMax = wire.MaxErrorMessage

	// readErrorBackoff is how long the receive loop waits after an unexpected
	// socket error before reading again, so a persistent error cannot spin.
	readErrorBackoff = 10 * time.Millisecond

	// maxReplicas bounds Config.Replicas.
	maxReplicas = 8

	// replicaMTU is the largest datagram of EXT_REPLICATE options a server
	// sends, in bytes: what crosses any path without fragmentation.
	replicaMTU = 1400

	// pushBurst is how many datagrams of triggers a handover (a server
	// joined, one died) sends before pausing pushPause, so that a big table
	// does not overflow the receiver's socket buffer (about 45 MB/s).
	pushBurst = 32
	pushPause = time.Millisecond

	// handoverHintsMax bounds the CACHE_ADDR hints a handover sends to the
	// hosts of the triggers it moves, per membership change (handover.go);
	// the hosts beyond it learn of the move at their next refresh.
	handoverHintsMax = 1 << 14

	// joinRetry is how long Run waits before trying Config.Join again when
	// no server answered.
	joinRetry = 2 * time.Second

	// hintSlots is the size of each worker's table of recent cache hints (a
	// power of two); hintRepeat is how long after a hint about a prefix the
	// same sender gets none again, however many packets it sends meanwhile.
	hintSlots  = 1 << 10
	hintRepeat = 500 * time.Millisecond

	// errorReplyLen is the size of an EXT_ERROR reply with an empty message:
	// header and option list length, type and length, code and id.
	errorReplyLen = wire.ControlHeaderLen + wire.ExtHeaderLen + wire.ErrorBodyLen
)

// The headroom holds the largest header a server writes in place (this
// fails to compile otherwise).
const _ = uint(headroom - wire.MaxDataHeader)

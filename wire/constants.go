package wire

// Header constants of the original i3 protocol.
const (
	// Version is the only protocol version spoken (the original's 0x10).
	Version = 0x10

	// FlagData marks a packet that carries a payload.
	FlagData = 0x10
	// FlagOptions marks a packet with an option list after the id stack.
	FlagOptions = 0x20
	// FlagFirstHop is set by end hosts on what they send; the first server
	// handles NAT (paper §5.1) and clears it.
	FlagFirstHop = 0x40
	// FlagShortcut, on a data packet, says its sender accepts a shortcut (§5.2).
	FlagShortcut = 0x01

	// PingBit set in a datagram's first byte marks a ping, which servers echo.
	PingBit = 0x01
	// PingReflect set with PingBit asks for a reflecting ping: a server that
	// knows it writes the ping's observed source address into the body
	// (PutReflected), same length; others echo it unchanged.
	PingReflect = 0x04
	// ReflectLen is the size of a reflecting ping with room for an IPv6
	// address: the first byte and 19 zeros.
	ReflectLen = 1 + 19

	// MaxStack is the largest id stack a header can carry (4 bits).
	MaxStack = 15
	// MaxPacket is the largest datagram the overlay carries, in bytes.
	MaxPacket = 65535
	// MinHeader is the size of a header with one id and no options.
	MinHeader = 3 + 32
	// NonceLen is the size of a trigger's challenge nonce, in bytes.
	NonceLen = 16
	// KeyLen is the size of a trigger's key field, in bytes.
	KeyLen = 16
	// MaxPrefixLen is the largest meaningful trigger prefix length, in bits.
	MaxPrefixLen = 256
)

// Address types.
const (
	AddrStack AddrKind = 0x10 // a stack of ids
	AddrIPv4  AddrKind = 0x20 // 4-byte address and 2-byte port
	AddrIPv6  AddrKind = 0x30 // 16-byte address and 2-byte port
)

// Trigger flags.
const (
	// TriggerShortcut lets a sender reach the trigger's target directly (§5.2).
	TriggerShortcut = 0x01
	// TriggerRateLimited marks a rate-limited trigger (later HIPL variant).
	TriggerRateLimited = 0x02
)

// Option types of the original protocol.
const (
	OptSender                     OptType = 0x01 // address: where control replies go
	OptTriggerInsert              OptType = 0x02 // trigger: insert or refresh
	OptTriggerChallenge           OptType = 0x03 // trigger with nonce: server → host
	OptTriggerAck                 OptType = 0x04 // trigger: server → host
	OptTriggerRemove              OptType = 0x05 // trigger with a valid nonce: host → server
	OptTriggerNotPresent          OptType = 0x06 // id: nothing matched
	OptRequestForCache            OptType = 0x07 // none: who is responsible for ids[0]?
	OptCacheAddr                  OptType = 0x08 // trigger whose target is the responsible server
	OptForceCacheAddr             OptType = 0x09 // trigger: overwrite the cache entry
	OptLogPacket                  OptType = 0x0A // none: measurement
	OptAppendTS                   OptType = 0x0B // none: measurement
	OptConstraintFailed           OptType = 0x10 // trigger: server → host
	OptRouteBroken                OptType = 0x11 // trigger: server → host
	OptRequestForCacheShortcut    OptType = 0x12 // none
	OptCacheShortcutAddr          OptType = 0x13 // trigger
	OptCacheDestAddr              OptType = 0x14 // trigger
	OptRequestForCacheShortcutInd OptType = 0x15 // none
	OptTriggerRateLimit           OptType = 0x30 // id
)

// Extension option types: i3net's own, each encoded as type(1) length(2) body.
// ExtFirst..ExtLast is the range any extension may use; decoders keep unknown
// extensions in it as opaque bodies.
const (
	ExtFirst OptType = 0x40
	ExtLast  OptType = 0x7F

	// ExtHello announces that the sender speaks i3net's extensions; servers send
	// extension options only to hosts that announced them.
	ExtHello OptType = 0x40
	// ExtSignature proves that an insertion or removal of a public id comes from
	// the owner of the key the id derives from.
	ExtSignature OptType = 0x41
	// ExtError tells a host why its request was refused (rate limit, table full,
	// bad signature, …).
	ExtError OptType = 0x42
	// ExtServerList carries the addresses of the overlay's servers; with an
	// empty body it asks for them.
	ExtServerList OptType = 0x43
	// ExtReplicate carries one trigger from a server to another: replication
	// to the next servers of the ring, handover to a joining server.
	ExtReplicate OptType = 0x44
	// ExtPadding is ignored: it makes a request as large as the answer it
	// asks for, since a server's replies to a datagram never total more
	// bytes than the datagram had (no amplification).
	ExtPadding OptType = 0x45

	// ExtSigChecked, between servers of a ring only, says that the server
	// sending a request on verified its EXT_SIGNATURE against the trigger as
	// the host stated it, before the NAT rule rewrote the target (§5.1): the
	// owner, which cannot verify the rewritten trigger, checks the signature
	// only for replay (a signature used from another address). Empty body;
	// from a host, it is ignored.
	ExtSigChecked OptType = 0x47
)

package wire

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"time"
)

// ExtVersion is the version of i3net's extensions announced in ExtHello.
const ExtVersion = 1

// ErrExtBody is returned for an extension option whose body is malformed.
var ErrExtBody = errors.New("wire: malformed extension body")

// HelloOption returns the ExtHello option a host adds to announce the extensions.
func HelloOption() Option {
	return Option{Type: ExtHello, Body: []byte{ExtVersion}}
}

// Signature operations: what a signature authorizes.
const (
	SigInsert = 1
	SigRemove = 2
)

// PaddingOption returns an ExtPadding option that makes a packet n bytes
// longer (an ExtPadding option is at least 3 bytes: n below 3 gives 3). A
// host pads a request whose answer is longer than it, because servers do not
// answer a datagram with more bytes than it had.
func PaddingOption(n int) Option {
	return Option{Type: ExtPadding, Body: make([]byte, max(n-3, 0))}
}

// SignatureLen is the size of an ExtSignature body: public key, time, signature.
const SignatureLen = ed25519.PublicKeySize + 8 + ed25519.SignatureSize

// Signature is the body of ExtSignature: the owner of a public id signs the
// trigger it inserts or removes. Time bounds replays: servers refuse signatures
// older or newer than a few minutes.
type Signature struct {
	PublicKey [ed25519.PublicKeySize]byte
	Time      int64 // Unix seconds when signed
	Sig       [ed25519.SignatureSize]byte
}

// signingBytes is what a Signature signs: a context string, the operation, the
// trigger's flags, id, prefix length, target and key, and the time. The nonce is
// left out: it answers the challenge, which proves the target address separately.
func signingBytes(b []byte, op byte, t *Trigger, unix int64) []byte {
	b = append(b, "i3net trigger signature v1\x00"...)
	b = append(b, op, t.Flags)
	b = append(b, t.ID[:]...)
	b = binary.BigEndian.AppendUint16(b, t.PrefixLen)
	b = t.Target.AppendTo(b)
	if t.Target.Kind != AddrStack {
		b = append(b, t.Key[:]...)
	}
	return binary.BigEndian.AppendUint64(b, uint64(unix))
}

// Sign returns the ExtSignature option for op on t, signed by priv at now.
func Sign(priv ed25519.PrivateKey, op byte, t *Trigger, now time.Time) Option {
	var s Signature
	copy(s.PublicKey[:], priv.Public().(ed25519.PublicKey))
	s.Time = now.Unix()
	copy(s.Sig[:], ed25519.Sign(priv, signingBytes(nil, op, t, s.Time)))
	body := make([]byte, 0, SignatureLen)
	body = append(body, s.PublicKey[:]...)
	body = binary.BigEndian.AppendUint64(body, uint64(s.Time))
	body = append(body, s.Sig[:]...)
	return Option{Type: ExtSignature, Body: body}
}

// ParseSignature decodes an ExtSignature body.
func ParseSignature(body []byte) (Signature, error) {
	var s Signature
	if len(body) != SignatureLen {
		return s, ErrExtBody
	}
	copy(s.PublicKey[:], body)
	s.Time = int64(binary.BigEndian.Uint64(body[ed25519.PublicKeySize:]))
	copy(s.Sig[:], body[ed25519.PublicKeySize+8:])
	return s, nil
}

// Verify reports whether s is a valid signature for op on t.
func (s *Signature) Verify(op byte, t *Trigger) bool {
	var buf [256 + 32*MaxStack]byte
	return ed25519.Verify(s.PublicKey[:], signingBytes(buf[:0], op, t, s.Time), s.Sig[:])
}

// ErrorCode says why a server refused a request (ExtError).
type ErrorCode uint16

// Error codes carried by ExtError.
const (
	ErrCodeRateLimited     ErrorCode = 1 // too many requests from this source
	ErrCodeTableFull       ErrorCode = 2 // the server's trigger table is full
	ErrCodeSourceLimit     ErrorCode = 3 // this source holds too many triggers
	ErrCodeBadSignature    ErrorCode = 4 // signature invalid, expired, or not the id's key
	ErrCodeSignatureNeeded ErrorCode = 5 // public ids must be inserted with a signature
	ErrCodeBadTrigger      ErrorCode = 6 // the trigger itself is invalid (e.g. stack too deep)
)

func (c ErrorCode) String() string {
	switch c {
	case ErrCodeRateLimited:
		return "rate limited"
	case ErrCodeTableFull:
		return "trigger table full"
	case ErrCodeSourceLimit:
		return "too many triggers from this source"
	case ErrCodeBadSignature:
		return "bad signature"
	case ErrCodeSignatureNeeded:
		return "public id needs a signature"
	case ErrCodeBadTrigger:
		return "invalid trigger"
	}
	return "error " + itoa(int(c))
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// Sizes of an ExtError body, in bytes.
const (
	// ErrorBodyLen is the size of an ExtError body without its message:
	// the code and the id.
	ErrorBodyLen = 2 + 32
	// MaxErrorMessage is the longest message an ExtError carries.
	MaxErrorMessage = 200
)

// ErrorBody is the body of ExtError: a code, the id the request was about, and a
// short human-readable message (at most MaxErrorMessage bytes).
type ErrorBody struct {
	Code    ErrorCode
	ID      [32]byte
	Message string
}

// AppendTo appends the body e to b, its message cut to MaxErrorMessage
// bytes; no allocation when b has room.
func (e *ErrorBody) AppendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(e.Code))
	b = append(b, e.ID[:]...)
	return append(b, e.Message[:min(len(e.Message), MaxErrorMessage)]...)
}

// ErrorOption returns an ExtError option.
func ErrorOption(e ErrorBody) Option {
	return Option{Type: ExtError, Body: e.AppendTo(make([]byte, 0, ErrorBodyLen+min(len(e.Message), MaxErrorMessage)))}
}

// ParseError decodes an ExtError body.
func ParseError(body []byte) (ErrorBody, error) {
	var e ErrorBody
	if len(body) < ErrorBodyLen || len(body) > ErrorBodyLen+MaxErrorMessage {
		return e, ErrExtBody
	}
	e.Code = ErrorCode(binary.BigEndian.Uint16(body))
	copy(e.ID[:], body[2:])
	e.Message = string(body[ErrorBodyLen:])
	return e, nil
}

// MaxServerList is the most addresses an ExtServerList carries (its count is
// one byte).
const MaxServerList = 255

// ServerListHeaderLen is the size of an ExtServerList body before its
// addresses: the count.
const ServerListHeaderLen = 1

// ServerListOption returns an ExtServerList option carrying addrs (IP
// addresses), at most MaxServerList of them.
func ServerListOption(addrs []Addr) Option {
	return Option{Type: ExtServerList, Body: AppendServerList(nil, addrs)}
}

// AppendServerList appends the ExtServerList body carrying addrs (IP
// addresses; beyond MaxServerList, the first MaxServerList) to b; no
// allocation when b has room.
func AppendServerList(b []byte, addrs []Addr) []byte {
	addrs = addrs[:min(len(addrs), MaxServerList)]
	b = append(b, byte(len(addrs)))
	for i := range addrs {
		b = addrs[i].AppendTo(b)
	}
	return b
}

// ParseServerList decodes an ExtServerList body, appending to dst.
func ParseServerList(dst []Addr, body []byte) ([]Addr, error) {
	if len(body) < 1 {
		return dst, ErrExtBody
	}
	n := int(body[0])
	b := body[1:]
	for i := 0; i < n; i++ {
		var a Addr
		rest, err := decodeAddr(b, &a)
		if err != nil || !a.IsIP() {
			return dst, ErrExtBody
		}
		dst = append(dst, a)
		b = rest
	}
	if len(b) != 0 {
		return dst, ErrExtBody
	}
	return dst, nil
}

package session

import (
	"encoding/binary"
	"strconv"

	"github.com/i3net/i3net/id"
)

// Type is a frame's first byte.
type Type uint8

// String returns the type's name, or its number if unknown.
func (t Type) String() string {
	switch t {
	case TypeHandshake1:
		return "handshake1"
	case TypeHandshake2:
		return "handshake2"
	case TypeData:
		return "data"
	case TypePlaintext:
		return "plaintext"
	case TypeKeepalive:
		return "keepalive"
	case TypeReset:
		return "reset"
	case TypeChunk:
		return "chunk"
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// hasCounter reports whether frames of type t carry a counter.
func (t Type) hasCounter() bool {
	return t == TypeData || t == TypePlaintext || t == TypeKeepalive || t == TypeChunk
}

// Flags are the options a side announces in its handshake payload.
type Flags uint8

// Frame is a parsed view of one frame. Its slices alias the bytes it was
// parsed from; nothing in it is authenticated until a Session opens the frame
// (data, plaintext, keepalive), a handshake completes (handshake1/2), or
// Session.CheckReset accepts it (reset).
type Frame struct {
	// Type is the frame type.
	Type Type
	// Counter is the sender's frame number (data, plaintext, keepalive).
	Counter uint64
	// Body is what follows the type byte and counter: for handshake frames
	// the Noise message; for data frames the ciphertext with its tag; for
	// chunks the rest of the chunk header, the ciphertext and the tag; for
	// plaintext frames the IP packet in clear (a middlebox reads it here);
	// for resets the stale id, timestamp and signature; empty for keepalives.
	Body []byte
	// Tag is the trailing authentication tag of plaintext and keepalive
	// frames (a data frame's tag stays inside Body).
	Tag []byte
	// Stale is, in a reset, the sender's private id that received a frame it
	// could not open.
	Stale id.ID
}

// ParseFrame parses untrusted bytes b into a Frame that aliases b. It checks
// the type and the sizes only; every error is ErrLength or ErrType. It does
// not allocate.
func ParseFrame(b []byte) (Frame, error) {
	var f Frame
	if len(b) < 1 {
		return f, ErrLength
	}
	f.Type = Type(b[0])
	switch f.Type {
	case TypeHandshake1:
		if len(b) != Handshake1Len {
			return f, ErrLength
		}
		f.Body = b[1:]
	case TypeHandshake2:
		if len(b) != Handshake2Len {
			return f, ErrLength
		}
		f.Body = b[1:]
	case TypeData:
		if len(b) < Overhead {
			return f, ErrLength
		}
		f.Counter = binary.BigEndian.Uint64(b[1:HeaderLen])
		f.Body = b[HeaderLen:]
	case TypePlaintext:
		if len(b) < Overhead {
			return f, ErrLength
		}
		f.Counter = binary.BigEndian.Uint64(b[1:HeaderLen])
		f.Body = b[HeaderLen : len(b)-TagLen]
		f.Tag = b[len(b)-TagLen:]
	case TypeKeepalive:
		if len(b) != KeepaliveLen {
			return f, ErrLength
		}
		f.Counter = binary.BigEndian.Uint64(b[1:HeaderLen])
		f.Body = b[HeaderLen:HeaderLen]
		f.Tag = b[HeaderLen:]
	case TypeChunk:
		if len(b) < ChunkOverhead {
			return f, ErrLength
		}
		f.Counter = binary.BigEndian.Uint64(b[1:HeaderLen])
		f.Body = b[HeaderLen:]
	case TypeReset:
		if len(b) != ResetLen {
			return f, ErrLength
		}
		f.Body = b[1:]
		copy(f.Stale[:], b[1:1+id.Len])
	default:
		return f, ErrType
	}
	return f, nil
}

// AppendTo appends the frame's encoding to b: the bytes it was parsed from.
func (f *Frame) AppendTo(b []byte) []byte {
	b = append(b, byte(f.Type))
	if f.Type.hasCounter() {
		b = binary.BigEndian.AppendUint64(b, f.Counter)
	}
	b = append(b, f.Body...)
	return append(b, f.Tag...)
}

// TypeOf returns the type of frame b without parsing the rest (0 if b is
// empty): the one-byte dispatch of a receive loop.
func TypeOf(b []byte) Type {
	if len(b) == 0 {
		return 0
	}
	return Type(b[0])
}

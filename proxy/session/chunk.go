package session

import (
	"encoding/binary"
)

// Chunk frames carry one large packet in pieces: a super-packet the sender's
// kernel handed over whole (TCP or UDP segmentation offload, up to 64 KB),
// which the receiver puts back together and hands to its own kernel whole,
// so neither side splits, checksums or coalesces segments in software. Each
// chunk is sealed on its own (its own counter, nonce and tag), so the replay
// window and the counter rules are those of data frames; the chunk header
// travels in clear and is authenticated with the data.
//
//	type (1) | counter (8) | index (2) | stride (2) | total (4) | meta (10) | ciphertext | tag (16)
//
// Chunk i holds bytes [i*stride, min((i+1)*stride, total)) of the packet.
// The chunks of one packet use consecutive counters, so counter − index
// names the packet (ChunkHeader.First). meta is opaque here: the proxy
// carries the packet's offload description in it.

// ChunkMetaLen is the size of a chunk's opaque metadata.
const ChunkMetaLen = 10

// Chunk frame sizes and limits.
const (
	// ChunkHeaderLen is the size of a chunk frame's header.
	ChunkHeaderLen = HeaderLen + 2 + 2 + 4 + ChunkMetaLen
	// ChunkOverhead is what a chunk frame adds to its piece of the packet.
	ChunkOverhead = ChunkHeaderLen + TagLen
	// MaxChunkedLen is the largest packet chunk frames carry: an IPv6
	// header and a 64 KB payload, with room to spare.
	MaxChunkedLen = 64<<10 + 128
	// MinChunkStride is the smallest stride: it bounds a packet's chunks.
	MinChunkStride = 512
	// MaxChunks is the most chunks one packet can have.
	MaxChunks = (MaxChunkedLen + MinChunkStride - 1) / MinChunkStride
)

// ChunkHeader is the parsed, not yet authenticated header of a chunk frame.
type ChunkHeader struct {
	Counter uint64 // the frame's counter
	Index   int    // which piece of the packet
	Stride  int    // the size of every piece but the last
	Total   int    // the packet's length
	Meta    [ChunkMetaLen]byte
}

// First returns the counter of the packet's first chunk: with the session,
// it names the packet.
func (h *ChunkHeader) First() uint64 { return h.Counter - uint64(h.Index) }

// Offset returns where this chunk's bytes start in the packet.
func (h *ChunkHeader) Offset() int { return h.Index * h.Stride }

// Len returns the number of packet bytes this chunk carries.
func (h *ChunkHeader) Len() int { return min(h.Stride, h.Total-h.Offset()) }

// Count returns the number of chunks of the packet.
func (h *ChunkHeader) Count() int { return (h.Total + h.Stride - 1) / h.Stride }

// SameAs reports whether h and o describe chunks of packets of the same
// shape (stride, length and metadata): the chunks of one packet must agree.
func (h *ChunkHeader) SameAs(o *ChunkHeader) bool {
	return h.Stride == o.Stride && h.Total == o.Total && h.Meta == o.Meta
}

// ParseChunk parses the header of chunk frame b (untrusted) and checks that
// it is consistent: the stride and length within limits, the index within
// the packet, the frame as long as its piece, and the counter at least the
// index. Every error is ErrType or ErrLength. It does not allocate.
func ParseChunk(b []byte) (ChunkHeader, error) {
	var h ChunkHeader
	if len(b) < 1 || Type(b[0]) != TypeChunk {
		return h, ErrType
	}
	if len(b) < ChunkOverhead {
		return h, ErrLength
	}
	h.Counter = binary.BigEndian.Uint64(b[1:])
	h.Index = int(binary.BigEndian.Uint16(b[HeaderLen:]))
	h.Stride = int(binary.BigEndian.Uint16(b[HeaderLen+2:]))
	h.Total = int(binary.BigEndian.Uint32(b[HeaderLen+4:]))
	copy(h.Meta[:], b[HeaderLen+8:ChunkHeaderLen])
	switch {
	case h.Stride < MinChunkStride, h.Total <= 0, h.Total > MaxChunkedLen,
		h.Offset() >= h.Total, uint64(h.Index) > h.Counter,
		len(b)-ChunkOverhead != h.Len():
		return h, ErrLength
	}
	return h, nil
}

// ChunkCount returns how many chunk frames SealChunks makes of a packet of n
// bytes with stride.
func ChunkCount(n, stride int) int { return (n + stride - 1) / stride }

// SealChunks seals packet pkt (at most MaxChunkedLen bytes) into chunk frames
// of stride bytes of it each (at least MinChunkStride, at most 65535), one
// per element of dsts: dsts[i] becomes dsts[i][:0] with the frame appended.
// It returns the number of frames, ChunkCount(len(pkt), stride), with
// consecutive counters. It fails with ErrLength when the packet or stride is
// out of bounds or dsts is too short, and with ErrExhausted at the end of the
// session's counters; it refuses a plaintext session (ErrMode), whose frames
// a middlebox must be able to read. It allocates nothing when every dsts[i]
// has the capacity (stride + ChunkOverhead).
func (s *Session) SealChunks(dsts [][]byte, meta *[ChunkMetaLen]byte, pkt []byte, stride int) (int, error) {
	if s.plaintext {
		return 0, ErrMode
	}
	k := ChunkCount(len(pkt), stride)
	if stride < MinChunkStride || stride > 0xffff || len(pkt) == 0 || len(pkt) > MaxChunkedLen || k > len(dsts) {
		return 0, ErrLength
	}
	first := s.next.Add(uint64(k)) - uint64(k)
	if first+uint64(k) > RejectAfterMessages {
		return 0, ErrExhausted
	}
	np := getNonce(0)
	for i := range k {
		n := first + uint64(i)
		b := dsts[i][:0]
		b = append(b, byte(TypeChunk))
		b = binary.BigEndian.AppendUint64(b, n)
		b = binary.BigEndian.AppendUint16(b, uint16(i))
		b = binary.BigEndian.AppendUint16(b, uint16(stride))
		b = binary.BigEndian.AppendUint32(b, uint32(len(pkt)))
		b = append(b, meta[:]...)
		binary.LittleEndian.PutUint64(np[4:], n)
		piece := pkt[i*stride : min((i+1)*stride, len(pkt))]
		dsts[i] = s.send.Seal(b, np[:], piece, b)
	}
	nonces.Put(np)
	return k, nil
}

// OpenChunk authenticates chunk frame b, whose header h is ParseChunk's, and
// appends its piece of the packet to dst, returning the extended slice. To
// put the piece in place in a buffer holding the packet at buf[off:], pass
// dst = buf[:off+h.Offset()]. Errors and replay rules are Open's; on error
// dst is returned unchanged, but its spare capacity where the piece would
// have gone may have been overwritten.
func (s *Session) OpenChunk(dst, b []byte, h *ChunkHeader) ([]byte, error) {
	if s.plaintext {
		return dst, ErrMode
	}
	if len(b) < ChunkOverhead || Type(b[0]) != TypeChunk || binary.BigEndian.Uint64(b[1:]) != h.Counter {
		return dst, ErrLength
	}
	return s.openCounted(dst, h.Counter, b[ChunkHeaderLen:], b[:ChunkHeaderLen])
}

// Chunks reports whether both sides of the session take chunk frames
// (FlagChunks) and the session is encrypted: only then may the sender use
// SealChunks.
func (s *Session) Chunks() bool {
	return !s.plaintext && s.localFlags&s.peerFlags&FlagChunks != 0
}

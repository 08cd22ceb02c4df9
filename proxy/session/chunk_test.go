package session

import (
	"bytes"
	"slices"
	"testing"

	"github.com/i3net/i3net/internal/racebuild"
)

// chunkFrames seals pkt into chunk frames with stride on s.
func chunkFrames(tb testing.TB, s *Session, pkt []byte, stride int) [][]byte {
	tb.Helper()
	dsts := make([][]byte, ChunkCount(len(pkt), stride))
	meta := [ChunkMetaLen]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	n, err := s.SealChunks(dsts, &meta, pkt, stride)
	if err != nil || n != len(dsts) {
		tb.Fatalf("SealChunks = %d, %v; want %d", n, err, len(dsts))
	}
	return dsts
}

// reassemble opens frames on s in the given order into one buffer, each in
// place, and returns the packet.
func reassemble(t *testing.T, s *Session, frames [][]byte, order []int) []byte {
	t.Helper()
	var buf []byte
	for _, i := range order {
		h, err := ParseChunk(frames[i])
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		if h.Index != i || h.Count() != len(frames) {
			t.Fatalf("chunk %d: header %+v", i, h)
		}
		if buf == nil {
			buf = make([]byte, h.Total)
		}
		out, err := s.OpenChunk(buf[:h.Offset()], frames[i], &h)
		if err != nil {
			t.Fatalf("open chunk %d: %v", i, err)
		}
		if len(out) != h.Offset()+h.Len() {
			t.Fatalf("chunk %d opened to %d bytes", i, len(out))
		}
	}
	return buf
}

func TestChunksRoundTrip(t *testing.T) {
	a, b := testIdentity(t, 1), testIdentity(t, 2)
	for _, tc := range []struct {
		name   string
		n      int
		stride int
		order  func(k int) []int
	}{
		{"one chunk", 600, 1400, forward},
		{"exact strides", 4 * 1400, 1400, forward},
		{"short last", 65535, 1382, forward},
		{"reversed", 10000, 512, backward},
		{"largest", MaxChunkedLen, MinChunkStride, forward},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := handshake(t, a, b, FlagChunks, FlagChunks)
			if !p.sa.Chunks() || !p.sb.Chunks() {
				t.Fatal("both sides set FlagChunks but Chunks() is false")
			}
			pkt := make([]byte, tc.n)
			for i := range pkt {
				pkt[i] = byte(i * 7)
			}
			frames := chunkFrames(t, p.sa, pkt, tc.stride)
			for _, f := range frames {
				if len(f) > tc.stride+ChunkOverhead {
					t.Fatalf("frame of %d bytes for stride %d", len(f), tc.stride)
				}
			}
			got := reassemble(t, p.sb, frames, tc.order(len(frames)))
			if !bytes.Equal(got, pkt) {
				t.Fatal("reassembled packet differs")
			}
			h, _ := ParseChunk(frames[len(frames)-1])
			if _, err := p.sb.OpenChunk(nil, frames[len(frames)-1], &h); err != ErrReplay {
				t.Fatalf("chunk opened twice: %v", err)
			}
			if first, _ := ParseChunk(frames[0]); first.First() != h.First() {
				t.Fatalf("chunks name packets %d and %d", first.First(), h.First())
			}
		})
	}
}

func forward(k int) []int {
	o := make([]int, k)
	for i := range o {
		o[i] = i
	}
	return o
}
func backward(k int) []int { o := forward(k); slices.Reverse(o); return o }

func TestChunksNegotiated(t *testing.T) {
	a, b := testIdentity(t, 1), testIdentity(t, 2)
	for _, tc := range []struct {
		name       string
		fa, fb     Flags
		wantChunks bool
	}{
		{"both", FlagChunks, FlagChunks, true},
		{"one side", FlagChunks, 0, false},
		{"plaintext", FlagChunks | FlagPlaintext, FlagChunks, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := handshake(t, a, b, tc.fa, tc.fb)
			if p.sa.Chunks() != tc.wantChunks || p.sb.Chunks() != tc.wantChunks {
				t.Fatalf("Chunks() = %v, %v; want %v", p.sa.Chunks(), p.sb.Chunks(), tc.wantChunks)
			}
		})
	}
	p := handshake(t, a, b, FlagPlaintext|FlagChunks, FlagChunks)
	var meta [ChunkMetaLen]byte
	if _, err := p.sa.SealChunks(make([][]byte, 1), &meta, make([]byte, 600), 600); err != ErrMode {
		t.Fatalf("plaintext SealChunks: %v, want ErrMode", err)
	}
}

func TestSealChunksRejects(t *testing.T) {
	p := handshake(t, testIdentity(t, 1), testIdentity(t, 2), FlagChunks, FlagChunks)
	var meta [ChunkMetaLen]byte
	for _, tc := range []struct {
		name   string
		n      int
		stride int
		dsts   int
	}{
		{"stride too small", 4000, MinChunkStride - 1, 10},
		{"stride too large", 70000, 0x10000, 10},
		{"packet too large", MaxChunkedLen + 1, 1400, 100},
		{"empty packet", 0, 1400, 1},
		{"too few frames", 4000, 1000, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := p.sa.Sent()
			if _, err := p.sa.SealChunks(make([][]byte, tc.dsts), &meta, make([]byte, tc.n), tc.stride); err != ErrLength {
				t.Fatalf("err = %v, want ErrLength", err)
			}
			if p.sa.Sent() != before {
				t.Fatal("a refused packet used counters")
			}
		})
	}
}

func TestOpenChunkRejects(t *testing.T) {
	p := handshake(t, testIdentity(t, 1), testIdentity(t, 2), FlagChunks, FlagChunks)
	frames := chunkFrames(t, p.sa, make([]byte, 3000), 1000)
	h, err := ParseChunk(frames[1])
	if err != nil {
		t.Fatal(err)
	}
	altered := slices.Clone(frames[1])
	altered[HeaderLen+8] ^= 1 // the metadata is authenticated
	if _, err := p.sb.OpenChunk(nil, altered, &h); err != ErrAuth {
		t.Fatalf("altered metadata: %v, want ErrAuth", err)
	}
	other := h
	other.Counter++
	if _, err := p.sb.OpenChunk(nil, frames[1], &other); err != ErrLength {
		t.Fatalf("header of another frame: %v, want ErrLength", err)
	}
	for _, tc := range []struct {
		name string
		edit func(b []byte) []byte
	}{
		{"data frame", func(b []byte) []byte { b[0] = byte(TypeData); return b }},
		{"short", func(b []byte) []byte { return b[:ChunkOverhead-1] }},
		{"stride below minimum", func(b []byte) []byte { b[HeaderLen+2], b[HeaderLen+3] = 0, 100; return b }},
		{"index past the end", func(b []byte) []byte { b[HeaderLen+1] = 9; return b }},
		{"length differs", func(b []byte) []byte { return b[:len(b)-1] }},
		{"total too large", func(b []byte) []byte { b[HeaderLen+4] = 1; return b }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseChunk(tc.edit(slices.Clone(frames[1]))); err != ErrLength && err != ErrType {
				t.Fatalf("ParseChunk: %v, want ErrLength or ErrType", err)
			}
		})
	}
}

func TestSealOpenChunksAllocs(t *testing.T) {
	if racebuild.Enabled {
		t.Skip("-race allocates; run without it to count allocations")
	}
	p := handshake(t, testIdentity(t, 1), testIdentity(t, 2), FlagChunks, FlagChunks)
	pkt := make([]byte, 64<<10)
	const stride = 1400
	dsts := make([][]byte, ChunkCount(len(pkt), stride))
	for i := range dsts {
		dsts[i] = make([]byte, 0, stride+ChunkOverhead)
	}
	buf := make([]byte, len(pkt))
	var meta [ChunkMetaLen]byte
	allocs := testing.AllocsPerRun(20, func() {
		n, err := p.sa.SealChunks(dsts, &meta, pkt, stride)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range dsts[:n] {
			h, err := ParseChunk(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.sb.OpenChunk(buf[:h.Offset()], f, &h); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per 64 KB packet", allocs)
	}
}

// FuzzOpenChunk: no bytes panic ParseChunk or OpenChunk, errors are bare
// sentinels, and a chunk that opens lands at its offset and never opens twice.
func FuzzOpenChunk(f *testing.F) {
	p := handshake(f, testIdentity(f, 1), testIdentity(f, 2), FlagChunks, FlagChunks)
	for _, b := range chunkFrames(f, p.sa, make([]byte, 2100), 1000) {
		f.Add(b)
	}
	f.Add(mustSeal(f, p.sa, []byte("not a chunk")))
	open := []error{ErrLength, ErrType, ErrMode, ErrAuth, ErrReplay, ErrTooOld, ErrExhausted}
	buf := make([]byte, MaxChunkedLen)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseChunk(b)
		if err != nil {
			if err != ErrLength && err != ErrType {
				t.Fatalf("ParseChunk error %v is not a sentinel", err)
			}
			return
		}
		if h.Offset()+h.Len() > h.Total || h.Len() <= 0 || h.Total > MaxChunkedLen {
			t.Fatalf("inconsistent header accepted: %+v", h)
		}
		resetWindow(p.sb)
		out, err := p.sb.OpenChunk(buf[:h.Offset()], b, &h)
		if err != nil {
			if !slices.Contains(open, err) {
				t.Fatalf("OpenChunk error %v is not a bare sentinel", err)
			}
			return
		}
		if len(out) != h.Offset()+h.Len() {
			t.Fatalf("opened to %d bytes, want %d", len(out), h.Offset()+h.Len())
		}
		if _, err := p.sb.OpenChunk(nil, b, &h); err != ErrReplay {
			t.Fatalf("chunk opened twice: %v", err)
		}
	})
}

package wire

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode checks that no input panics the decoder, that every rejection is one
// of the sentinel errors, and that whatever decodes re-encodes to bytes that
// decode to the same packet (and to the same bytes, up to undefined bits).
// Seeds: testdata/fuzz/FuzzDecode (the 70 original vectors among them).
func FuzzDecode(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.B)
	}
	for _, p := range samplePackets() {
		f.Add(p.AppendTo(nil))
	}
	sentinels := []error{ErrTruncated, ErrVersion, ErrOptionList, ErrUnknownOption, ErrAddrKind, ErrTrailing, ErrNoIDs, ErrPing}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Packet
		err := p.Decode(b)
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error %v is not a sentinel", err)
		}
		enc := p.AppendTo(nil)
		var q Packet
		if err := q.Decode(enc); err != nil {
			t.Fatalf("re-encoded packet does not decode: %v", err)
		}
		if enc2 := q.AppendTo(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("encode not stable:\n%x\n%x", enc, enc2)
		}
		if len(enc) != len(b) {
			t.Fatalf("round trip changed the length: %d -> %d", len(b), len(enc))
		}
		for i := range b {
			// The only bytes allowed to change are count bytes whose undefined
			// upper nibble our encoder writes as zero.
			if enc[i] != b[i] && enc[i] != b[i]&0x0f {
				t.Fatalf("round trip changed byte %d: %#x -> %#x", i, b[i], enc[i])
			}
		}
	})
}

// FuzzExtensions feeds arbitrary bodies to the extension parsers: no panic, and a
// body that parses re-encodes to itself.
func FuzzExtensions(f *testing.F) {
	for _, p := range samplePackets() {
		for _, o := range p.Options {
			if o.Type.IsExtension() {
				f.Add(byte(o.Type), o.Body)
			}
		}
	}
	f.Add(byte(ExtSignature), make([]byte, SignatureLen))
	for _, r := range sampleReplicas() {
		f.Add(byte(ExtReplicate), ReplicateOption(&r).Body)
	}
	f.Fuzz(func(t *testing.T, kind byte, body []byte) {
		switch OptType(kind) {
		case ExtSignature:
			if s, err := ParseSignature(body); err == nil {
				_ = s.Verify(SigInsert, &Trigger{})
			}
		case ExtError:
			if e, err := ParseError(body); err == nil {
				if got := ErrorOption(e).Body; !bytes.Equal(got, body) {
					t.Fatalf("error body round trip: %x -> %x", body, got)
				}
			}
		case ExtServerList:
			if addrs, err := ParseServerList(nil, body); err == nil {
				_ = ServerListOption(addrs)
			}
		case ExtReplicate:
			var r, r2 Replica
			if err := ParseReplicate(body, &r); err != nil {
				if !errors.Is(err, ErrExtBody) {
					t.Fatalf("error %v is not ErrExtBody", err)
				}
				return
			}
			enc := r.AppendTo(nil)
			if len(enc) != r.EncodedLen() || len(enc) != len(body) {
				t.Fatalf("replica body of %d bytes re-encodes to %d (EncodedLen %d)", len(body), len(enc), r.EncodedLen())
			}
			if err := ParseReplicate(enc, &r2); err != nil || r2 != r {
				t.Fatalf("replica round trip: %+v -> %+v (%v)", r, r2, err)
			}
		}
	})
}

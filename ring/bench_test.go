package ring

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/i3net/i3net/id"
)

// BenchmarkResponsible measures the per-packet lookup: the owner of a key in
// rings of 3 and 10 members (positions by hash, as by default).
func BenchmarkResponsible(b *testing.B) {
	benchRings(b, func(s *Snapshot, k id.Key128) int { return int(s.Responsible(k).Data.Port()) })
}

// BenchmarkOwnsAndSuccessors measures what a server does per packet and per
// replicated trigger: does it own the key, and who holds its replica.
func BenchmarkOwnsAndSuccessors(b *testing.B) {
	benchRings(b, func(s *Snapshot, k id.Key128) int {
		n := len(s.Successors(k, 2))
		if s.Owns(k) {
			n++
		}
		return n
	})
}

// benchRings times op on rings of 3 and 10 members, over 1024 random keys.
func benchRings(b *testing.B, op func(s *Snapshot, k id.Key128) int) {
	for _, n := range []int{3, 10} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			s := benchSnapshot(n)
			keys := make([]id.Key128, 1024)
			for i := range keys {
				keys[i] = id.Random().Key()
			}
			var sink int
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sink += op(s, keys[i&1023])
			}
			_ = sink
		})
	}
}

func benchSnapshot(n int) *Snapshot {
	var ms []Member
	for i := range n {
		data := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(i + 1)}), 5610)
		ms = append(ms, Member{Name: data.String(), Data: data, Position: DefaultPosition(data)})
	}
	return NewSnapshot(ms[0], ms, 1)
}

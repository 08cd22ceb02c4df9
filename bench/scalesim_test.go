package bench

import (
	"crypto/sha256"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"testing"

	"github.com/i3net/i3net/id"
	"github.com/i3net/i3net/ring"
)

// The simulated ring (issue 17): a thousand servers in process, no sockets,
// the same ownership code the servers run (ring.NewSnapshot,
// Snapshot.Responsible). Servers sit at their default positions, a hash of
// their data address; "virtual positions" (v > 1) give each server v
// positions, the first its default one and the others hashes of its address
// and an index, as members of the snapshot that share the server's data
// address. The ring has no virtual positions today: this measures what they
// would buy.
//
//	go test -run '^$' -bench 'ScaleRing' -benchtime 1x ./bench/

// simServers is the simulated ring's size; simKeys how many random ids the
// moved-ids counts look at.
const (
	simServers = 1000
	simKeys    = 1 << 20
)

// simAddr is the data address of simulated server i.
func simAddr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 5610)
}

// simMembers returns the ring members of servers (indices), v positions each.
func simMembers(servers []int, v int) []ring.Member {
	var ms []ring.Member
	for _, i := range servers {
		data := simAddr(i)
		for j := range v {
			pos := ring.DefaultPosition(data)
			if j > 0 {
				h := sha256.Sum256(fmt.Appendf(nil, "virtual %v %d", data, j))
				pos = id.Key128(h[:id.KeyLen])
			}
			ms = append(ms, ring.Member{Name: fmt.Sprintf("%v#%d", data, j), Data: data, Position: pos})
		}
	}
	return ms
}

func simSnapshot(servers []int, v int) *ring.Snapshot {
	return ring.NewSnapshot(ring.Member{}, simMembers(servers, v), 1)
}

// shares returns each server's share of the id space (fractions summing to
// 1), by data address: the arcs between consecutive positions.
func shares(s *ring.Snapshot) map[netip.AddrPort]float64 {
	ms := s.Members()
	space := new(big.Float).SetInt(new(big.Int).Lsh(big.NewInt(1), 128))
	out := map[netip.AddrPort]float64{}
	for i, m := range ms {
		prev := ms[(i+len(ms)-1)%len(ms)].Position
		arc := new(big.Int).Sub(new(big.Int).SetBytes(m.Position[:]), new(big.Int).SetBytes(prev[:]))
		if arc.Sign() <= 0 {
			arc.Add(arc, new(big.Int).Lsh(big.NewInt(1), 128))
		}
		f, _ := new(big.Float).Quo(new(big.Float).SetInt(arc), space).Float64()
		out[m.Data] += f
	}
	return out
}

// balance returns the largest and smallest share over the mean share.
func balance(s *ring.Snapshot) (maxMean, minMean float64) {
	sh := shares(s)
	mean := 1 / float64(len(sh))
	maxMean, minMean = 0, math.Inf(1)
	for _, f := range sh {
		maxMean, minMean = max(maxMean, f/mean), min(minMean, f/mean)
	}
	return maxMean, minMean
}

// moved returns the fraction of keys whose owner (data address) differs
// between a and b.
func moved(a, b *ring.Snapshot, keys []id.Key128) float64 {
	n := 0
	for _, k := range keys {
		if a.Responsible(k).Data != b.Responsible(k).Data {
			n++
		}
	}
	return float64(n) / float64(len(keys))
}

func simKeysOf(rng *rand.Rand, n int) []id.Key128 {
	keys := make([]id.Key128, n)
	for i := range keys {
		for j := range keys[i] {
			keys[i][j] = byte(rng.Uint32())
		}
	}
	return keys
}

// BenchmarkScaleRingBalance reports, for a ring of 1,000 servers with 1, 8,
// 64 and 256 positions per server: the largest and the smallest share of the
// id space over the mean, and the fraction of 1 M random ids whose owner
// changes when one server joins and when one leaves (mean of 10 each; the
// ideal is 1/1000), and the time a lookup takes in that ring.
func BenchmarkScaleRingBalance(b *testing.B) {
	rng := rand.New(rand.NewPCG(17, 1000))
	keys := simKeysOf(rng, simKeys)
	all := make([]int, simServers)
	for i := range all {
		all[i] = i
	}
	fmt.Fprintf(os.Stderr, "\n%d servers, %d random ids\npositions  max/mean  min/mean  moved/join  moved/leave  (ideal %.4f)\n", simServers, simKeys, 1.0/simServers)
	for _, v := range []int{1, 8, 64, 256} {
		base := simSnapshot(all, v)
		hi, lo := balance(base)
		var join, leave float64
		const trials = 10
		for t := range trials {
			joined := simSnapshot(append(slices.Clone(all), simServers+t), v)
			join += moved(base, joined, keys) / trials
			gone := rng.IntN(simServers)
			left := simSnapshot(slices.Delete(slices.Clone(all), gone, gone+1), v)
			leave += moved(base, left, keys) / trials
		}
		fmt.Fprintf(os.Stderr, "%9d  %8.2f  %8.3f  %10.5f  %11.5f\n", v, hi, lo, join, leave)
		b.ReportMetric(hi, fmt.Sprintf("max/mean-v%d", v))
		b.ReportMetric(join, fmt.Sprintf("moved/join-v%d", v))
		b.ReportMetric(leave, fmt.Sprintf("moved/leave-v%d", v))
	}
}

// BenchmarkScaleRingLookup is the per-packet lookup (Responsible, Owns,
// Successors for one replica) in rings of 10, 100 and 1,000 servers, and of
// 1,000 servers with 256 positions each (256,000 members).
func BenchmarkScaleRingLookup(b *testing.B) {
	rng := rand.New(rand.NewPCG(17, 1))
	keys := simKeysOf(rng, 4096)
	for _, c := range []struct{ n, v int }{{10, 1}, {100, 1}, {1000, 1}, {1000, 256}} {
		servers := make([]int, c.n)
		for i := range servers {
			servers[i] = i
		}
		ms := simMembers(servers, c.v)
		s := ring.NewSnapshot(ms[0], ms, 1)
		b.Run(fmt.Sprintf("servers=%d/positions=%d", c.n, c.v), func(b *testing.B) {
			var sink int
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				k := keys[i&4095]
				sink += int(s.Responsible(k).Data.Port()) + len(s.Successors(k, 2))
				if s.Owns(k) {
					sink++
				}
			}
			_ = sink
		})
	}
}

// BenchmarkScaleRingLoss reports the fraction of ids that lose their owner
// and every replica when k of n servers die at once, picked at random, for
// 0 to 3 replicas (mean of 100 draws over 1 M random ids): what a trigger
// risks until its host's next refresh inserts it again.
func BenchmarkScaleRingLoss(b *testing.B) {
	rng := rand.New(rand.NewPCG(17, 50))
	keys := simKeysOf(rng, simKeys/16)
	fmt.Fprintf(os.Stderr, "\nservers  killed  replicas  ids lost  draws with a loss\n")
	for _, c := range []struct{ n, k int }{{50, 10}, {1000, 10}, {1000, 100}} {
		all := make([]int, c.n)
		for i := range all {
			all[i] = i
		}
		s := simSnapshot(all, 1)
		for replicas := range 4 {
			const draws = 100
			var lost float64
			hit := 0
			for range draws {
				dead := map[netip.AddrPort]bool{}
				for _, i := range rng.Perm(c.n)[:c.k] {
					dead[simAddr(i)] = true
				}
				n := 0
				for _, k := range keys {
					if !slices.ContainsFunc(s.Successors(k, 1+replicas), func(m ring.Member) bool { return !dead[m.Data] }) {
						n++
					}
				}
				lost += float64(n) / float64(len(keys)) / draws
				if n > 0 {
					hit++
				}
			}
			fmt.Fprintf(os.Stderr, "%7d  %6d  %8d  %8.5f  %d%%\n", c.n, c.k, replicas, lost, hit)
			b.ReportMetric(lost, fmt.Sprintf("lost-n%d-k%d-r%d", c.n, c.k, replicas))
		}
	}
}

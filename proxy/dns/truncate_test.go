package dns

import (
	"fmt"
	"testing"

	mdns "github.com/miekg/dns"
)

// bigAnswer is an answer to q with n A records (about 16 bytes each,
// compressed).
func bigAnswer(t testing.TB, q []byte, n int) []byte {
	t.Helper()
	var req mdns.Msg
	if err := req.Unpack(q); err != nil {
		t.Fatal(err)
	}
	m := new(mdns.Msg)
	m.SetReply(&req)
	m.Compress = true
	for i := range n {
		rr, err := mdns.NewRR(fmt.Sprintf("%s 60 IN A 192.0.2.%d", req.Question[0].Name, i%250+1))
		if err != nil {
			t.Fatal(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(opt.UDPSize(), false)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFitUDP(t *testing.T) {
	plain := query(t, "big.example.", mdns.TypeA, false)
	edns := query(t, "big.example.", mdns.TypeA, true) // 1232 bytes
	tests := []struct {
		name    string
		query   []byte
		records int
		limit   int  // the size the answer must fit
		trunc   bool // TC expected
	}{
		{"small, no EDNS", plain, 5, 512, false},
		{"large, no EDNS", plain, 60, 512, true},
		{"large within EDNS", edns, 60, 1232, false},
		{"larger than EDNS", edns, 200, 1232, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full := bigAnswer(t, tt.query, tt.records)
			out := FitUDP(tt.query, full)
			if len(out) > tt.limit {
				t.Fatalf("%d bytes over UDP, limit %d", len(out), tt.limit)
			}
			m := answerOf(t, out)
			if m.Truncated != tt.trunc {
				t.Fatalf("TC=%v for a %d-byte answer, limit %d; want %v", m.Truncated, len(full), tt.limit, tt.trunc)
			}
			if !tt.trunc && string(out) != string(full) {
				t.Fatal("an answer that fits was changed")
			}
			q := answerOf(t, tt.query)
			if m.Id != q.Id || len(m.Question) != 1 || m.Question[0] != q.Question[0] {
				t.Fatalf("truncated answer lost the id or question: %v", m)
			}
			if (q.IsEdns0() != nil) != (m.IsEdns0() != nil) {
				t.Fatalf("EDNS0 record: query %v, answer %v", q.IsEdns0() != nil, m.IsEdns0() != nil)
			}
		})
	}
}

// TestFitUDPUnparsable: an upstream answer that does not parse, too large
// for UDP, is cut to its header with TC set rather than sent whole.
func TestFitUDPUnparsable(t *testing.T) {
	q := query(t, "big.example.", mdns.TypeA, false)
	junk := make([]byte, 700)
	copy(junk, q[:headerLen])
	junk[2] |= 0x80
	junk[7] = 0xff // 255 answers that are not there
	out := FitUDP(q, junk)
	if len(out) != headerLen || out[2]&0x02 == 0 || out[0] != q[0] || out[1] != q[1] {
		t.Fatalf("FitUDP(junk) = %x", out)
	}
}

// TestFitUDPSmallAllocatesNothing: the common case (an answer within 512
// bytes) costs a length check.
func TestFitUDPSmallAllocatesNothing(t *testing.T) {
	q := query(t, "home.i3.", mdns.TypeA, true)
	resp := bigAnswer(t, q, 2)
	if n := testing.AllocsPerRun(100, func() { FitUDP(q, resp) }); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}

func TestUDPLimit(t *testing.T) {
	big := new(mdns.Msg)
	big.SetQuestion("x.", mdns.TypeA)
	big.SetEdns0(4096, false)
	bb, _ := big.Pack()
	small := new(mdns.Msg)
	small.SetQuestion("x.", mdns.TypeA)
	small.SetEdns0(100, false)
	sb, _ := small.Pack()
	for _, tt := range []struct {
		q    []byte
		want int
	}{
		{query(t, "x.", mdns.TypeA, false), 512},
		{query(t, "x.", mdns.TypeA, true), 1232},
		{bb, 4096},
		{sb, 512},
		{[]byte{1, 2, 3}, 512},
	} {
		if got := UDPLimit(tt.q); got != tt.want {
			t.Errorf("UDPLimit(%x) = %d, want %d", tt.q, got, tt.want)
		}
	}
}

// FuzzFitUDP feeds arbitrary (query, answer) pairs to FitUDP, which reads
// both a program's query and an upstream's answer: no panic; the result fits
// what the query allows over UDP (an answer already within 512 bytes is
// returned as it is); a cut answer keeps the answer's id and has TC set.
func FuzzFitUDP(f *testing.F) {
	plain := query(f, "big.example.", mdns.TypeA, false)
	edns := query(f, "big.example.", mdns.TypeA, true)
	f.Add(plain, bigAnswer(f, plain, 60))
	f.Add(edns, bigAnswer(f, edns, 200))
	f.Add(edns, bigAnswer(f, edns, 3))
	f.Add([]byte{}, make([]byte, 600))
	f.Fuzz(func(t *testing.T, q, resp []byte) {
		out := FitUDP(q, resp)
		if len(resp) <= MinUDPSize {
			if len(out) != len(resp) || (len(out) > 0 && &out[0] != &resp[0]) {
				t.Fatal("an answer within 512 bytes was changed")
			}
			return
		}
		limit := UDPLimit(q)
		if len(out) > limit {
			t.Fatalf("%d bytes out, limit %d", len(out), limit)
		}
		if len(resp) <= limit {
			return
		}
		if len(out) < headerLen || out[0] != resp[0] || out[1] != resp[1] || out[2]&0x02 == 0 {
			t.Fatalf("cut answer %x lost the id or TC", out)
		}
	})
}

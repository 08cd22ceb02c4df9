package udpgso

import (
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// TestRxTime: with arrival stamps on, every datagram read, the segments of a
// coalesced receive included, carries its arrival time in control space of
// RxTimeSpace bytes, between the send and the read.
func TestRxTime(t *testing.T) {
	tx, rx, to, _, rxc := pair(t)
	if !EnableRxTime(rxc) {
		t.Skip("no arrival stamps on this system")
	}
	before := time.Now().UnixNano()
	var out []ipv4.Message
	for i := range 20 {
		out = append(out, ipv4.Message{Buffers: datagram(i, 1000), Addr: to})
	}
	if n, err := tx.WriteBatch(out, 0); err != nil || n != len(out) {
		t.Fatalf("WriteBatch: %d of %d, %v", n, len(out), err)
	}
	ms := make([]ipv4.Message, 7)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, 2048)}
		ms[i].OOB = make([]byte, RxTimeSpace)
	}
	deadline := time.Now().Add(5 * time.Second)
	for got := 0; got < len(out); {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d", got, len(out))
		}
		k, err := rx.ReadBatch(ms, 0)
		if err != nil {
			t.Fatal(err)
		}
		read := time.Now().UnixNano()
		for _, m := range ms[:k] {
			at, ok := RxTime(m.OOB[:m.NN])
			if !ok {
				t.Fatalf("datagram %d: no arrival time in %d bytes of control data", got, m.NN)
			}
			if at < before || at > read {
				t.Fatalf("datagram %d arrived at %d, outside [%d, %d]", got, at, before, read)
			}
			got++
		}
	}
	if _, gro := rx.Offloads(); gro && rx.Stats().Split == 0 {
		t.Logf("nothing arrived coalesced: the GRO case was not exercised")
	}
}

func TestRxTimeMissing(t *testing.T) {
	if _, ok := RxTime(nil); ok {
		t.Error("arrival time found in no control data")
	}
	if _, ok := RxTime(make([]byte, 64)); ok {
		t.Error("arrival time found in zeroed control data")
	}
}

package server

import (
	"bytes"
	"testing"

	"github.com/i3net/i3net/wire"
	"github.com/i3net/i3net/wire/wiretest"
)

// vectorsFile holds the datagrams captured from the original Berkeley i3
// programs (a copy of shared/i3-wire/original-vectors.txt).
const vectorsFile = "../wire/testdata/original-vectors.txt"

// loadVectors returns the captured datagrams by the line of the file they are on.
func loadVectors(t testing.TB) map[int][]byte {
	t.Helper()
	vs := map[int][]byte{}
	for _, v := range wiretest.LoadVectors(t, vectorsFile) {
		vs[v.Line] = v.B
	}
	return vs
}

// vector decodes the datagram on line n and checks that it re-encodes to
// itself, so that a patched copy differs only where it is patched.
func vector(t *testing.T, vs map[int][]byte, n int) *wire.Packet {
	t.Helper()
	var p wire.Packet
	if err := p.Decode(vs[n]); err != nil {
		t.Fatalf("vector on line %d: %v", n, err)
	}
	if !bytes.Equal(p.AppendTo(nil), vs[n]) {
		t.Fatalf("vector on line %d does not re-encode to itself", n)
	}
	return &p
}

// TestOriginalConversation replays what an original i3 proxy (receiver, port
// 20001) and another (sender, port 20000) exchanged with the original server,
// with their addresses patched to the test's sockets, and checks that our server
// answers byte for byte as the original did, except for what must differ: the
// nonce (ours is a MAC, the original's was the address), the junk the
// original left in the nonce of CACHE_ADDR (we send zeros), and the
// challenge's CACHE_ADDR, which ours leaves out (no amplification).
//
// The original proxy's "private" id db7c02ce510846a3… has the public bit (byte
// 7, bit 0) set: original hosts pick ids without regard to it, so about half of
// their ids look public, and a server must run with RequireSignedPublic off
// (--allow-unsigned-public) to serve them.
func TestOriginalConversation(t *testing.T) {
	vs := loadVectors(t)
	srv := startServer(t, func(c *Config) { c.RequireSignedPublic = false })
	server := srv.Addr()
	recv, send := newHost(t), newHost(t)

	// Line 68: the receiver inserts its private trigger db7c… with a zero nonce.
	ins := vector(t, vs, 68)
	ins.Option(wire.OptSender).Addr = wire.IPAddr(recv.addr)
	trig := &ins.Option(wire.OptTriggerInsert).Trigger
	if trig.Nonce != [wire.NonceLen]byte{} {
		t.Fatal("line 68 should carry a zero nonce")
	}
	trig.Target = wire.IPAddr(recv.addr)
	recv.send(server, ins)

	// Line 75: CHALLENGE + CACHE_ADDR, to the trigger's target. Ours leaves
	// CACHE_ADDR out: with it, the 155-byte answer to a 120-byte request
	// would amplify a spoofed insertion toward its target (control.go).
	got := recv.recvRaw()
	var ch wire.Packet
	if err := ch.Decode(got); err != nil {
		t.Fatalf("challenge: %v", err)
	}
	if ch.Flags != wire.FlagOptions || ch.Stack.N != 0 || len(ch.Options) != 1 ||
		ch.Options[0].Type != wire.OptTriggerChallenge {
		t.Fatalf("challenge: %s", describe(&ch))
	}
	if len(got) > len(vs[68]) {
		t.Fatalf("challenge of %d bytes answers an insertion of %d", len(got), len(vs[68]))
	}
	nonce := ch.Options[0].Trigger.Nonce
	if nonce == [wire.NonceLen]byte{} {
		t.Fatal("challenge carries a zero nonce")
	}
	want := vector(t, vs, 75)
	want.Options = want.Options[:1]
	want.Options[0].Trigger.Target = wire.IPAddr(recv.addr)
	want.Options[0].Trigger.Nonce = nonce
	if w := want.AppendTo(nil); !bytes.Equal(got, w) {
		t.Fatalf("challenge differs from the original's (line 75)\n got %x\nwant %x", got, w)
	}

	// Line 83: the insertion again, with the nonce; line 90: ACK + CACHE_ADDR.
	ins2 := vector(t, vs, 83)
	ins2.Option(wire.OptSender).Addr = wire.IPAddr(recv.addr)
	ins2.Option(wire.OptTriggerInsert).Trigger.Target = wire.IPAddr(recv.addr)
	ins2.Option(wire.OptTriggerInsert).Trigger.Nonce = nonce
	recv.send(server, ins2)
	got = recv.recvRaw()
	want = vector(t, vs, 90)
	want.Options[0].Trigger.Target = wire.IPAddr(recv.addr)
	want.Options[0].Trigger.Nonce = nonce
	want.Options[1].Trigger.Target = wire.IPAddr(server)
	if w := want.AppendTo(nil); !bytes.Equal(got, w) {
		t.Fatalf("ack differs from the original's (line 90)\n got %x\nwant %x", got, w)
	}

	// Line 158: the sender's first data packet, with SENDER and
	// REQUEST_FOR_CACHE; line 164: CACHE_ADDR to the sender.
	data := vector(t, vs, 158)
	data.Option(wire.OptSender).Addr = wire.IPAddr(send.addr)
	send.send(server, data)
	got = send.recvRaw()
	want = vector(t, vs, 164)
	want.Options[0].Trigger.Target = wire.IPAddr(server)
	want.Options[0].Trigger.Nonce = [wire.NonceLen]byte{}
	if w := want.AppendTo(nil); !bytes.Equal(got, w) {
		t.Fatalf("cache reply differs from the original's (line 164)\n got %x\nwant %x", got, w)
	}

	// Line 169: the receiver gets exactly what the original server delivered:
	// the matched id as the only stack entry, no options, the payload intact.
	if got := recv.recvRaw(); !bytes.Equal(got, vs[169]) {
		t.Fatalf("delivered packet differs from the original's (line 169)\n got %x\nwant %x", got, vs[169])
	}

	st := srv.Stats()
	if st.Challenges != 1 || st.Acks != 1 || st.Installed != 1 || st.Delivered != 1 || st.CacheReplies != 1 {
		t.Errorf("stats %+v", st)
	}
}
